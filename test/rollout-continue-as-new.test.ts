import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startRollout } from '../src/client';
import { catalogsOf } from '../src/shared/rollout';
import { SEED_IDS } from '../src/simulator';
import { acceptedPosts, quietTemporalLogs, seedWithCatalogs, startStack, type TestStack } from './helpers';

quietTemporalLogs();

const TASK_QUEUE = 'rollout-continue-as-new-test';
const seed = seedWithCatalogs(6);

describe('a rollout that continues as new between waves', () => {
  let stack: TestStack;

  before(async () => {
    stack = await startStack({
      taskQueue: TASK_QUEUE,
      // The server suggests continue-as-new after a few waves instead of after thousands of events.
      serverArgs: ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=40'],
      simulator: { seed, updateDurationMs: 500, acceptLagMs: 50 },
    });
  });
  after(() => stack?.stop());

  test('carries its progress into the next run and finishes every wave', async () => {
    const { env, simulator } = stack;
    const handle = await startRollout(env.client, TASK_QUEUE, {
      healthGate: false,
      rolloutId: 'long-chain',
      imageId: SEED_IDS.images.win11Nov,
      catalogIds: seed.catalogs.map((c) => c.id),
      canaryCount: 0,
      batchSize: 1,
      pollIntervalMs: 1_000,
    });
    const result = await handle.result();

    const runs = [];
    for await (const run of env.client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` })) runs.push(run);
    assert.ok(runs.length > 1, `expected the rollout to continue as new, it ran ${runs.length} time(s)`);
    assert.equal(result.phase, 'completed');
    assert.equal(result.waves.length, 6);
    assert.ok(result.waves.every((wave) => wave.state === 'done'));
    assert.ok(
      catalogsOf(result).every((c) => c.state === 'imageAssigned' && c.previousImageId === SEED_IDS.images.win11Oct),
    );
    assert.equal(acceptedPosts(simulator), 6, 'no catalog was posted to again after continuing as new');
  });
});
