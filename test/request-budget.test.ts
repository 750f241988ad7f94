import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { startRollout } from '../src/client';
import { catalogsOf } from '../src/shared/rollout';
import { SEED_IDS } from '../src/simulator';
import {
  acceptedPosts,
  eventually,
  killHard,
  processEnvFor,
  quietTemporalLogs,
  seedWithCatalogs,
  spawnWorker,
  startStack,
  workflowBundleFile,
  type TestStack,
} from './helpers';

quietTemporalLogs();

/** The tenant's limit at the simulator, and the budget the workers are given. */
const RATE = 10;
const WORKERS = 3;
const CATALOGS = 30;
const seed = seedWithCatalogs(2 * CATALOGS);
const budgeted = seed.catalogs.slice(0, CATALOGS).map((c) => c.id);
const unbudgeted = seed.catalogs.slice(CATALOGS).map((c) => c.id);

describe(`${WORKERS} worker processes sharing a budget of ${RATE} Citrix requests a second`, () => {
  let stack: TestStack;
  const workers: ChildProcess[] = [];
  const output = new Map<string, string[]>();

  before(async () => {
    let bundlePath: string;
    [stack, bundlePath] = await Promise.all([
      startStack({
        taskQueue: 'request-budget-test',
        worker: false,
        simulator: { seed, updateDurationMs: 2_000, acceptLagMs: 200, rateLimit: { requestsPerSecond: RATE } },
      }),
      workflowBundleFile(),
    ]);
    const spawn = (taskQueue: string, maxRequestsPerSecond: string) => {
      const lines: string[] = [];
      output.set(taskQueue, lines);
      const env = processEnvFor(stack.simulator, stack.address, taskQueue, {
        WORKFLOW_BUNDLE_PATH: bundlePath,
        CITRIX_POST_RETRY_SETTLE_MS: '1000',
        CITRIX_MAX_REQUESTS_PER_SECOND: maxRequestsPerSecond,
      });
      return Array.from({ length: WORKERS }, () =>
        spawnWorker(env, (text) => lines.push(text)).then((child) => void workers.push(child)),
      );
    };
    await Promise.all([...spawn('budgeted', String(RATE)), ...spawn('unbudgeted', '0')]);
  });

  after(async () => {
    await Promise.all(workers.map(killHard));
    await stack?.stop();
  });

  /** A rollout of `catalogIds` in one wave, all at once, polled every second. */
  async function rollOut(taskQueue: string, catalogIds: string[]) {
    const handle = await startRollout(stack.env.client, taskQueue, {
      rolloutId: `budget-${taskQueue}`,
      imageId: SEED_IDS.images.win11Nov,
      catalogIds,
      canaryCount: 0,
      batchSize: catalogIds.length,
      maxParallel: catalogIds.length,
      healthGate: false,
      notify: false,
      pollIntervalMs: 1_000,
    });
    const result = await handle.result();
    assert.equal(result.phase, 'completed');
    assert.ok(catalogsOf(result).every((c) => c.state === 'imageAssigned'));
    for (const id of catalogIds) assert.equal(acceptedPosts(stack.simulator, id), 1, `catalog ${id} posted once`);
    return stack.simulator.rateLimitStats();
  }

  test('without a budget the same load runs into the limit: the test can fail', async (t) => {
    const stats = await rollOut('unbudgeted', unbudgeted);
    t.diagnostic(`rate limit: ${JSON.stringify(stats)}`);
    assert.ok(stats.refused > 0, `429s without a budget: ${JSON.stringify(stats)}`);
  });

  test('with it, a rollout stays under the limit in every second and completes, each catalog posted once', async (t) => {
    // Each worker counted the three workers polling its queue (at start, or at its next count 15 s on).
    await eventually(
      () => output.get('budgeted')!.join('').split(`across ${WORKERS} workers`).length - 1 >= WORKERS || undefined,
      20_000,
      'every worker to count three workers',
    );
    stack.simulator.reset();
    const stats = await rollOut('budgeted', budgeted);
    t.diagnostic(`rate limit: ${JSON.stringify(stats)}`);
    assert.ok(stats.busiestSecond <= RATE, `busiest second ${stats.busiestSecond} of ${JSON.stringify(stats)}`);
    // Three workers × floor(10 / 3) = 9 a second leaves one of room for a request that arrives late; should two arrive
    // late in the same second, the 429 halves that worker's rate. Without the budget there are hundreds.
    assert.ok(stats.refused <= 3, `429s with the budget: ${JSON.stringify(stats)}`);
  });
});
