import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_SEED, SEED_IDS, type RunningSimulator } from '../src/simulator';
import { startCatalogUpdate } from '../src/client';
import {
  acceptedPosts,
  captureTemporalLogs,
  eventually,
  historiesAsJson,
  printFigures,
  recordFigures,
  SecretWatch,
  startStack,
  statusOf,
  type TestStack,
} from './helpers';

captureTemporalLogs();

const CACHE_SIZES = [0, 1, 2, 3];
const { images } = SEED_IDS;
const template = DEFAULT_SEED.catalogs[0]!;
/** Two catalogs per cache size: one for the happy path, one for the long wait. */
const catalogIds = CACHE_SIZES.flatMap((size) => [0, 1].map((n) => `ca7a10c0-0000-4000-b000-0000000000${size}${n}`));

describe('updates complete with a workflow cache of 0 to 3, replaying the history on every task', () => {
  let stack: TestStack;
  let env: TestStack['env'];
  let simulator: RunningSimulator;
  const secrets = new SecretWatch(() => [simulator]);
  const queueOf = (maxCachedWorkflows: number) => `small-cache-${maxCachedWorkflows}`;
  /** One worker per cache size, each on its own task queue. */
  const workerFor = (maxCachedWorkflows: number) => ({
    taskQueue: queueOf(maxCachedWorkflows),
    worker: { maxCachedWorkflows },
  });

  before(async () => {
    stack = await startStack({
      ...workerFor(CACHE_SIZES[0]!),
      // A low threshold makes the long wait continue as new within seconds.
      serverArgs: ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=20'],
      simulator: {
        updateDurationMs: 10_000,
        acceptLagMs: 300,
        seed: {
          ...DEFAULT_SEED,
          catalogs: catalogIds.map((id, index) => ({ ...template, id, name: `Cache test ${index}` })),
        },
      },
      moreWorkers: CACHE_SIZES.slice(1).map(workerFor),
    });
    ({ env, simulator } = stack);
  });

  after(async () => {
    await stack?.stop();
    printFigures();
  });

  const queryPhases: string[] = [];

  test('the happy path and a long wait that continues as new both end updated with one post, for every cache size', async () => {
    const outcomes = await Promise.allSettled(
      CACHE_SIZES.flatMap((size, index) => {
        const [happyId, longId] = [catalogIds[index * 2]!, catalogIds[index * 2 + 1]!];
        const taskQueue = queueOf(size);
        const happy = (async () => {
          const { handle } = await startCatalogUpdate(env.client, taskQueue, {
            catalogId: happyId,
            imageId: images.win11Nov,
            pollIntervalMs: 1_000,
          });
          // The status query is answered by replaying the history too.
          const seen = await eventually(
            async () => {
              const status = await statusOf(handle);
              return status?.phase === 'waiting' || status?.phase === 'succeeded' ? status : undefined;
            },
            20_000,
            `cache ${size}: a status from the waiting phase`,
          );
          queryPhases.push(`cache ${size}: ${seen.phase}`);
          return { size, kind: 'happy path', catalogId: happyId, result: await handle.result(), runs: 1 };
        })();
        const long = (async () => {
          // Every poll reports back (check-in each second): many workflow tasks, each a full replay without a cache.
          const { handle } = await startCatalogUpdate(env.client, taskQueue, {
            catalogId: longId,
            imageId: images.win11Nov,
            pollIntervalMs: 1_000,
            checkInIntervalMs: 1_000,
          });
          const result = await handle.result();
          let runs = 0;
          for await (const _ of env.client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` })) runs++;
          return { size, kind: 'long wait', catalogId: longId, result, runs };
        })();
        return [happy, long];
      }),
    );
    let correct = 0;
    const problems: string[] = [];
    const notes: string[] = [];
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') {
        secrets.keepError('small cache', outcome.reason);
        problems.push(String(outcome.reason));
        continue;
      }
      const { size, kind, catalogId, result, runs } = outcome.value;
      const posts = acceptedPosts(simulator, catalogId);
      if (result.outcome === 'imageAssigned' && posts === 1) correct++;
      else problems.push(`cache ${size} ${kind}: ${result.outcome}, ${posts} posts`);
      if (kind === 'long wait') notes.push(`cache ${size}: ${result.polls} polls, ${runs} runs`);
    }
    recordFigures({
      row: 'small cache (maxCachedWorkflows 0-3)',
      tried: outcomes.length,
      endedCorrectly: correct,
      duplicatePosts: catalogIds.reduce((n, id) => n + Math.max(0, acceptedPosts(simulator, id) - 1), 0),
      note: notes.join('; '),
    });
    assert.deepEqual(problems, []);
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled' && outcome.value.kind === 'long wait') {
        assert.ok(outcome.value.runs > 1, `cache ${outcome.value.size}: the long wait continued as new`);
      }
    }
  });

  test('no history or log line holds the client secret or a bearer token', async () => {
    const report = secrets.assertNoSecrets(await historiesAsJson(env.client));
    recordFigures({
      row: 'secrets: small cache',
      tried: report.texts,
      endedCorrectly: report.texts,
      duplicatePosts: 0,
    });
  });
});
