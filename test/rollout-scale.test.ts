import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startRollout } from '../src/operations';
import { SEED_IDS, type RunningSimulator } from '../src/simulator';
import { acceptedPosts, quietTemporalLogs, seedWithCatalogs } from './helpers';
import { startStack, type TestStack } from './stack';

quietTemporalLogs();

const TASK_QUEUE = 'rollout-scale-test';
const CATALOGS = 300;
/** Temporal warns past 10,240 events in one history. */
const HISTORY_WARNING_EVENTS = 10_240;

describe('a rollout over 300 catalogs', () => {
  let stack: TestStack;
  let env: TestWorkflowEnvironment;
  let simulator: RunningSimulator;

  before(async () => {
    stack = await startStack({
      taskQueue: TASK_QUEUE,
      simulator: { seed: seedWithCatalogs(CATALOGS), updateDurationMs: 1_000, acceptLagMs: 100 },
      citrix: { maxConnections: 64 },
      worker: { postRetrySettleMs: 500 },
    });
    ({ env, simulator } = stack);
  });

  after(() => stack?.stop());

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
