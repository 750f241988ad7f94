import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { CitrixClient } from '../src/citrix';
import { startRollout } from '../src/operations';
import { SEED_IDS, startSimulator, type RunningSimulator } from '../src/simulator';
import { startLocalTemporal } from '../src/temporal';
import { createCatalogWorker } from '../src/worker';
import { acceptedPosts, citrixFor, quietTemporalLogs, seedWithCatalogs, workflowBundle } from './helpers';

quietTemporalLogs();

const TASK_QUEUE = 'rollout-scale-test';
const CATALOGS = 300;
/** Temporal warns past 10,240 events in one history. */
const HISTORY_WARNING_EVENTS = 10_240;

describe('a rollout over 300 catalogs', () => {
  let env: TestWorkflowEnvironment;
  let simulator: RunningSimulator;
  let citrix: CitrixClient;
  let worker: Worker;
  let workerRun: Promise<void>;

  before(async () => {
    const [started, sim, bundle] = await Promise.all([
      startLocalTemporal(),
      startSimulator({ seed: seedWithCatalogs(CATALOGS), updateDurationMs: 1_000, acceptLagMs: 100 }),
      workflowBundle(),
    ]);
    env = started;
    simulator = sim;
    citrix = citrixFor(simulator, { maxConnections: 64 });
    worker = await createCatalogWorker({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUE,
      citrix,
      postRetrySettleMs: 500,
      workflowBundle: bundle,
    });
    workerRun = worker.run();
  });

  after(async () => {
    worker?.shutdown();
    await workerRun;
    await citrix?.close();
    await simulator?.close();
    await env?.teardown();
  });

  test('updates every catalog once and keeps its history under Temporal warning thresholds', async (t) => {
    const started = Date.now();
    const handle = await startRollout(env.client, TASK_QUEUE, {
      rolloutId: 'scale',
      imageId: SEED_IDS.images.win11Nov,
      allCatalogs: true,
      canaryCount: 5,
      batchSize: 100,
      maxParallel: 50,
      pollIntervalMs: 1_000,
    });
    const result = await handle.result();
    assert.equal(result.phase, 'completed');
    assert.equal(result.catalogs.filter((c) => c.state === 'updated').length, CATALOGS);
    assert.equal(acceptedPosts(simulator), CATALOGS);

    // Every run of the rollout, in case it continued as new.
    let events = 0;
    let runs = 0;
    for await (const run of env.client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` })) {
      const history = await env.client.workflow.getHandle(handle.workflowId, run.runId).fetchHistory();
      const length = history.events?.length ?? 0;
      assert.ok(length < HISTORY_WARNING_EVENTS, `a run of the rollout has ${length} events`);
      events = Math.max(events, length);
      runs += 1;
    }
    t.diagnostic(
      `${CATALOGS} catalogs in ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
        `largest rollout history ${events} events over ${runs} run(s)`,
    );
  });
});
