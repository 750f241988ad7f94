/**
 * The product on Temporal's own server as production runs it: PostgreSQL for persistence and advanced visibility, the
 * frontend, history, matching and worker services each a process of its own, set up by the scripts the compose jobs
 * run. Two worker processes and the starter drive a rollout while the history service, then the frontend, then
 * PostgreSQL itself go down and come back. `npm run test:production-stack` runs it after install.sh.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { TEMPORAL_SERVER_VERSION, TemporalCluster } from '../../src/dev/temporal-cluster';
import { SEED_IDS, type RunningSimulator, startSimulator } from '../../src/simulator';
import type { RolloutSummary } from '../../src/shared/rollout-progress';
import { progressQuery } from '../../src/workflows';
import {
  acceptedPosts,
  jsonLines,
  killHard,
  processEnvFor,
  runStarter,
  seedWithCatalogs,
  sleep,
  spawnWorker,
} from '../helpers';

const TASK_QUEUE = 'production-stack';
const ROLLOUT_CATALOGS = 12;
const ROLLOUT_ID = 'production-stack';
const SCHEDULE_ID = 'production-stack-nightly';
/** Long enough that every restart lands while catalogs are Processing. */
const UPDATE_MS = 12_000;

const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
const say = (line: string) => console.log(`  [production-stack ${elapsed()}] ${line}`);

/**
 * Checks again every second until `check` returns a value: errors count as not yet, since the cluster may be
 * restarting a service.
 */
