import { createServer } from 'node:net';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { bundleWorkflowCode, DefaultLogger, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { CitrixClient } from '../src/citrix';
import type { RunningSimulator } from '../src/simulator';
import type { CatalogUpdateStatus } from '../src/shared';
import { statusQuery } from '../src/workflows';

export function citrixFor(
  simulator: RunningSimulator,
  overrides: Partial<ConstructorParameters<typeof CitrixClient>[0]> = {},
) {
  return new CitrixClient({
    customerId: simulator.customerId,
    clientId: simulator.clientId,
    clientSecret: simulator.clientSecret,
    apiBaseUrl: simulator.baseUrl,
    tokenUrl: simulator.tokenUrl,
    requestTimeoutMs: 5_000,
    ...overrides,
  });
}

/** The environment a worker child process needs to reach this simulator. */
export function citrixEnvFor(simulator: RunningSimulator): Record<string, string> {
  return {
    CITRIX_CUSTOMER_ID: simulator.customerId,
    CITRIX_CLIENT_ID: simulator.clientId,
    CITRIX_CLIENT_SECRET: simulator.clientSecret,
    CITRIX_API_BASE_URL: simulator.baseUrl,
    CITRIX_TOKEN_URL: simulator.tokenUrl,
    CITRIX_REQUEST_TIMEOUT_MS: '5000',
  };
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** Bundling takes about a second: do it once per test file. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: require.resolve('../src/workflows'), logger: quietLogger });
  return bundle;
}

const quietLogger = {
  log() {},
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
};

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

export async function statusOf(handle: WorkflowHandle): Promise<CatalogUpdateStatus | undefined> {
  return handle.query(statusQuery).catch(() => undefined);
}

/** The ApplicationFailure a workflow failed with. */
export async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure) return error.cause;
    throw error;
  }
  throw new Error('expected the workflow to fail, but it completed');
}

/** Accepted `$updateImage` posts: the number that must never exceed one per update. */
export function acceptedPosts(simulator: RunningSimulator, catalogId?: string): number {
  return simulator
    .requests()
    .filter((r) => r.operation === 'updateImage' && r.status === 202 && (!catalogId || r.path.includes(catalogId)))
    .length;
}

export async function historiesOf(client: Client, query?: string): Promise<string[]> {
  const histories: string[] = [];
  for await (const execution of client.workflow.list(query ? { query } : undefined)) {
    const history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
    histories.push(JSON.stringify(history));
  }
  return histories;
}

/** Test output shows failures, not the SDK's info logs. */
export function quietTemporalLogs(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed by an earlier call in this process.
  }
}
