import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { catalogUpdateWorkflowId, type UpdateCatalogImageInput } from '../src/shared';
import { SEED_IDS, type FaultSpec, type RunningSimulator } from '../src/simulator';
import { startCatalogUpdate } from '../src/client';
import { updateCatalogImage } from '../src/workflows';
import {
  acceptedPosts,
  captureTemporalLogs,
  eventually,
  failureOf,
  freePort,
  historiesAsJson,
  printFigures,
  recordFigures,
  SecretWatch,
  startStack,
  statusOf,
  type TestStack,
  waitedAfter,
} from './helpers';

captureTemporalLogs();

const { catalogs, images } = SEED_IDS;
const HOUR = 3_600_000;
/** Shorter than the 30-second stalls below, so that every stall runs past it. */
const REQUEST_TIMEOUT_MS = 2_000;

interface FaultCase {
  name: string;
  /** Faults in force from the start. */
  faults?: FaultSpec[];
  /** Faults added once the catalog is Processing (to hit the wait's polls). */
  faultsWhileWaiting?: FaultSpec[];
  /** Runs once the catalog is Processing. */
  whileWaiting?: (simulator: RunningSimulator) => Promise<void> | void;
  /** Checks the request log: returns the measured wait to report, if any. */
  measure?: (simulator: RunningSimulator, catalogId: string) => { waitedMs: number; atLeastMs: number };
}

const onCatalog = (catalogId: string) => (r: { path: string }) => r.path.toLowerCase().includes(catalogId);

function waitAfterStatus(status: number, operation: 'catalog' | 'updateImage', atLeastMs: number) {
  return (simulator: RunningSimulator, catalogId: string) => {
    const waitedMs = waitedAfter(
      simulator.requests(),
      (r) => r.operation === operation && r.status === status && onCatalog(catalogId)(r),
      onCatalog(catalogId),
    );
    assert.ok(waitedMs !== undefined, `a ${status} was served and followed by another request`);
    return { waitedMs, atLeastMs };
  };
}

const read = (catalogId: string) => ({ operation: 'catalog' as const, catalogId });
const post = (catalogId: string) => ({ operation: 'updateImage' as const, catalogId });

/** Faults that clear: every update must complete, with exactly one accepted post. */
function clearingFaults(catalogId: string): FaultCase[] {
  return [
    {
      name: '429 with Retry-After on the validation read',
      faults: [{ match: read(catalogId), action: { type: 'status', status: 429, retryAfterSeconds: 3 } }],
      measure: waitAfterStatus(429, 'catalog', 3_000),
    },
    {
      name: '429 with Retry-After on the post',
      faults: [{ match: post(catalogId), action: { type: 'status', status: 429, retryAfterSeconds: 3 } }],
      measure: waitAfterStatus(429, 'updateImage', 3_000),
    },
    {
      name: '429 with Retry-After on a poll',
      faultsWhileWaiting: [{ match: read(catalogId), action: { type: 'status', status: 429, retryAfterSeconds: 4 } }],
      measure: waitAfterStatus(429, 'catalog', 4_000),
    },
    {
      name: '429 with the retryDelay body parameter only',
      faults: [{ match: read(catalogId), action: { type: 'status', status: 429, retryDelaySeconds: 3 } }],
      measure: waitAfterStatus(429, 'catalog', 3_000),
    },
    {
      name: '429 without Retry-After, twice on the post',
      faults: [{ match: post(catalogId), times: 2, action: { type: 'status', status: 429 } }],
    },
    {
      name: '500 on the validation read',
      faults: [{ match: read(catalogId), times: 2, action: { type: 'status', status: 500 } }],
    },
    { name: '502 on the post', faults: [{ match: post(catalogId), action: { type: 'status', status: 502 } }] },
    {
      name: '503 on three polls',
      faultsWhileWaiting: [{ match: read(catalogId), times: 3, action: { type: 'status', status: 503 } }],
    },
    {
      name: 'connection reset on the validation read',
      faults: [{ match: read(catalogId), action: { type: 'reset' } }],
    },
    {
      name: 'connection reset on the post, before Citrix saw it',
      faults: [{ match: post(catalogId), action: { type: 'reset' } }],
    },
    {
      name: 'connection reset after Citrix accepted the post',
      faults: [{ match: post(catalogId), action: { type: 'acceptThenReset' } }],
    },
    {
      name: 'post accepted, then no answer past the request timeout',
      faults: [{ match: post(catalogId), action: { type: 'acceptThenStall' } }],
    },
    {
      name: '30-second stall on the validation read',
      faults: [{ match: read(catalogId), action: { type: 'latency', ms: 30_000 } }],
    },
    {
      name: '30-second stall on a poll',
      faultsWhileWaiting: [{ match: read(catalogId), times: 2, action: { type: 'latency', ms: 30_000 } }],
    },
    {
      name: 'token endpoint down for 4 s while the token expires',
      whileWaiting: async (simulator) => {
        const down = simulator.addFault({
          match: { operation: 'token' },
          times: null,
          action: { type: 'status', status: 503 },
        });
        simulator.addFault({ action: { type: 'expireTokens' } });
        await new Promise((resolve) => setTimeout(resolve, 4_000));
        simulator.removeFault(down);
      },
    },
    {
      name: 'token expiring mid-update',
      whileWaiting: (simulator) => void simulator.addFault({ action: { type: 'expireTokens' } }),
    },
    {
      name: '401 on one poll',
      faultsWhileWaiting: [{ match: read(catalogId), action: { type: 'status', status: 401 } }],
    },
    { name: '401 on the post', faults: [{ match: post(catalogId), action: { type: 'status', status: 401 } }] },
  ];
}

