import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SEED_IDS, type RunningSimulator } from '../src/simulator';
import {
  acceptedPosts,
  freePort,
  jsonLines,
  quietTemporalLogs,
  runStarter,
  startStack,
  type TestStack,
} from './helpers';

quietTemporalLogs();

const TASK_QUEUE = 'rollout-cli-test';
const { catalogs, images } = SEED_IDS;

describe('the rollout, list, history and schedule commands', () => {
  let stack: TestStack;
  let simulator: RunningSimulator;
  let address: string;
  let dir: string;

  before(async () => {
    const port = await freePort();
    address = `127.0.0.1:${port}`;
    stack = await startStack({ taskQueue: TASK_QUEUE, port, simulator: { updateDurationMs: 1_000, acceptLagMs: 100 } });
    ({ simulator } = stack);
    dir = await mkdtemp(path.join(tmpdir(), 'catalog-rollout-cli-'));
  });

  after(async () => {
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const cli = (...args: string[]) =>
    runStarter(args, { ...process.env, TEMPORAL_ADDRESS: address, TEMPORAL_TASK_QUEUE: TASK_QUEUE });

  test('rollout start --wait --json follows a rollout to the end and status reports it', async () => {
    const targets = [catalogs.finance, catalogs.engineering, catalogs.sales];
    const run = await cli(
      'rollout',
      'start',
      '--no-health-gate',
      '--id',
      'cli',
      '--image',
      images.win11Nov,
      '--catalogs',
      targets.join(','),
      '--canary',
      '1',
      '--batch-size',
      '2',
      '--poll-interval',
      '1s',
      '--wait',
      '--json',
    );
    assert.equal(run.code, 0, run.stderr);
    const events = jsonLines(run.stdout);
    assert.deepEqual(events[0], { event: 'started', workflowId: 'rollout-cli' });
    assert.ok(events.some((e) => e.event === 'progress' && e.phase === 'running'));
    const result = events.at(-1)!;
    assert.equal(result.event, 'result');
    assert.equal(result.phase, 'completed');
    for (const id of targets) assert.equal(acceptedPosts(simulator, id), 1);

    const status = await cli('rollout', 'status', 'cli', '--json');
    assert.equal(JSON.parse(status.stdout).phase, 'completed');
    const list = await cli('list', '--rollout', 'cli', '--type', 'update', '--json');
    assert.equal(JSON.parse(list.stdout).length, 3);

    const file = path.join(dir, 'rollout-cli.json');
    const exported = await cli('history', 'export', 'rollout-cli', '--out', file);
    assert.equal(exported.code, 0, exported.stderr);
    const history = JSON.parse(await readFile(file, 'utf8'));
    assert.equal(history.events[0].eventType, 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED');
    assert.equal((await stat(file)).mode & 0o777, 0o600, 'a history is readable by its owner only');
  });

  test('a rollout that halts makes rollout start --wait exit non-zero with the reason', async () => {
    simulator.addFault({
      match: { catalogId: catalogs.sales },
      action: { type: 'failNextUpdate', subState: 'ErrorMasterImageVerificationFailed' },
    });
    const run = await cli(
      'rollout',
      'start',
      '--no-health-gate',
      '--id',
      'cli-halt',
      '--image',
      images.win11Dec,
      '--catalogs',
      `${catalogs.sales},${catalogs.hr}`,
      '--canary',
      '1',
      '--poll-interval',
      '1s',
      '--wait',
    );
    assert.equal(run.code, 1);
    assert.match(run.stderr, /halted: 1 catalog\(s\) failed/);
    assert.match(run.stdout, /failed\s+Sales/);
    assert.equal(acceptedPosts(simulator, catalogs.hr), 0, 'the wave after the failed canary never started');
    const failed = await cli('list', '--failed', '--type', 'rollout', '--json');
    assert.ok(JSON.parse(failed.stdout).some((w: { workflowId: string }) => w.workflowId === 'rollout-cli-halt'));
  });

  test('schedule create, list, trigger and delete manage a scheduled rollout', async () => {
    const created = await cli(
      'schedule',
      'create',
      '--no-health-gate',
      '--id',
      'cli-schedule',
      '--cron',
      '0 3 * * 3',
      '--time-zone',
      'Europe/Berlin',
      '--image-pattern',
      '^Win11',
      '--catalogs',
      catalogs.callCenter,
      '--canary',
      '0',
      '--dry-run',
    );
    assert.equal(created.code, 0, created.stderr);
    const listed = await cli('schedule', 'list', '--json');
    assert.ok(JSON.parse(listed.stdout).some((s: { scheduleId: string }) => s.scheduleId === 'cli-schedule'));
    assert.equal((await cli('schedule', 'trigger', 'cli-schedule')).code, 0);
    assert.equal((await cli('schedule', 'delete', 'cli-schedule')).code, 0);
    const after = await cli('schedule', 'list', '--json');
    assert.ok(!JSON.parse(after.stdout).some((s: { scheduleId: string }) => s.scheduleId === 'cli-schedule'));
  });

  test('--version prints the release', async () => {
    const run = await cli('--version');
    assert.equal(run.code, 0);
    assert.equal(run.stdout.trim(), JSON.parse(await readFile('package.json', 'utf8')).version);
  });

  test('bad rollout input exits 2 with every problem named', async () => {
    const run = await cli(
      'rollout',
      'start',
      '--no-health-gate',
      '--catalogs',
      'not-a-guid',
      '--window',
      'Caturday 01:00-05:00 UTC',
    );
    assert.equal(run.code, 2);
    // Problems name the flags the operator typed, not the input's fields.
    assert.match(run.stderr, /--image\b/);
    assert.match(run.stderr, /--catalogs #1: /);
    assert.match(run.stderr, /--window days #1: /);
    assert.doesNotMatch(run.stderr, /imageId|catalogIds|maintenanceWindow/);
  });
});
