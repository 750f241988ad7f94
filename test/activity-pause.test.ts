import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { findTemporalCli } from '../src/dev/local-temporal';
import { catalogUpdateWorkflowId } from '../src/shared';
import { SEED_IDS, type RunningSimulator } from '../src/simulator';
import { statusQuery, updateCatalogImage } from '../src/workflows';
import {
  acceptedPosts,
  captureTemporalLogs,
  capturedLogLines,
  eventually,
  startStack,
  type TestStack,
} from './helpers';

captureTemporalLogs();

const TASK_QUEUE = 'activity-pause-test';
const { catalogs, images } = SEED_IDS;

/** What an operator does during a Citrix outage: pause the polls with the Temporal CLI, and unpause them later. */
describe('an operator pauses and unpauses the poll of a long update', () => {
  let stack: TestStack;
  let simulator: RunningSimulator;
  const temporal = (...args: string[]) =>
    promisify(execFile)(findTemporalCli()!, [...args, '--address', stack.address], { timeout: 30_000 });

  before(async () => {
    // The catalog stays Processing until the test says otherwise.
    stack = await startStack({ taskQueue: TASK_QUEUE, simulator: { updateDurationMs: Infinity, acceptLagMs: 0 } });
    ({ simulator } = stack);
  });
  after(() => stack?.stop());

  test('the paused poll stops without failing the update, and resumes to one post and a finished update', async () => {
    const workflowId = catalogUpdateWorkflowId(catalogs.finance);
    const handle = await stack.env.client.workflow.start(updateCatalogImage, {
      taskQueue: TASK_QUEUE,
      workflowId,
      args: [{ catalogId: catalogs.finance, imageId: images.win11Nov, pollIntervalMs: 1_000 }],
    });
    const pendingPoll = async () =>
      (await handle.describe()).raw.pendingActivities?.find((a) => a.activityType?.name === 'pollCatalogUpdate');
    const reads = () => simulator.requests().filter((r) => r.operation === 'catalog').length;
    // The first poll reports the catalog Processing at once; the one after it waits in its loop.
    await eventually(async () => (await handle.query(statusQuery)).catalogState === 'Processing' || undefined, 60_000);
    const poll = await eventually(pendingPoll, 30_000, 'the poll waiting');

    await temporal('activity', 'pause', '--workflow-id', workflowId, '--activity-id', poll.activityId!);
    await eventually(async () => (await pendingPoll())?.paused || undefined, 30_000, 'the poll paused');
    // The running attempt notices at its next heartbeat and stops reading Citrix.
    await eventually(
      () => capturedLogLines.some((line) => line.includes('activity paused: it carries on when unpaused')) || undefined,
      30_000,
      'the pause logged',
    );
    const readsWhilePaused = reads();
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    assert.equal(reads(), readsWhilePaused, 'a paused poll reads nothing');
    const paused = await handle.describe();
    assert.equal(paused.status.name, 'RUNNING', 'the update waits; it did not fail');
    assert.ok(
      !capturedLogLines.some((line) => /^(WARN|ERROR) .*pollCatalogUpdate/.test(line) && /paus/i.test(line)),
      'the pause is no warning or error in the log',
    );

    await temporal('activity', 'unpause', '--workflow-id', workflowId, '--activity-id', poll.activityId!);
    await eventually(async () => reads() > readsWhilePaused || undefined, 30_000, 'reads again after unpause');
    simulator.completeUpdate(catalogs.finance);
    const result = await handle.result();
    assert.equal(result.outcome, 'imageAssigned');
    assert.equal(acceptedPosts(simulator, catalogs.finance), 1, 'one post, before and after the pause');
  });
});
