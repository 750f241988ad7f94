import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { METRIC_NAMES } from '../src/observability';
import { SEED_IDS, type RunningSimulator } from '../src/simulator';
import { startCatalogUpdate } from '../src/client';
import {
  acceptedPosts,
  citrixEnvFor,
  eventually,
  freePort,
  quietTemporalLogs,
  startStack,
  statusOf,
  type TestStack,
} from './helpers';

quietTemporalLogs();

const ROOT = path.resolve(__dirname, '..');
const TASK_QUEUE = 'production-test';
const GRACE_MS = 2_000;

interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  metricsUrl: string;
  healthUrl: string;
  startedInMs: number;
}

/** The resident memory of a process, from /proc (Linux); undefined elsewhere. */
function residentMiB(pid: number): number | undefined {
  try {
    const kib = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    return Number.isFinite(kib) ? Math.round(kib / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** Prometheus text → the value of the first sample whose name and labels match. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return undefined;
}

describe('the worker as the container image runs it (compiled, prebuilt bundle, NODE_ENV=production)', () => {
  let stack: TestStack;
  let simulator: RunningSimulator;
  const workers: ChildProcess[] = [];

  before(async () => {
    // The Dockerfile's build stage: `npm run build` compiles to lib/ and writes lib/workflow-bundle.js.
    const build = promisify(execFile)('npm', ['run', 'build'], { cwd: ROOT });
    [stack] = await Promise.all([
      startStack({ taskQueue: TASK_QUEUE, simulator: { updateDurationMs: 6_000, acceptLagMs: 300 }, worker: false }),
      build,
    ]);
    ({ simulator } = stack);
  });

  after(async () => {
    for (const worker of workers) if (worker.exitCode === null) worker.kill('SIGKILL');
    await stack?.stop();
  });

  async function startProductionWorker(): Promise<WorkerProcess> {
    const [metricsPort, healthPort] = [await freePort(), await freePort()];
    const startedAt = performance.now();
    const child = spawn(process.execPath, ['lib/src/worker.js'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        ...citrixEnvFor(simulator),
        TEMPORAL_ADDRESS: stack.address,
        TEMPORAL_TASK_QUEUE: TASK_QUEUE,
        WORKFLOW_BUNDLE_PATH: path.join(ROOT, 'lib/workflow-bundle.js'),
        METRICS_BIND_ADDRESS: `127.0.0.1:${metricsPort}`,
        HEALTH_BIND_ADDRESS: `127.0.0.1:${healthPort}`,
        CITRIX_POST_RETRY_SETTLE_MS: '1000',
        WORKER_SHUTDOWN_GRACE_MS: String(GRACE_MS),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    workers.push(child);
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', () => output.includes('"msg":"worker started"') && resolve());
      child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it started:\n${output}`)));
    });
    return {
      child,
      output: () => output,
      metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
      healthUrl: `http://127.0.0.1:${healthPort}`,
      startedInMs: performance.now() - startedAt,
    };
  }

  test('an update survives SIGTERM mid-wait: the worker exits 0 within the grace period and a new one finishes it', async () => {
    const first = await startProductionWorker();
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
    const ready = await fetch(`${first.healthUrl}/readyz`);
    assert.equal(ready.status, 200, 'a running worker is ready');
    const started = await eventually(async () => {
      const text = await (await fetch(first.metricsUrl)).text();
      return sample(text, METRIC_NAMES.workflowsStarted, { workflow_type: 'updateCatalogImage' }) ? text : undefined;
    });
    assert.equal(
      sample(started, METRIC_NAMES.citrixRequests, { operation: 'catalogs/{catalogId}/$updateImage', status: '202' }),
      1,
    );
    assert.ok(started.includes('temporal_'), 'the SDK metrics are served on the same endpoint');

    const stoppingAt = performance.now();
    first.child.kill('SIGTERM');
    const [code] = await once(first.child, 'exit');
    const stopMs = performance.now() - stoppingAt;
    assert.equal(code, 0, `SIGTERM ends the worker cleanly:\n${first.output()}`);
    // The grace period plus the SDK's own teardown; generous on a busy machine, far below Docker's 30 s stop timeout.
    assert.ok(stopMs < GRACE_MS + 8_000, `the worker stopped in ${Math.round(stopMs)} ms`);
    assert.match(first.output(), /"msg":"worker stopped"/);

    const second = await startProductionWorker();
    const result = await handle.result();
    assert.equal(result.outcome, 'imageAssigned');
    assert.equal(acceptedPosts(simulator), 1, 'the restarted worker did not post the update again');

    const finished = await eventually(async () => {
      const text = await (await fetch(second.metricsUrl)).text();
      return sample(text, `${METRIC_NAMES.catalogUpdateDuration}_count`, { outcome: 'imageAssigned' })
        ? text
        : undefined;
    });
    assert.equal(sample(finished, METRIC_NAMES.workflowsCompleted, { workflow_type: 'updateCatalogImage' }), 1);
    assert.ok(sample(finished, METRIC_NAMES.citrixRequests, { operation: 'catalogs/{catalogId}', status: '200' })! > 0);
    assert.ok(sample(finished, METRIC_NAMES.activityRetries, { activity_type: 'pollCatalogUpdate' })! > 0);

    const rssMiB = residentMiB(second.child.pid!);
    second.child.kill('SIGTERM');
    assert.equal((await once(second.child, 'exit'))[0], 0);

    const lines = (first.output() + second.output()).trim().split('\n');
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.ok(
      records.some((r) => r.workflowId === handle.workflowId && r.catalogId === SEED_IDS.catalogs.finance),
      'log lines carry the workflow and catalog ids',
    );
    const text = lines.join('\n');
    assert.ok(!text.includes(simulator.clientSecret), 'no log line holds the client secret');
    for (const token of simulator.issuedTokens()) assert.ok(!text.includes(token), 'no log line holds a bearer token');
    console.log(
      `production worker: cold start ${Math.round(first.startedInMs)} ms / ${Math.round(second.startedInMs)} ms, ` +
        `SIGTERM to exit ${Math.round(stopMs)} ms (grace ${GRACE_MS} ms), resident memory ${rssMiB ?? '?'} MiB`,
    );
  });
});