describe('an update rides out a misbehaving Citrix and posts once', () => {
  const TASK_QUEUE = 'faults-test';
  let stack: TestStack;
  let simulator: RunningSimulator;
  const secrets = new SecretWatch(() => [simulator]);

  before(async () => {
    stack = await startStack({
      taskQueue: TASK_QUEUE,
      simulator: { updateDurationMs: Infinity, acceptLagMs: 300 },
      citrix: { requestTimeoutMs: REQUEST_TIMEOUT_MS },
    });
    ({ simulator } = stack);
  });

  after(async () => {
    await stack?.stop();
    printFigures();
  });

  // Legal is a single-session catalog: the multi-session November image does not fit it.
  const catalogIds = Object.values(catalogs).filter((id) => id !== catalogs.legal);

  describe('every fault that clears ends in a completed update with exactly one accepted post, and Retry-After is honoured', () => {
    const cases = clearingFaults('{catalog}');
    let endedCorrectly = 0;
    let duplicatePosts = 0;
    const waits: string[] = [];

    after(() => {
      recordFigures({
        row: 'broken Citrix: faults that clear',
        tried: cases.length,
        endedCorrectly,
        duplicatePosts,
        note: waits.join('; '),
      });
      for (const wait of waits) console.log(`Retry-After: ${wait}`);
    });

    // One case per catalog at a time, so that a batch of cases runs side by side.
    for (let first = 0; first < cases.length; first += catalogIds.length) {
      const batch = cases.slice(first, first + catalogIds.length);
      describe(`faults ${first + 1} to ${first + batch.length}, side by side`, { concurrency: batch.length }, () => {
        before(() => {
          secrets.collectTokens();
          simulator.reset();
        });

        for (const [index, faultCase] of batch.entries()) {
          const catalogId = catalogIds[index]!;
          const own = clearingFaults(catalogId).find((c) => c.name === faultCase.name)!;
          test(own.name, async () => {
            let handle: WorkflowHandle<typeof updateCatalogImage> | undefined;
            try {
              ({ handle } = await startCatalogUpdate(stack.env.client, TASK_QUEUE, {
                catalogId,
                imageId: images.win11Nov,
                pollIntervalMs: 1_000,
              }));
              for (const fault of own.faults ?? []) simulator.addFault(fault);
              await waitForProcessing(handle);
              for (const fault of own.faultsWhileWaiting ?? []) simulator.addFault(fault);
              await own.whileWaiting?.(simulator);
              // Updates last until the case's faults have been served; then the catalog finishes.
              await eventually(
                () => simulator.faults().every((f) => f.match?.catalogId !== catalogId) || undefined,
                40_000,
                'the faults to be served',
              );
              simulator.completeUpdate(catalogId);
              const result = await handle.result();
              assert.equal(result.outcome, 'imageAssigned');
              const posts = acceptedPosts(simulator, catalogId);
              duplicatePosts += Math.max(0, posts - 1);
              assert.equal(posts, 1, 'exactly one accepted post');
              if (own.measure) {
                const { waitedMs, atLeastMs } = own.measure(simulator, catalogId);
                waits.push(`${own.name}: waited ${Math.round(waitedMs)} ms (asked ${atLeastMs})`);
                assert.ok(waitedMs >= atLeastMs - 50, `${own.name}: waited ${waitedMs} ms, asked for ${atLeastMs}`);
              }
              endedCorrectly++;
            } catch (error) {
              secrets.keepError(own.name, error);
              // The next batch updates this catalog again: leave it no update to attach to.
              await handle?.terminate('the fault case failed').catch(() => undefined);
              throw error;
            }
          });
        }
      });
    }
  });

  test('the client secret and the bearer tokens appear in no history, log line or error message', async () => {
    const report = secrets.assertNoSecrets(await historiesAsJson(stack.env.client));
    recordFigures({
      row: 'secrets: fault matrix',
      tried: report.texts,
      endedCorrectly: report.texts,
      duplicatePosts: 0,
      note: `${report.tokens} tokens, ${report.chars} chars checked`,
    });
    assert.ok(report.tokens > 0, 'tokens were issued and checked');
  });
});

