import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { workflowInterceptorModules } from '../../src/observability';

const quietLogger = {
  log() {},
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
};

const bundles = new Map<string | undefined, Promise<WorkflowBundleWithSourceMap>>();
/** Bundling takes about a second: do it once per test file (and failure converter, for encrypted failures). */
export function workflowBundle(failureConverterPath?: string): Promise<WorkflowBundleWithSourceMap> {
  let bundle = bundles.get(failureConverterPath);
  if (!bundle) {
    bundle = bundleWorkflowCode({
      workflowsPath: require.resolve('../../src/workflows'),
      failureConverterPath,
      logger: quietLogger,
    });
    bundles.set(failureConverterPath, bundle);
  }
  return bundle;
}

let productionBundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** The bundle as `npm run build` makes it: with the observability interceptors, OpenTelemetry's included. */
export function productionWorkflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  productionBundle ??= bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    workflowInterceptorModules,
    logger: quietLogger,
  });
  return productionBundle;
}

let bundleFile: Promise<string> | undefined;
/**
 * The same bundle as a file, for worker processes (`WORKFLOW_BUNDLE_PATH`), written once per test file and removed
 * when the test file's process exits.
 */
export function workflowBundleFile(): Promise<string> {
  bundleFile ??= workflowBundle().then(({ code }) => {
    const dir = mkdtempSync(join(tmpdir(), 'catalog-rollout-bundle-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'workflow-bundle.js');
    writeFileSync(file, code);
    return file;
  });
  return bundleFile;
}
