/**
 * Bundles the workflow code once, so that production workers start without webpack (WORKFLOW_BUNDLE_PATH): one bundle
 * as it is, and one whose failures are encoded for payload encryption (PAYLOAD_CODEC_KEYS_FILE needs that one).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { ENCODING_FAILURE_CONVERTER_PATH } from '../src/codec';
import { workflowInterceptorModules } from '../src/observability';

const BUNDLES = [
  { file: 'workflow-bundle.js', failureConverterPath: undefined },
  { file: 'workflow-bundle-encrypted.js', failureConverterPath: ENCODING_FAILURE_CONVERTER_PATH },
];

async function main(): Promise<void> {
  for (const { file, failureConverterPath } of BUNDLES) {
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('../src/workflows'),
      workflowInterceptorModules,
      failureConverterPath,
    });
    const out = path.resolve(__dirname, '..', file);
    await writeFile(out, code);
    console.log(`workflow bundle written to ${out} (${(code.length / 1024).toFixed(0)} KiB)`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