async function waitForProcessing(handle: WorkflowHandle): Promise<void> {
  await eventually(
    async () => {
      const status = await statusOf(handle);
      return status?.phase === 'waiting' && status.catalogState === 'Processing' ? status : undefined;
    },
    20_000,
    'the catalog to be Processing',
  );
}

describe('a fault that never clears ends in a clear failure within the deadline (time-skipping server)', () => {
  const TASK_QUEUE = 'faults-never-clear';
  let stack: TestStack;
  let simulator: RunningSimulator;
  const secrets = new SecretWatch(() => [simulator]);

  before(async () => {
    // A Citrix host that refuses connections: a port that was free a moment ago.
    const closedPort = await freePort();
    stack = await startStack({
      taskQueue: TASK_QUEUE,
      server: 'timeSkipping',
      simulator: { updateDurationMs: Infinity, acceptLagMs: 0 },
      citrix: { requestTimeoutMs: REQUEST_TIMEOUT_MS },
      moreWorkers: [
        {
          taskQueue: `${TASK_QUEUE}-unreachable`,
          citrix: (sim) => ({
            apiBaseUrl: `http://127.0.0.1:${closedPort}/catalogservice`,
            tokenUrl: `http://127.0.0.1:${closedPort}/cctrustoauth2/${sim.customerId}/tokens/clients`,
          }),
        },
      ],
    });
    ({ simulator } = stack);
  });

  after(async () => {
    await stack?.stop();
    printFigures();
  });

  interface NeverClears {
    name: string;
    catalogId: string;
    taskQueue?: string;
    faults?: FaultSpec[];
    afterPost?: FaultSpec[];
    pollIntervalMs?: number;
    type: string;
    message: RegExp;
    posts: number;
  }
  const deadlineMs = 2 * HOUR;
  const handles: WorkflowHandle[] = [];
  const cases: NeverClears[] = [
    {
      name: '503 forever from the start',
      catalogId: catalogs.finance,
      faults: [{ match: { operation: 'catalog' }, times: null, action: { type: 'status', status: 503 } }],
      type: 'CitrixUnavailable',
      message: /did not answer validateCatalogUpdate successfully.*503.*check that Citrix Cloud is reachable/s,
      posts: 0,
    },
    {
      name: '429 with Retry-After forever on the post',
      catalogId: catalogs.engineering,
      faults: [
        {
          match: { operation: 'updateImage' },
          times: null,
          action: { type: 'status', status: 429, retryAfterSeconds: 30 },
        },
      ],
      type: 'CitrixUnavailable',
      message: /postImageUpdate.*429/s,
      posts: 0,
    },
    {
      name: '503 forever on every poll after the post',
      catalogId: catalogs.hr,
      afterPost: [{ match: { operation: 'catalog' }, times: null, action: { type: 'status', status: 503 } }],
      type: 'DeadlineExceeded',
      message: /deadline of 2h.*last error: .*503/s,
      posts: 1,
    },
    {
      name: 'polls stalled past the request timeout forever',
      catalogId: catalogs.sales,
      afterPost: [{ match: { operation: 'catalog' }, times: null, action: { type: 'latency', ms: 30_000 } }],
      // Each stalled poll takes the request timeout in real time: few polls keep the test short.
      pollIntervalMs: 20 * 60_000,
      type: 'DeadlineExceeded',
      message: /deadline of 2h.*did not answer within/s,
      posts: 1,
    },
    {
      name: 'Citrix host unreachable',
      catalogId: catalogs.legal,
      taskQueue: `${TASK_QUEUE}-unreachable`,
      type: 'CitrixUnavailable',
      message: /failed before an answer arrived.*check that Citrix Cloud is reachable/s,
      posts: 0,
    },
  ];

  describe('each never-clearing fault fails non-retryably with an actionable message before the deadline, posting at most once', () => {
    let endedCorrectly = 0;

    after(() =>
      recordFigures({
        row: 'broken Citrix: faults that never clear (clear failure in time)',
        tried: cases.length,
        endedCorrectly,
        duplicatePosts: 0,
      }),
    );

    for (const c of cases) {
      test(c.name, async () => {
        secrets.collectTokens();
        simulator.reset();
        for (const fault of c.faults ?? []) simulator.addFault(fault);
        const handle = await stack.env.client.workflow.start(updateCatalogImage, {
          taskQueue: c.taskQueue ?? TASK_QUEUE,
          workflowId: catalogUpdateWorkflowId(c.catalogId),
          args: [
            {
              catalogId: c.catalogId,
              imageId: images.win11Nov,
              pollIntervalMs: c.pollIntervalMs ?? 60_000,
              deadlineMs,
            } satisfies UpdateCatalogImageInput,
          ],
        });
        if (c.afterPost) {
          await eventually(() => acceptedPosts(simulator, c.catalogId) > 0 || undefined, 20_000, 'the post');
          for (const fault of c.afterPost) simulator.addFault(fault);
        }
        handles.push(handle);
        const failure = await failureOf(handle.result());
        secrets.keepError(c.name, failure);
        assert.equal(failure.type, c.type, `${c.name}: ${failure.message}`);
        assert.equal(failure.nonRetryable, true);
        assert.match(failure.message, c.message);
        const { startTime, closeTime } = await handle.describe();
        const tookMs = closeTime!.getTime() - startTime.getTime();
        assert.ok(tookMs <= deadlineMs + 60_000, `${c.name}: ended after ${tookMs} ms`);
        assert.equal(acceptedPosts(simulator, c.catalogId), c.posts);
        endedCorrectly++;
      });
    }
  });

  test('no never-clearing fault leaks the client secret or a bearer token', async () => {
    // The time-skipping server cannot list workflows: read the histories of the ones started here.
    const histories = await Promise.all(
      handles.map(async (handle) => ({
        what: `history of ${handle.workflowId}`,
        text: historyToJSON(await handle.fetchHistory()),
      })),
    );
    const report = secrets.assertNoSecrets(histories);
    recordFigures({
      row: 'secrets: never-clearing faults',
      tried: report.texts,
      endedCorrectly: report.texts,
      duplicatePosts: 0,
    });
  });
});
