import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer } from 'node:net';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, DefaultLogger, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { CitrixClient } from '../src/citrix';
import { DEFAULT_SEED, type RecordedRequest, type RunningSimulator, type SimulatorSeed } from '../src/simulator';
import type { CatalogUpdateStatus } from '../src/shared';
import { statusQuery } from '../src/workflows';

export function citrixFor(
  simulator: RunningSimulator,
  overrides: Partial<ConstructorParameters<typeof CitrixClient>[0]> = {},
) {
  return new CitrixClient({
    ...simulator.clientOptions(),
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

/**
 * The environment of a worker or starter process in a test: this process's own, plus what reaches the simulator and
 * the Temporal server at `address` on `taskQueue`, plus `extra`.
 */
export function processEnvFor(
  simulator: RunningSimulator,
  address: string,
  taskQueue: string,
  extra: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    ...process.env,
    ...citrixEnvFor(simulator),
    TEMPORAL_ADDRESS: address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    ...extra,
  };
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** Bundling takes about a second: do it once per test file. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: require.resolve('../src/workflows'), logger: quietLogger });
  return bundle;
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

/**
 * Accepted `$updateImage` posts: the number that must never exceed one per update. It counts the posts whose answer an
 * `acceptThen…` fault withheld, since Citrix acted on them all the same.
 */
export function acceptedPosts(simulator: RunningSimulator, catalogId?: string): number {
  return simulator
    .requests()
    .filter(
      (r) =>
        r.operation === 'updateImage' &&
        (r.status === 202 || r.withheldStatus === 202) &&
        (!catalogId || r.path.toLowerCase().includes(catalogId.toLowerCase())),
    ).length;
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

/** Log lines of the SDK's runtime (in-process workers: workflow and activity logs), kept for the secrets check. */
export const capturedLogLines: string[] = [];

/** Like `quietTemporalLogs`, but keeps every line from INFO up in `capturedLogLines` instead of printing it. */
export function captureTemporalLogs(): void {
  try {
    Runtime.install({
      logger: new DefaultLogger('INFO', (entry) => {
        capturedLogLines.push(`${entry.level} ${entry.message} ${safeJson(entry.meta)}`);
      }),
    });
  } catch {
    // Already installed by an earlier call in this process.
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => (v instanceof Error ? `${v.name}: ${v.message} ${v.stack}` : v));
  } catch {
    return String(value);
  }
}

/**
 * Collects the secrets a run handed out (the client secret, every bearer token the simulator issued, across resets)
 * and checks that none of them shows up in any text: histories, log lines, error messages, process output.
 */
export class SecretWatch {
  private readonly tokens = new Set<string>();
  private readonly texts: { what: string; text: string }[] = [];

  constructor(private readonly simulators: () => RunningSimulator[]) {}

  /** Call before `simulator.reset()`: the simulator forgets its tokens on reset. */
  collectTokens(): void {
    for (const simulator of this.simulators()) for (const token of simulator.issuedTokens()) this.tokens.add(token);
  }

  /** Keeps a text to check at the end (an error message, a process's output). */
  keep(what: string, text: string): void {
    this.texts.push({ what, text });
  }

  keepError(what: string, error: unknown): void {
    if (error instanceof Error) {
      this.keep(what, `${error.name}: ${error.message}\n${error.stack}\n${safeJson(error)}`);
      if (error.cause) this.keepError(`${what} (cause)`, error.cause);
    } else this.keep(what, safeJson(error));
  }

  /** Throws naming where a secret was found. Returns how many texts and tokens were checked. */
  assertNoSecrets(more: { what: string; text: string }[] = []): { texts: number; tokens: number; chars: number } {
    this.collectTokens();
    const secrets = new Set(this.simulators().map((simulator) => simulator.clientSecret));
    const all = [...this.texts, ...more, { what: 'runtime log', text: capturedLogLines.join('\n') }];
    for (const { what, text } of all) {
      for (const secret of secrets) {
        if (text.includes(secret)) throw new Error(`the client secret appears in ${what}`);
      }
      for (const token of this.tokens) {
        if (text.includes(token)) throw new Error(`a bearer token appears in ${what}`);
      }
    }
    return { texts: all.length, tokens: this.tokens.size, chars: all.reduce((n, { text }) => n + text.length, 0) };
  }
}

/** Every history on the server as JSON text, for the secrets check. */
export async function historiesAsJson(client: Client): Promise<{ what: string; text: string }[]> {
  const texts: { what: string; text: string }[] = [];
  for await (const execution of client.workflow.list()) {
    const history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
    texts.push({ what: `history of ${execution.workflowId}/${execution.runId}`, text: historyToJSON(history) });
  }
  return texts;
}

/** `npm run test:chaos` sets CHAOS_FULL=1 for the full counts; CI runs the reduced ones. */
export function chaosCount(reduced: number, full: number): number {
  const override = Number(process.env.CHAOS_COUNT);
  if (Number.isInteger(override) && override > 0) return override;
  return process.env.CHAOS_FULL === '1' ? full : reduced;
}

/** One row of the figures the fault suite prints: how many runs were tried and how many ended as they must. */
export interface FigureRow {
  row: string;
  tried: number;
  endedCorrectly: number;
  duplicatePosts: number;
  note?: string;
}

const figureRows: FigureRow[] = [];

/** Records a row; `CHAOS_REPORT` (set by `npm run test:chaos`) names a JSON-lines file that collects them all. */
export function recordFigures(row: FigureRow): void {
  figureRows.push(row);
  const file = process.env.CHAOS_REPORT;
  if (file) appendFileSync(file, `${JSON.stringify(row)}\n`);
}

export function formatFigures(rows: FigureRow[]): string {
  const header = ['row', 'tried', 'ended correctly', 'duplicate posts', 'note'];
  const table = [header, ...rows.map((r) => [r.row, r.tried, r.endedCorrectly, r.duplicatePosts, r.note ?? ''])];
  const widths = header.map((_, i) => Math.max(...table.map((cells) => String(cells[i]).length)));
  return table
    .map((cells) => cells.map((cell, i) => String(cell).padEnd(i === 4 ? 0 : widths[i]!)).join('  '))
    .join('\n')
    .replace(/ +$/gm, '');
}

/** Prints this file's rows (call from `after`). */
export function printFigures(): void {
  if (figureRows.length) console.log(`\n${formatFigures(figureRows)}\n`);
}

/** How long, in ms, passed between the first request matching `isFault` and the next request matching `isNext`. */
export function waitedAfter(
  requests: RecordedRequest[],
  isFault: (r: RecordedRequest) => boolean,
  isNext: (r: RecordedRequest) => boolean = () => true,
): number | undefined {
  const at = requests.findIndex(isFault);
  if (at < 0) return undefined;
  const faulted = requests[at]!;
  const next = requests.slice(at + 1).find(isNext);
  if (!next) return undefined;
  return Date.parse(next.time) - (Date.parse(faulted.time) + faulted.durationMs);
}

/** The default data set with `count` Active catalogs ("Pool 001", …) in place of the named ones. */
export function seedWithCatalogs(count: number): SimulatorSeed {
  const template = DEFAULT_SEED.catalogs[0]!;
  const catalogs = Array.from({ length: count }, (_, i) => ({
    ...template,
    id: `ca7a10c0-0000-4000-b000-${String(i + 1).padStart(12, '0')}`,
    name: `Pool ${String(i + 1).padStart(3, '0')}`,
  }));
  return { ...DEFAULT_SEED, catalogs };
}

const ROOT = resolve(__dirname, '..');

/** A worker started as an operator starts it: its own process, configured by environment variables. */
export async function spawnWorker(
  env: Record<string, string | undefined>,
  onOutput: (text: string) => void,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolvePromise, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk;
      onOutput(String(chunk));
      if (output.includes('worker started')) resolvePromise();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it started:\n${output}`)));
  });
  return child;
}

/** SIGKILL, and wait until the process is gone. */
export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** Runs `src/starter.ts` with the arguments and environment given. */
export async function runStarter(
  args: string[],
  env: Record<string, string | undefined>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/starter.ts', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}