async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined> | T | undefined) {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${(last as Error)?.message ?? 'not yet'}`);
    }
    await sleep(1_000);
  }
}

describe(`a rollout on Temporal server ${TEMPORAL_SERVER_VERSION}, PostgreSQL and four service processes`, () => {
  let cluster: TemporalCluster;
  let simulator: RunningSimulator;
  let client: Client;
  let connection: Connection;
  let dir: string;
  const workers: ChildProcess[] = [];
  const seed = seedWithCatalogs(ROLLOUT_CATALOGS + 1);
  const rolloutCatalogs = seed.catalogs.slice(0, ROLLOUT_CATALOGS).map((c) => c.id);
  const scheduledCatalog = seed.catalogs[ROLLOUT_CATALOGS]!.id;
  const restarts: string[] = [];
  const figures: Record<string, string | number> = {};

  const env = () => processEnvFor(simulator, cluster.address, TASK_QUEUE);
  const cli = async (...args: string[]) => {
    const run = await runStarter(args, env());
    assert.equal(run.code, 0, `starter ${args.join(' ')} exited ${run.code}:\n${run.stdout}\n${run.stderr}`);
    return run.stdout;
  };
  const summary = () =>
    client.workflow.getHandle(`rollout-${ROLLOUT_ID}`).query(progressQuery) as Promise<RolloutSummary>;

  before(async () => {
    figures['server build'] = (
      await readFile(
        path.resolve(__dirname, `../../.cache/temporal-server-${TEMPORAL_SERVER_VERSION}/build-figure`),
        'utf8',
      ).catch(() => 'unknown')
    ).trim();
    const clusterStarted = performance.now();
    cluster = await TemporalCluster.start({ log: say });
    figures['cluster start (PostgreSQL, schemas, services, namespace)'] =
      `${((performance.now() - clusterStarted) / 1000).toFixed(1)} s`;
    simulator = await startSimulator({ seed, updateDurationMs: UPDATE_MS, acceptLagMs: 200 });
    connection = await Connection.connect({ address: cluster.address });
    client = new Client({ connection, namespace: cluster.namespace });
    dir = await mkdtemp(path.join(tmpdir(), 'catalog-rollout-production-stack-'));
    for (const name of ['worker A', 'worker B']) {
      workers.push(await spawnWorker(env(), () => {}));
      say(`${name} started (pid ${workers.at(-1)!.pid})`);
    }
  });

  after(async () => {
    await Promise.all(workers.map((worker) => killHard(worker)));
    await connection?.close();
    await simulator?.close();
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    figures['restarts survived'] = `${restarts.length} (${restarts.join(', ')})`;
    figures['total'] = elapsed();
    console.log(
      `\nproduction stack figures\n${Object.entries(figures)
        .map(([name, value]) => `  ${name}: ${value}`)
        .join('\n')}\n`,
    );
  });

  test(`a rollout of ${ROLLOUT_CATALOGS} catalogs with a canary and an approval survives restarts of history, frontend and PostgreSQL`, async () => {
    const rolloutStarted = performance.now();
    const startOut = await cli(
      'rollout',
      'start',
      '--id',
      ROLLOUT_ID,
      '--image',
      SEED_IDS.images.win11Nov,
      '--catalogs',
      rolloutCatalogs.join(','),
      '--canary',
      '1',
      '--approval',
      'afterCanary',
      '--batch-size',
      '6',
      '--max-parallel',
      '3',
      '--poll-interval',
      '2s',
      '--no-health-gate',
      '--no-notify',
      '--json',
    );
    assert.deepEqual(jsonLines(startOut)[0], { event: 'started', workflowId: `rollout-${ROLLOUT_ID}` });
    say('rollout started by the starter');

    await until('the approval gate', 90_000, async () =>
      (await summary()).phase === 'awaitingApproval' ? true : undefined,
    );
    assert.equal(acceptedPosts(simulator), 1, 'the canary alone is posted before the approval');
    say('canary done; the rollout waits for approval');
    await cli('rollout', 'approve', ROLLOUT_ID, '--by', 'ops', '--reason', 'canary healthy', '--json');
    say('approved by the starter');

    // Each outage lands while catalogs are Processing and others still wait for their turn.
    const midRollout = (what: string) => {
      const posts = acceptedPosts(simulator);
      assert.ok(posts < ROLLOUT_CATALOGS, `${what} went down after the last post`);
      restarts.push(`${what} at ${posts} of ${ROLLOUT_CATALOGS} posts`);
    };
    await until('wave 2 under way', 60_000, () => (acceptedPosts(simulator) >= 3 ? true : undefined));
    await cluster.restartService('history');
    midRollout('history');
    await sleep(3_000);
    await cluster.restartService('frontend');
    midRollout('frontend');
    await until('wave 3 under way', 120_000, () => (acceptedPosts(simulator) >= 8 ? true : undefined));
    await cluster.restartPostgres(3_000);
    midRollout('PostgreSQL');

    const done = await until('the end of the rollout', 180_000, async () => {
      const progress = await summary();
      return ['completed', 'halted', 'aborted'].includes(progress.phase) ? progress : undefined;
    });
    assert.equal(done.phase, 'completed', JSON.stringify(done));
    const posts = rolloutCatalogs.map((id) => acceptedPosts(simulator, id));
    assert.deepEqual(
      posts,
      rolloutCatalogs.map(() => 1),
      'every catalog posted exactly once',
    );
    figures['rollout'] =
      `${ROLLOUT_CATALOGS} catalogs, ${posts.reduce((a, b) => a + b, 0)} posts, ` +
      `${((performance.now() - rolloutStarted) / 1000).toFixed(1)} s (updates of ${UPDATE_MS / 1000} s)`;
    say(`rollout completed: ${figures['rollout']}`);
  });

  test('a schedule trigger starts a rollout on the cluster, which completes', async () => {
    await cli(
      'schedule',
      'create',
      '--id',
      SCHEDULE_ID,
      '--cron',
      '0 3 * * 3',
      '--time-zone',
      'Europe/Berlin',
      '--image',
      SEED_IDS.images.win11Nov,
      '--catalogs',
      scheduledCatalog,
      '--poll-interval',
      '2s',
      '--no-health-gate',
      '--no-notify',
    );
    await cli('schedule', 'trigger', SCHEDULE_ID);
    const scheduled = await until('the scheduled rollout to complete', 120_000, async () => {
      const rollouts = JSON.parse(await cli('list', '--type', 'rollout', '--json')) as Array<{
        workflowId: string;
        status: string;
      }>;
      return rollouts.find((r) => r.workflowId.includes(SCHEDULE_ID) && r.status === 'COMPLETED');
    });
    assert.equal(acceptedPosts(simulator, scheduledCatalog), 1);
    await cli('schedule', 'delete', SCHEDULE_ID);
    figures['schedule trigger'] = `${scheduled.workflowId} completed, 1 post`;
  });

  test('list finds workflows by search attribute (advanced visibility on PostgreSQL) and history export saves them', async () => {
    const updates = JSON.parse(await cli('list', '--rollout', ROLLOUT_ID, '--type', 'update', '--json')) as Array<{
      status: string;
    }>;
    assert.equal(updates.length, ROLLOUT_CATALOGS);
    assert.ok(updates.every((u) => u.status === 'COMPLETED'));
    const byCatalog = JSON.parse(await cli('list', '--catalog', rolloutCatalogs[5]!, '--json')) as unknown[];
    assert.equal(byCatalog.length, 1);
    const byImage = JSON.parse(
      await cli('list', '--image', SEED_IDS.images.win11Nov, '--type', 'update', '--json'),
    ) as unknown[];
    assert.equal(byImage.length, ROLLOUT_CATALOGS + 1);

    const file = path.join(dir, 'rollout.json');
    await cli('history', 'export', `rollout-${ROLLOUT_ID}`, '--out', file);
    const history = JSON.parse(await readFile(file, 'utf8')) as { events: Array<{ eventType: string }> };
    assert.equal(history.events.at(-1)?.eventType, 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
    figures['list by search attribute'] =
      `${updates.length} updates by RolloutId, 1 by CatalogId, ${byImage.length} by ImageId`;
    figures['history export'] = `${history.events.length} events`;
  });
});
