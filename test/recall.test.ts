import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { SEED_IDS, type RunningSimulator } from '../src/simulator';
import { progressQuery } from '../src/workflows';
import {
  acceptedPosts,
  eventually,
  quietTemporalLogs,
  runStarter,
  startStack,
  type TestStack,
  jsonLines,
} from './helpers';

quietTemporalLogs();

const TASK_QUEUE = 'recall-test';
const { catalogs, images } = SEED_IDS;
/** The image that turns out bad, and one that is fine. */
const X = images.win11Nov;
const Y = images.win11Dec;

describe('rollout recall of a bad image', () => {
  let stack: TestStack;
  let simulator: RunningSimulator;
  const cli = (...args: string[]) =>
    runStarter(args, {
      ...process.env,
      TEMPORAL_ADDRESS: stack.address,
      TEMPORAL_TASK_QUEUE: TASK_QUEUE,
      USER: 'opal',
    });
  const imageOf = async (catalogId: string) => (await stack.citrix.getCatalog(catalogId)).imageId;
  const progressOf = (rolloutId: string) =>
    stack.env.client.workflow.getHandle(`rollout-${rolloutId}`).query(progressQuery, { limit: 1 });
  const pausedOf = async (scheduleId: string) =>
    (await stack.env.client.schedule.getHandle(scheduleId).describe()).state;
  const start = async (id: string, image: string, targets: string[], ...more: string[]) => {
    const run = await cli(
      'rollout',
      'start',
      '--no-health-gate',
      '--poll-interval',
      '1s',
      '--id',
      id,
      '--image',
      image,
      '--catalogs',
      targets.join(','),
      ...more,
    );
    assert.equal(run.code, 0, run.stdout + run.stderr);
  };
  const schedule = async (id: string, ...image: string[]) => {
    const created = await cli(
      'schedule',
      'create',
      '--no-health-gate',
      '--id',
      id,
      '--cron',
      '0 3 * * 3',
      ...image,
      '--catalogs',
      catalogs.finance,
    );
    assert.equal(created.code, 0, created.stderr);
  };
  const all = Object.values(catalogs).filter((id) => id !== catalogs.legal);
  const postsNow = () => Object.fromEntries(all.map((id) => [id, acceptedPosts(simulator, id)]));
  /** Nothing the recall would change has changed. */
  const unchanged = async (posts: Record<string, number>) => {
    assert.deepEqual(postsNow(), posts, 'nothing was posted');
    for (const id of ['x-one', 'x-two', 'y-running']) assert.equal((await progressOf(id)).phase, 'awaitingApproval');
    assert.equal((await pausedOf('x-weekly')).paused, false);
    await assert.rejects(
      stack.env.client.workflow.getHandle('rollout-x-done-restore').describe(),
      WorkflowNotFoundError,
    );
  };

  before(async () => {
    stack = await startStack({ taskQueue: TASK_QUEUE, simulator: { updateDurationMs: 800, acceptLagMs: 100 } });
    ({ simulator } = stack);
    // A finished rollout of X, then two of X and one of Y that each wait for approval after their canary.
    await start('x-done', X, [catalogs.sales], '--wait');
    await start('x-one', X, [catalogs.finance, catalogs.engineering], '--approval', 'afterCanary');
    await start('x-two', X, [catalogs.callCenter, catalogs.hr], '--approval', 'afterCanary');
    await start('y-running', Y, [catalogs.contractors, catalogs.engineering], '--approval', 'afterCanary');
    await schedule('x-weekly', '--image', X);
    await schedule('y-weekly', '--image', Y);
    await schedule('newest-win11', '--image-pattern', '^Win11 24H2');
    for (const id of ['x-one', 'x-two', 'y-running']) {
      await eventually(
        async () => (await progressOf(id).catch(() => undefined))?.phase === 'awaitingApproval' || undefined,
        60_000,
        `${id} awaiting approval`,
      );
    }
    // Visibility follows the workflows and schedules a moment later.
    await eventually(async () => {
      const running = `WorkflowType = 'rolloutImage' AND ExecutionStatus = 'Running' AND ImageId = '${X}'`;
      const { count } = await stack.env.client.workflow.count(running);
      let schedules = 0;
      for await (const _ of stack.env.client.schedule.list()) schedules += 1;
      return (count === 2 && schedules === 3) || undefined;
    }, 30_000);
    assert.equal(await imageOf(catalogs.sales), X);
    assert.equal(await imageOf(catalogs.finance), X);
    assert.equal(await imageOf(catalogs.callCenter), X);
    assert.equal(await imageOf(catalogs.contractors), Y);
  });
  after(() => stack?.stop());

  test('--dry-run lists every rollout and schedule of the image and what it would do, and changes nothing', async () => {
    const posts = postsNow();
    const plan = await cli('rollout', 'recall', '--image', X, '--dry-run', '--reason', 'blue screens');
    assert.equal(plan.code, 0, plan.stdout + plan.stderr);
    const text = plan.stdout;
    assert.match(text, new RegExp(`recall of image ${X} by opal: blue screens`));
    assert.match(text, /^DRY RUN/m);
    assert.match(text, /rollout-x-one\s+running \(awaitingApproval\)\s+roll back: .*return the 1 it moved/);
    assert.match(text, /rollout-x-two\s+running \(awaitingApproval\)\s+roll back/);
    assert.match(text, new RegExp(`Finance\\s+${X} -> ${images.win11Oct}`));
    assert.match(text, /rollout-x-done\s+completed\s+restore as rollout-x-done-restore: return 1 catalog/);
    assert.match(text, new RegExp(`Sales\\s+${X} -> ${images.win11Oct}`));
    assert.match(text, new RegExp(`x-weekly\\s+active\\s+pause, noting "recalled image ${X} by opal: blue screens"`));
    assert.match(text, /newest-win11\s+active\s+not paused: it picks its image by pattern/);
    assert.doesNotMatch(text, /y-running|y-weekly/, 'what rolls out another image is not part of the recall');

    const json = await cli('rollout', 'recall', '--image', X, '--dry-run', '--json');
    assert.equal(json.code, 0, json.stderr);
    const lines = jsonLines(json.stdout);
    const planned = lines.filter((l) => l.event === 'plan').map((l) => `${l.id} ${l.action}`);
    assert.deepEqual(planned.sort(), [
      'newest-win11 leave',
      'rollout-x-done restore',
      'rollout-x-one rollBack',
      'rollout-x-two rollBack',
      'x-weekly pause',
    ]);
    assert.deepEqual(lines.at(-1), {
      event: 'result',
      imageId: X,
      by: 'opal',
      dryRun: true,
      unplanned: 0,
      exitCode: 0,
    });
    await unchanged(posts);
  });

  test('without --yes and without a terminal to ask on, it exits 2 and changes nothing', async () => {
    const posts = postsNow();
    const refused = await cli('rollout', 'recall', '--image', X, '--reason', 'blue screens');
    assert.equal(refused.code, 2, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /not confirmed \(no terminal to ask on\): run again with --yes/);
    assert.match(refused.stdout, /rollout-x-one/, 'it showed what it would have done');
    await unchanged(posts);
  });

  test('--yes --wait rolls back the running rollouts, pauses the schedule and restores the finished rollout', async () => {
    const posts = postsNow();
    const run = await cli(
      'rollout',
      'recall',
      '--image',
      X,
      '--by',
      'alice',
      '--reason',
      'blue screens',
      '--yes',
      '--wait',
      '--json',
    );
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const lines = jsonLines(run.stdout);
    const steps = lines.filter((l) => l.event === 'recall');
    assert.deepEqual(steps.map((s) => `${s.id} ${s.outcome}`).sort(), [
      'newest-win11 notPaused',
      'rollout-x-done restoreStarted',
      'rollout-x-one rollbackRequested',
      'rollout-x-two rollbackRequested',
      'x-weekly paused',
    ]);
    for (const step of steps) assert.deepEqual([step.by, step.reason], ['alice', 'blue screens']);
    const ended = lines.filter((l) => l.event === 'ended').map((l) => `${l.workflowId} ${l.kind} ${l.ok}`);
    assert.deepEqual(ended.sort(), [
      'rollout-x-done-restore restore true',
      'rollout-x-one rollback true',
      'rollout-x-two rollback true',
    ]);
    assert.deepEqual(lines.at(-1), {
      event: 'result',
      imageId: X,
      by: 'alice',
      reason: 'blue screens',
      rollingBack: 2,
      restoring: 1,
      paused: 1,
      left: 1,
      failed: 0,
      exitCode: 0,
    });

    // Every catalog that X reached is back on the image it had before, each with one post; nothing else moved.
    for (const id of [catalogs.finance, catalogs.callCenter, catalogs.sales]) {
      assert.equal(await imageOf(id), images.win11Oct, id);
      assert.equal(acceptedPosts(simulator, id), posts[id]! + 1, id);
    }
    for (const id of [catalogs.engineering, catalogs.hr, catalogs.contractors]) {
      assert.equal(acceptedPosts(simulator, id), posts[id], id);
    }
    assert.equal(await imageOf(catalogs.engineering), images.win11Oct);
    assert.equal(await imageOf(catalogs.contractors), Y);

    // Who and why, where the next operator looks.
    for (const id of ['x-one', 'x-two']) {
      const status = JSON.parse((await cli('rollout', 'status', id, '--json')).stdout);
      assert.equal(status.phase, 'aborted');
      assert.equal(status.counts.rolledBack, 1);
      assert.deepEqual(
        status.steering.map((s: Record<string, string>) => [s.action, s.by, s.reason]),
        [['rollback', 'alice', 'blue screens']],
      );
    }
    const { paused, note } = await pausedOf('x-weekly');
    assert.deepEqual({ paused, note }, { paused: true, note: `recalled image ${X} by alice: blue screens` });
    assert.equal((await pausedOf('y-weekly')).paused, false);
    assert.equal((await pausedOf('newest-win11')).paused, false);
    assert.equal((await progressOf('y-running')).phase, 'awaitingApproval', "Y's rollout goes on waiting");
  });

  test('a second recall starts no second restore and posts nothing: everything is recalled already', async () => {
    const posts = postsNow();
    const again = await cli('rollout', 'recall', '--image', X, '--yes', '--json');
    assert.equal(again.code, 0, again.stdout + again.stderr);
    const lines = jsonLines(again.stdout);
    const planned = lines.filter((l) => l.event === 'plan').map((l) => `${l.id} ${l.action}`);
    assert.deepEqual(planned.sort(), [
      'newest-win11 leave',
      'rollout-x-done leave',
      'rollout-x-one leave',
      'rollout-x-two leave',
      'x-weekly leave',
    ]);
    assert.equal(lines.at(-1)!.nothingToDo, true);
    assert.deepEqual(postsNow(), posts);
    const text = (await cli('rollout', 'recall', '--image', X, '--dry-run')).stdout;
    assert.match(text, /rollout-x-done\s+completed\s+restored by rollout-x-done-restore/);
    assert.match(text, /rollout-x-one\s+completed\s+nothing to return/);
    assert.match(text, /x-weekly\s+paused\s+already paused \("recalled image .* by alice: blue screens"\)/);
  });
});
