/** How settings are read and checked, shared by every part of the configuration. */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`configuration is incomplete or wrong:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
  }
}

export const emptyAsUndefined = (value: unknown) => (value === '' ? undefined : value);
export const optionalString = z.preprocess(emptyAsUndefined, z.string().optional());

/** `undefined` when unset, so that an explicit "false" can be told from no answer. */
export const bool = z.preprocess(
  emptyAsUndefined,
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
    .optional()
    .transform((value) => (value === undefined ? undefined : value === 'true' || value === '1' || value === 'yes')),
);

export function issuesOf(error: z.ZodError): string[] {
  return error.issues.map((issue) =>
    issue.message.includes(String(issue.path[0])) ? issue.message : `${issue.path.join('.')}: ${issue.message}`,
  );
}

/** The file's bytes, or a problem naming the setting that points at it. */
export function readFileOrProblem(path: string, setting: string, problems: string[]): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (error) {
    problems.push(`${setting}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? error})`);
    return undefined;
  }
}
