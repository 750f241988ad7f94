import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEED_IDS, startSimulator, type RunningSimulator } from '../src/simulator';
import { startCatalogUpdate } from '../src/starter';
import { startLocalTemporal } from '../src/temporal';
import {
  acceptedPosts,
  citrixEnvFor,
  eventually,
  freePort,
  statusOf,
  workflowBundle,
  quietTemporalLogs,
} from './helpers';

quietTemporalLogs();

const TASK_QUEUE = 'worker-crash-test';
const ROOT = path.resolve(__dirname, '..');

describe('a worker process that dies mid-update', () => {
  let env: TestWorkflowEnvironment;
  let simulator: RunningSimulator;
  let address: string;
  let bundleDir: string;
  let bundlePath: string;
  const workers: ChildProcess[] = [];

  before(async () => {
    const port = await freePort();
    address = `127.0.0.1:${port}`;
    const [started, sim, bundle] = await Promise.all([
      startLocalTemporal({ port }),
      startSimulator({ updateDurationMs: 8_000, acceptLagMs: 300 }),
      workflowBundle(),
    ]);
    env = started;
    simulator = sim;
    bundleDir = await mkdtemp(path.join(tmpdir(), 'catalog-rollout-'));
    bundlePath = path.join(bundleDir, 'workflow-bundle.js');
    await writeFile(bundlePath, bundle.code);
  });

  after(async () => {
    for (const worker of workers) if (worker.exitCode === null) worker.kill('SIGKILL');
    await simulator?.close();
    await env?.teardown();
    await rm(bundleDir, { recursive: true, force: true });
  });

  /** A worker started as an operator would start it: its own process, configured by environment variables. */
  async function startWorkerProcess(): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...citrixEnvFor(simulator),
        TEMPORAL_ADDRESS: address,
        TEMPORAL_TASK_QUEUE: TASK_QUEUE,
        WORKFLOW_BUNDLE_PATH: bundlePath,
        CITRIX_POST_RETRY_SETTLE_MS: '1000',
        WORKER_SHUTDOWN_GRACE_MS: '2000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    workers.push(child);
    let output = '';
    child.stderr!.on('data', (chunk) => (output += chunk));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk;
        if (output.includes('worker started')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it started:\n${output}`)));
    });
    return child;
  }

  test('a worker killed with SIGKILL mid-wait is replaced and the update completes with one post', async () => {
    const first = await startWorkerProcess();
    const { handle } = await startCatalogUpdate(env.client, TASK_QUEUE, {
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
    assert.equal(result.outcome, 'updated');
    assert.equal(acceptedPosts(simulator), 1);

    second.kill('SIGTERM');
    const [code] = await once(second, 'exit');
    assert.equal(code, 0, 'SIGTERM shuts the worker down cleanly');
  });
});
