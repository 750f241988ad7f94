/**
 * Throwaway local Temporal servers for the demo, the tests and the benchmark: never used by the worker in production.
 */
import { accessSync, constants } from 'node:fs';
import type { DataConverter } from '@temporalio/common';
import { createServer } from 'node:net';
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

export interface LocalTemporalOptions {
  port?: number;
  extraArgs?: string[];
  dbFilename?: string;
  /**
   * Serve the Temporal UI on this port of 127.0.0.1 (`uiUrl` answers where). Without it the server runs headless.
   * @default undefined
   */
  uiPort?: number;
  /** The data converter of the environment's client (payload encryption). */
  dataConverter?: DataConverter;
}

/**
 * A throwaway local Temporal server for the demo and tests: the installed Temporal CLI when there is one (it cannot be
 * downloaded everywhere), else the SDK's own download of it.
 */
export async function startLocalTemporal(options: LocalTemporalOptions = {}) {
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const cli = findTemporalCli();
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: cli ? { type: 'existing-path', path: cli } : { type: 'cached-download' },
      ip: '127.0.0.1',
      port: options.port,
      dbFilename: options.dbFilename,
      ui: options.uiPort !== undefined,
      uiPort: options.uiPort,
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

/** The Temporal UI's page of one workflow, as a dev server's UI on `uiPort` serves it. */
export function workflowUiUrl(uiPort: number, workflowId: string, namespace = 'default'): string {
  return `${uiBaseUrl(uiPort)}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

export function uiBaseUrl(uiPort: number): string {
  return `http://127.0.0.1:${uiPort}`;
}

/** A port of 127.0.0.1 that nothing listens on right now, for a dev server's UI. */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
