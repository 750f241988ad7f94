import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { SEED_IDS, type RunningSimulator } from '../src/simulator';
import { startCatalogUpdate } from '../src/client';
import type { updateCatalogImage } from '../src/workflows';
import {
  acceptedPosts,
  chaosCount,
  processEnvFor,
  eventually,
  historiesAsJson,
  killHard,
  printFigures,
  quietTemporalLogs,
  recordFigures,
  SecretWatch,
  spawnWorker,
  startStack,
  statusOf,
  type TestStack,
  workflowBundleFile,
} from './helpers';

quietTemporalLogs();

const TASK_QUEUE = 'crash-matrix';
const { catalogs, images } = SEED_IDS;
const PHASES = ['validation', 'post sent, not recorded', 'mid-wait', 'completion'] as const;
type Phase = (typeof PHASES)[number];
/** The catalog each phase's update runs on: all four phases are hit by one SIGKILL. */
const CATALOG_OF: Record<Phase, string> = {
  validation: catalogs.finance,
  'post sent, not recorded': catalogs.engineering,
  'mid-wait': catalogs.callCenter,
  completion: catalogs.hr,
};

describe('SIGKILLed workers never lose an update nor post twice', () => {
  let stack: TestStack;
  let simulator: RunningSimulator;
  let bundlePath: string;
  const workers: ChildProcess[] = [];
  let workerOutput = '';
  const secrets = new SecretWatch(() => [simulator]);

  before(async () => {
    [stack, bundlePath] = await Promise.all([
      startStack({
        taskQueue: TASK_QUEUE,
        // Updates stay Processing until the test completes them, so that every phase can be caught.
        simulator: { updateDurationMs: Infinity, acceptLagMs: 300 },
        worker: false,
      }),
      workflowBundleFile(),
    ]);
    ({ simulator } = stack);
  });

  after(async () => {
    for (const worker of workers) await killHard(worker);
    await stack?.stop();
    printFigures();
  });

  async function startWorker(): Promise<ChildProcess> {
    const child = await spawnWorker(
      processEnvFor(simulator, stack.address, TASK_QUEUE, {
        WORKFLOW_BUNDLE_PATH: bundlePath,
        CITRIX_POST_RETRY_SETTLE_MS: '1000',
      }),
      (text) => (workerOutput += text),
    );
    workers.push(child);
    return child;
  }

  const start = (catalogId: string) =>
    startCatalogUpdate(stack.env.client, TASK_QUEUE, {
      catalogId,
      imageId: images.win11Nov,
      pollIntervalMs: 1_000,
    }).then(({ handle }) => handle);

  async function processing(handle: WorkflowHandle): Promise<void> {
    await eventually(
      async () => {
        const status = await statusOf(handle);
        return status?.phase === 'waiting' && status.catalogState === 'Processing' ? status : undefined;
      },
      20_000,
      `${handle.workflowId} to be Processing`,
    );
  }

  /** Completes every update in flight until all the handles have finished; returns their outcomes. */
  async function finishAll(handles: WorkflowHandle<typeof updateCatalogImage>[], catalogIds: string[]) {
    let done = false;
    const completer = (async () => {
      while (!done) {
        for (const catalogId of catalogIds) simulator.completeUpdate(catalogId);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
    try {
      return await Promise.allSettled(handles.map((handle) => handle.result()));
    } finally {
      done = true;
      await completer;
    }
  }

  /** Ends the updates a failed round left running, so that the next round starts its own. */
  async function terminateAll(handles: WorkflowHandle[]): Promise<void> {
    await Promise.all(handles.map((handle) => handle.terminate('the round failed').catch(() => undefined)));
  }

  const rounds = chaosCount(1, 10);

  describe(`a worker SIGKILLed during validation, after an unrecorded post, mid-wait and during completion is replaced and every update completes with one post (${rounds} kills per phase)`, () => {
    const tried = Object.fromEntries(PHASES.map((phase) => [phase, 0])) as Record<Phase, number>;
    const correct = { ...tried };
    const duplicates = { ...tried };
    let worker: ChildProcess;

    before(async () => {
      worker = await startWorker();
    });

    after(async () => {
      for (const phase of PHASES) {
        recordFigures({
          row: `worker SIGKILL: ${phase}`,
          tried: tried[phase],
          endedCorrectly: correct[phase],
          duplicatePosts: duplicates[phase],
        });
      }
      if (worker) await killHard(worker);
    });

    for (let round = 1; round <= rounds; round++) {
      test(`kill ${round} of ${rounds}`, async (t) => {
        secrets.collectTokens();
        simulator.reset();
        // A round that failed before its new worker started leaves none running.
        if (worker.exitCode !== null || worker.signalCode !== null) worker = await startWorker();
        const handles = {} as Record<Phase, WorkflowHandle<typeof updateCatalogImage>>;
        let outcomes: Awaited<ReturnType<typeof finishAll>>;
        try {
          // Mid-wait and completion: updates that are Processing.
          handles['mid-wait'] = await start(CATALOG_OF['mid-wait']);
          handles.completion = await start(CATALOG_OF.completion);
          await Promise.all([processing(handles['mid-wait']), processing(handles.completion)]);

          // Validation: the catalog read hangs, so the validation activity is running when the worker dies.
          const slowRead = simulator.addFault({
            match: { operation: 'catalog', catalogId: CATALOG_OF.validation },
            action: { type: 'latency', ms: 8_000 },
          });
          // Post: Citrix accepts it but the answer never arrives, so its outcome is not recorded when the worker dies.
          simulator.addFault({
            match: { operation: 'updateImage', catalogId: CATALOG_OF['post sent, not recorded'] },
            action: { type: 'acceptThenStall' },
          });
          handles.validation = await start(CATALOG_OF.validation);
          handles['post sent, not recorded'] = await start(CATALOG_OF['post sent, not recorded']);
          // Completion: the catalog finishes and the poll that would see it hangs while the worker dies.
          simulator.completeUpdate(CATALOG_OF.completion);
          const slowFinalRead = simulator.addFault({
            match: { operation: 'catalog', catalogId: CATALOG_OF.completion },
            action: { type: 'latency', ms: 8_000 },
          });
          await eventually(
            () => {
              const pending = new Set(simulator.faults().map((fault) => fault.id));
              return (
                (!pending.has(slowRead) &&
                  !pending.has(slowFinalRead) &&
                  acceptedPosts(simulator, CATALOG_OF['post sent, not recorded']) === 1) ||
                undefined
              );
            },
            20_000,
            'every phase to be in flight',
          );
          assert.equal((await statusOf(handles.validation))?.phase, 'validating');
          assert.equal((await statusOf(handles['post sent, not recorded']))?.phase, 'posting');
          assert.equal((await statusOf(handles.completion))?.phase, 'waiting');

          await killHard(worker);
          worker = await startWorker();

          outcomes = await finishAll(
            PHASES.map((phase) => handles[phase]),
            PHASES.map((phase) => CATALOG_OF[phase]),
          );
        } catch (error) {
          await terminateAll(Object.values(handles));
          throw error;
        }
        for (const [index, phase] of PHASES.entries()) {
          await t.test(phase, () => {
            tried[phase]++;
            const outcome = outcomes[index]!;
            const posts = acceptedPosts(simulator, CATALOG_OF[phase]);
            duplicates[phase] += Math.max(0, posts - 1);
            const completed =
              outcome.status === 'fulfilled' && outcome.value.outcome === 'imageAssigned' && posts === 1;
            if (completed) correct[phase]++;
            else secrets.keepError(phase, outcome.status === 'rejected' ? outcome.reason : outcome.value);
            assert.ok(completed, `the update completed (${describeOutcome(outcome, posts)})`);
            assert.ok(posts <= 1, 'the update was not posted twice');
          });
        }
      });
    }
  });

  const multiRounds = chaosCount(1, 3);

  describe(`with two workers on one task queue, the survivor finishes the updates of the one SIGKILLed mid-rollout (${multiRounds} rounds)`, () => {
    const names = ['finance', 'engineering', 'sales', 'hr'] as const;
    const ids = names.map((name) => catalogs[name]);
    let tried = 0;
    let correct = 0;
    let duplicatePosts = 0;

    after(() => recordFigures({ row: 'two workers, one SIGKILLed', tried, endedCorrectly: correct, duplicatePosts }));

    for (let round = 1; round <= multiRounds; round++) {
      test(`round ${round} of ${multiRounds}`, async (t) => {
        secrets.collectTokens();
        simulator.reset();
        const [doomed, survivor] = await Promise.all([startWorker(), startWorker()]);
        const handles: WorkflowHandle<typeof updateCatalogImage>[] = [];
        try {
          handles.push(...(await Promise.all(ids.map(start))));
          await Promise.all(handles.map(processing));
          await killHard(doomed);
          const outcomes = await finishAll(handles, ids);
          for (const [index, outcome] of outcomes.entries()) {
            await t.test(names[index]!, () => {
              tried++;
              const posts = acceptedPosts(simulator, ids[index]);
              duplicatePosts += Math.max(0, posts - 1);
              const completed =
                outcome.status === 'fulfilled' && outcome.value.outcome === 'imageAssigned' && posts === 1;
              if (completed) correct++;
              assert.ok(completed, `the update completed (${describeOutcome(outcome, posts)})`);
              assert.ok(posts <= 1, 'the update was not posted twice');
            });
          }
          assert.equal(survivor.exitCode, null, 'the other worker kept running');
        } catch (error) {
          await terminateAll(handles);
          throw error;
        } finally {
          await killHard(doomed);
          await killHard(survivor);
        }
      });
    }
  });

  test('no worker log line or workflow history holds the client secret or a bearer token', async () => {
    assert.ok(workerOutput.includes('worker started'));
    const report = secrets.assertNoSecrets([
      { what: 'worker output', text: workerOutput },
      ...(await historiesAsJson(stack.env.client)),
    ]);
    recordFigures({
      row: 'secrets: crash matrix',
      tried: report.texts,
      endedCorrectly: report.texts,
      duplicatePosts: 0,
      note: `${report.tokens} tokens`,
    });
  });
});

function describeOutcome(outcome: PromiseSettledResult<{ outcome: string }>, posts: number): string {
  return `${outcome.status === 'fulfilled' ? outcome.value.outcome : String(outcome.reason)}, ${posts} posts`;
}
