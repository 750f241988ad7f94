import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { SEED_IDS, type RunningSimulator } from '../src/simulator';
import { startCatalogUpdate } from '../src/client';
import {
  acceptedPosts,
  processEnvFor,
  eventually,
  statusOf,
  workflowBundleFile,
  quietTemporalLogs,
  runStarter,
  spawnWorker,
  startStack,
  type TestStack,
} from './helpers';

quietTemporalLogs();

const TASK_QUEUE = 'processes-test';

describe('the worker and the starter as the processes an operator runs', () => {
  let stack: TestStack;
  let simulator: RunningSimulator;
  let bundlePath: string;
  const workers: ChildProcess[] = [];
  let workerOutput = '';
  const issuedTokens = new Set<string>();

  before(async () => {
    [stack, bundlePath] = await Promise.all([
      startStack({ taskQueue: TASK_QUEUE, simulator: { updateDurationMs: 8_000, acceptLagMs: 300 }, worker: false }),
      workflowBundleFile(),
    ]);
    ({ simulator } = stack);
  });

  after(async () => {
    for (const worker of workers) if (worker.exitCode === null) worker.kill('SIGKILL');
    await stack?.stop();
  });

  /** The simulator forgets its tokens on reset: keep every one issued, for the log check at the end. */
  function resetSimulator(): void {
    for (const token of simulator.issuedTokens()) issuedTokens.add(token);
    simulator.reset();
  }

  const processEnv = () =>
    processEnvFor(simulator, stack.address, TASK_QUEUE, {
      WORKFLOW_BUNDLE_PATH: bundlePath,
      CITRIX_POST_RETRY_SETTLE_MS: '1000',
      WORKER_SHUTDOWN_GRACE_MS: '2000',
    });

  /** A worker started as an operator would start it: its own process, configured by environment variables. */
  async function startWorkerProcess(): Promise<ChildProcess> {
    const child = await spawnWorker(processEnv(), (text) => (workerOutput += text));
    workers.push(child);
    return child;
  }

  test('a worker killed with SIGKILL mid-wait is replaced and the update completes with one post', async () => {
    const first = await startWorkerProcess();
    const { handle } = await startCatalogUpdate(stack.env.client, TASK_QUEUE, {
      catalogId: SEED_IDS.catalogs.finance,
      imageId: SEED_IDS.images.win11Nov,
      pollIntervalMs: 1_000,
    });
    await eventually(
      async () => {
        const status = await statusOf(handle);
        return status?.phase === 'waiting' && status.catalogState === 'Processing' ? status : undefined;
      },
      15_000,
      'the update to be Processing',
    );

    first.kill('SIGKILL');
    await once(first, 'exit');
    const second = await startWorkerProcess();

    const result = await handle.result();
    assert.equal(result.outcome, 'imageAssigned');
    assert.equal(acceptedPosts(simulator), 1);

    second.kill('SIGTERM');
    const [code] = await once(second, 'exit');
    assert.equal(code, 0, 'SIGTERM shuts the worker down cleanly');
    for (const token of simulator.issuedTokens()) issuedTokens.add(token);
  });

  const starter = (...args: string[]) => runStarter(args, processEnv());

  test('the starter starts an update, follows it with --wait --json and reports it with status', async () => {
    resetSimulator();
    const worker = await startWorkerProcess();
    const { catalogs, images } = SEED_IDS;
    const started = await starter(
      'start',
      '--catalog',
      catalogs.sales,
      '--image',
      images.win11Dec,
      '--poll-interval',
      '1s',
      '--wait',
      '--json',
    );
    assert.equal(started.code, 0, started.stderr);
    const events = started.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.equal(events[0].event, 'started');
    assert.ok(
      events.some((e) => e.event === 'status' && e.catalogState === 'Processing'),
      'progress lines were printed',
    );
    const result = events.at(-1);
    assert.equal(result.event, 'result');
    assert.equal(result.outcome, 'imageAssigned');

    const status = await starter('status', catalogs.sales, '--json');
    assert.equal(status.code, 0, status.stderr);
    const report = JSON.parse(status.stdout);
    assert.equal(report.workflowStatus, 'COMPLETED');
    assert.equal(report.status.phase, 'succeeded');
    assert.equal(acceptedPosts(simulator), 1);

    worker.kill('SIGTERM');
    await once(worker, 'exit');
  });

  test('the starter refuses bad input with exit code 2 before contacting anything', async () => {
    resetSimulator();
    const result = await starter(
      'start',
      '--catalog',
      'Finance',
      '--image',
      SEED_IDS.images.win11Nov,
      '--vda-update-delay',
      '-5',
    );
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--catalog must be a catalog GUID/);
    assert.match(result.stderr, /--vda-update-delay must be/);
    assert.equal(simulator.requests().length, 0);
  });

  test('no worker log line holds the client secret or a bearer token', () => {
    for (const token of simulator.issuedTokens()) issuedTokens.add(token);
    assert.ok(workerOutput.includes('worker started'), 'the workers logged');
    assert.ok(issuedTokens.size > 0);
    assert.ok(!workerOutput.includes(simulator.clientSecret), 'client secret found in the worker log');
    for (const token of issuedTokens) assert.ok(!workerOutput.includes(token), 'bearer token found in the worker log');
  });
});
