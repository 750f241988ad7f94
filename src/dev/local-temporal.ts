/**
 * Throwaway local Temporal servers for the demo, the tests and the benchmark: never used by the worker in production.
 */
import { accessSync, constants } from 'node:fs';
import type { DataConverter } from '@temporalio/common';
import { delimiter, join } from 'node:path';
import { SearchAttributes } from '../shared/rollout';

/** The Temporal CLI to run a local dev server with: `TEMPORAL_CLI_PATH`, else `temporal` on PATH. */
export function findTemporalCli(env = process.env): string | undefined {
  return env.TEMPORAL_CLI_PATH || findOnPath('temporal', env);
}

/** Temporal's time-skipping test server: `TEMPORAL_TEST_SERVER_PATH`, else `temporal-test-server` on PATH. */
export function findTemporalTestServer(env = process.env): string | undefined {
  return env.TEMPORAL_TEST_SERVER_PATH || findOnPath('temporal-test-server', env);
}

function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * A throwaway local Temporal server for the demo and tests: the installed Temporal CLI when there is one (it cannot be
 * downloaded everywhere), else the SDK's own download of it.
 */
export async function startLocalTemporal(
  options: { port?: number; extraArgs?: string[]; dbFilename?: string; dataConverter?: DataConverter } = {},
) {
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const cli = findTemporalCli();
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: cli ? { type: 'existing-path', path: cli } : { type: 'cached-download' },
      ip: '127.0.0.1',
      port: options.port,
      dbFilename: options.dbFilename,
      extraArgs: options.extraArgs,
      searchAttributes: Object.values(SearchAttributes),
    },
    client: { dataConverter: options.dataConverter },
  });
}

/** Temporal's time-skipping test server, installed or downloaded, for waits of hours that must take seconds. */
export async function startTimeSkippingTemporal() {
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const testServer = findTemporalTestServer();
  return TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: testServer ? { type: 'existing-path', path: testServer } : { type: 'cached-download' } },
  });
}
