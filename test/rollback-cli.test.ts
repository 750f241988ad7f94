import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { SEED_IDS, type RunningSimulator } from '../src/simulator';
import { acceptedPosts, quietTemporalLogs, runStarter, startStack, type TestStack } from './helpers';

quietTemporalLogs();

const TASK_QUEUE = 'rollback-cli-test';
const { catalogs, images } = SEED_IDS;

describe('rollout rollback of a finished rollout', () => {
  let stack: TestStack;
  let simulator: RunningSimulator;
  const cli = (...args: string[]) =>
    runStarter(args, { ...process.env, TEMPORAL_ADDRESS: stack.address, TEMPORAL_TASK_QUEUE: TASK_QUEUE });
  const imageOf = async (catalogId: string) => (await stack.citrix.getCatalog(catalogId)).imageId;
  const moved = [catalogs.finance, catalogs.hr, catalogs.callCenter];

  before(async () => {
    stack = await startStack({ taskQueue: TASK_QUEUE, simulator: { updateDurationMs: 800, acceptLagMs: 100 } });
    ({ simulator } = stack);
    const rollout = await cli(
      'rollout',
      'start',
      '--no-health-gate',
      '--id',
      'nov',
      '--image',
      images.win11Nov,
      '--catalogs',
      [...moved, catalogs.engineering].join(','),
      '--batch-size',
      '3',
      '--poll-interval',
      '1s',
      '--wait',
    );
    assert.equal(rollout.code, 0, rollout.stderr);
    // Engineering moves on to December afterwards, on purpose: the rollback must leave it there.
    const onward = await cli('start', '--catalog', catalogs.engineering, '--image', images.win11Dec, '--wait');
    assert.equal(onward.code, 0, onward.stderr);
  });
  after(() => stack?.stop());

  test('--dry-run shows the plan: who goes back to which image, who is left alone and why; nothing changes', async () => {
    const posts = acceptedPosts(simulator);
    const plan = await cli('rollout', 'rollback', 'nov', '--dry-run');
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /^DRY RUN/m);
    for (const name of ['Finance', 'Human Resources', 'Call Center']) {
      assert.match(
        plan.stdout,
        new RegExp(`${name}\\s+Win11 24H2 November|${name}\\s+${images.win11Nov} -> ${images.win11Oct}`),
      );
    }
    assert.match(plan.stdout, new RegExp(`${catalogs.engineering}: now runs image ${images.win11Dec}.*left as it is`));
    assert.equal(acceptedPosts(simulator), posts, 'a plan posts nothing');
  });

  test('without --yes and without a terminal to ask on, it refuses with exit 2 and starts nothing', async () => {
    const posts = acceptedPosts(simulator);
    const refused = await cli('rollout', 'rollback', 'nov');
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /run again with --yes/);
    assert.equal(acceptedPosts(simulator), posts);
    await assert.rejects(stack.env.client.workflow.getHandle('rollout-nov-restore').describe(), WorkflowNotFoundError);
  });

  test('--yes restores the catalogs it moved, in waves, and leaves the one that moved on', async () => {
    const before = Object.fromEntries([...moved, catalogs.engineering].map((id) => [id, acceptedPosts(simulator, id)]));
    const run = await cli('rollout', 'rollback', 'nov', '--yes', '--wait', '--json');
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    assert.equal(result.event, 'result');
    assert.equal(result.phase, 'completed');
    assert.ok(result.waves.length >= 2, `restored in ${result.waves.length} wave(s)`);
    for (const id of moved) {
      assert.equal(await imageOf(id), images.win11Oct);
      assert.equal(acceptedPosts(simulator, id), before[id]! + 1);
    }
    assert.equal(await imageOf(catalogs.engineering), images.win11Dec);
    assert.equal(acceptedPosts(simulator, catalogs.engineering), before[catalogs.engineering]);
  });
});
