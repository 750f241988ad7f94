// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import { builtinModules } from 'node:module';

export default tseslint.config(
  { ignores: ['lib/', 'node_modules/', 'eslint.config.mjs'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's describe/test return promises that the runner itself awaits.
        { allowForKnownSafeCalls: [{ from: 'package', name: ['describe', 'test', 'it'], package: 'node:test' }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no I/O, no Node built-ins, no HTTP client, nothing heavy.
    files: ['src/workflows/**/*.ts', 'src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...[...builtinModules, ...builtinModules.map((m) => `node:${m}`), 'undici'].map((name) => ({
              name,
              message: 'Workflow code must stay deterministic: do I/O in an activity instead.',
            })),
            {
              name: 'zod',
              message:
                'Every workflow evaluates its imports in its own sandbox: a schema library costs each cached workflow ' +
                'about a megabyte (docs/performance.md). Use the rules in src/shared/validation.ts.',
            },
          ],
        },
      ],
    },
  },
  prettier,
);
