import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { catalogUpdateWorkflowId } from '../src/shared';
import { SEED_IDS, type RunningSimulator } from '../src/simulator';
import { updateCatalogImage } from '../src/workflows';
import { acceptedPosts, eventually, failureOf, quietTemporalLogs, startStack, type TestStack } from './helpers';

quietTemporalLogs();

const TASK_QUEUE = 'long-updates-test';
const HOUR = 3_600_000;
const { catalogs, images } = SEED_IDS;

describe('hour-long updates on the time-skipping test server', () => {
  let stack: TestStack;
  let env: TestWorkflowEnvironment;
  let simulator: RunningSimulator;

  before(async () => {
    // The catalog stays Processing until the test says otherwise.
    stack = await startStack({
      taskQueue: TASK_QUEUE,
      server: 'timeSkipping',
      simulator: { updateDurationMs: Infinity, acceptLagMs: 0 },
    });
    ({ env, simulator } = stack);
  });

  after(() => stack?.stop());

  /** Reads of the catalog after its update was accepted: the polls, not validation's reads (which retry). */
  const pollReads = (catalogId: string) => {
    const requests = simulator.requests().filter((r) => r.path.includes(catalogId));
    const accepted = requests.findIndex((r) => r.operation === 'updateImage' && r.status === 202);
    return accepted < 0 ? 0 : requests.slice(accepted + 1).filter((r) => r.operation === 'catalog').length;
  };

  test('a six-hour Processing phase at 30-second polls completes with a short history', async () => {
    const handle = await env.client.workflow.start(updateCatalogImage, {
      taskQueue: TASK_QUEUE,
      workflowId: catalogUpdateWorkflowId(catalogs.finance),
      args: [{ catalogId: catalogs.finance, imageId: images.win11Nov, pollIntervalMs: 30_000, deadlineMs: 24 * HOUR }],
    });
    const result = handle.result();
    const sixHoursOfPolls = (6 * HOUR) / 30_000;
    await eventually(() => pollReads(catalogs.finance) >= sixHoursOfPolls || undefined, 180_000, '6 hours of polls');
    simulator.completeUpdate(catalogs.finance);

    const outcome = await result;
    assert.equal(outcome.outcome, 'imageAssigned');
    assert.ok(outcome.polls >= sixHoursOfPolls, `polled ${outcome.polls} times`);
    const { events } = await handle.fetchHistory();
    assert.ok(events && events.length < 200, `history has ${events?.length} events for ${outcome.polls} polls`);
    assert.equal(acceptedPosts(simulator, catalogs.finance), 1);
  });

  test('an update that never finishes fails at its deadline, naming the last state it saw', async () => {
    const handle = await env.client.workflow.start(updateCatalogImage, {
      taskQueue: TASK_QUEUE,
      workflowId: catalogUpdateWorkflowId(catalogs.engineering),
      args: [
        { catalogId: catalogs.engineering, imageId: images.win11Nov, pollIntervalMs: 60_000, deadlineMs: 2 * HOUR },
      ],
    });
    const failure = await failureOf(handle.result());
    assert.equal(failure.type, 'DeadlineExceeded');
    assert.match(failure.message, /deadline of 2h/);
    assert.match(failure.message, /Processing/);
    assert.equal(acceptedPosts(simulator, catalogs.engineering), 1);
  });
});
