import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SEED_IDS, type RunningSimulator } from '../src/simulator';
import { catalogUpdateWorkflowId } from '../src/shared';
import { execFile } from 'node:child_process';
import { findTemporalCli } from '../src/dev/local-temporal';
import { progressQuery, resumeSignal } from '../src/workflows';
import {
  acceptedPosts,
  commandSummaries,
  citrixEnvFor,
  eventually,
  quietTemporalLogs,
  runStarter,
  startStack,
  type TestStack,
  jsonLines,
  spawnStarter,
} from './helpers';
import { startProxy } from './helpers/proxy';

quietTemporalLogs();

const TASK_QUEUE = 'operator-cli-test';
const { catalogs, images } = SEED_IDS;

/** The CLI as an operator runs it: a process of its own, against the stack's server and task queue. */
describe('the CLI tells an operator what really happened', () => {
  let stack: TestStack;
  let simulator: RunningSimulator;
  const env = (extra: Record<string, string> = {}) => ({
    ...process.env,
    TEMPORAL_ADDRESS: stack.address,
    TEMPORAL_TASK_QUEUE: TASK_QUEUE,
    USER: 'opal',
    ...extra,
  });
  const cli = (...args: string[]) => runStarter(args, env());
  /** `temporal workflow update execute` on a rollout, as an operator without this CLI steers it. */
  const temporalUpdate = (rolloutId: string, name: string, input: object) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const args = [
        'workflow',
        'update',
        'execute',
        '--address',
        stack.address,
        '--workflow-id',
        `rollout-${rolloutId}`,
      ];
      args.push('--name', name, '--input', JSON.stringify(input), '--output', 'json');
      execFile(findTemporalCli()!, args, { timeout: 30_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) || 1 : 0, stdout, stderr }),
      );
    });
  const progressOf = (rolloutId: string) =>
    stack.env.client.workflow.getHandle(`rollout-${rolloutId}`).query(progressQuery, { limit: 1 });

  before(async () => {
    stack = await startStack({ taskQueue: TASK_QUEUE, simulator: { updateDurationMs: 1_500, acceptLagMs: 100 } });
    ({ simulator } = stack);
  });
  after(() => stack?.stop());

  test('a dry run that cannot work prints the innermost cause, not "Activity task failed", and exits 1', async () => {
    const run = await cli(
      'rollout',
      'start',
      '--no-health-gate',
      '--id',
      'dry-bad',
      '--image',
      images.importing,
      '--catalogs',
      catalogs.hr,
      '--dry-run',
    );
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stderr, /ImageNotUsable/);
    assert.match(run.stderr, /is in state/);
    assert.doesNotMatch(run.stdout + run.stderr, /Activity task failed|Workflow execution failed/);
  });

  test('a dry run shows DRY RUN, the image a pattern resolved to, and current -> target per catalog', async () => {
    const posts = acceptedPosts(simulator);
    const run = await cli(
      'rollout',
      'start',
      '--no-health-gate',
      '--id',
      'dry-plan',
      '--image-pattern',
      'November',
      '--catalogs',
      [catalogs.finance, catalogs.engineering].join(','),
      '--dry-run',
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^DRY RUN/m);
    assert.match(run.stdout, new RegExp(`image: Win11 24H2 November \\(${images.win11Nov}\\)`));
    for (const name of ['Finance', 'Engineering']) {
      assert.match(run.stdout, new RegExp(`${name}\\s+${images.win11Oct} -> Win11 24H2 November`));
    }
    assert.equal(acceptedPosts(simulator), posts, 'a dry run posts nothing');
    // The blast radius: machines and users per catalog and in all, the restarts, an ETA.
    assert.match(run.stdout, /Finance\s+.*40 machines, 312 users/);
    assert.match(run.stdout, /Engineering\s+.*120 machines, 845 users/);
    assert.match(run.stdout, /blast radius: 160 machines, 1157 users; machines take the image at their next restart/);
    assert.match(run.stdout, /about \d+h?\s?\d*m? in all|about \d+[hm]/);
  });

  test('a dry run flags a catalog the image does not fit and one whose image of today is gone', async () => {
    const posts = acceptedPosts(simulator);
    simulator.patchCatalog(catalogs.sales, { imageId: images.deprecated });
    try {
      const run = await cli(
        'rollout',
        'start',
        '--id',
        'dry-radius',
        '--image',
        images.win11Nov,
        '--catalogs',
        [catalogs.legal, catalogs.sales].join(','),
        '--vda-update-delay',
        '0',
        '--dry-run',
        '--json',
      );
      assert.equal(run.code, 1, 'a plan with a catalog that would fail exits 1');
      const plan = jsonLines(run.stdout).at(-1)! as {
        catalogs: Array<Record<string, unknown>>;
        blastRadius: Record<string, unknown>;
      };
      const legal = plan.catalogs.find((c) => c['catalogId'] === catalogs.legal)!;
      assert.equal(legal['state'], 'notStarted');
      const error = (plan as unknown as { errors: Array<{ catalogId: string; message: string }> }).errors.find(
        (e) => e.catalogId === catalogs.legal,
      );
      assert.match(String(error?.message), /it would fail: .*session/i);
      const sales = plan.catalogs.find((c) => c['catalogId'] === catalogs.sales)!;
      assert.equal((sales['impact'] as { previousImageReady: boolean }).previousImageReady, false);
      assert.equal(plan.blastRadius['noRollbackImage'], 1);
      assert.equal(plan.blastRadius['restarts'], 'every machine restarts as its catalog finishes');
      assert.equal(acceptedPosts(simulator), posts);
    } finally {
      simulator.patchCatalog(catalogs.sales, { imageId: images.win11Oct });
    }
  });

  test('status of a halted rollout shows why it halted and exits 1', async () => {
    simulator.addFault({
      match: { operation: 'updateImage', catalogId: catalogs.callCenter },
      action: { type: 'failNextUpdate', subState: 'ErrorMasterImageVerificationFailed' },
    });
    const run = await cli(
      'rollout',
      'start',
      '--no-health-gate',
      '--id',
      'halts',
      '--image',
      images.win11Nov,
      '--catalogs',
      catalogs.callCenter,
      '--poll-interval',
      '1s',
      '--wait',
      '--json',
    );
    assert.equal(run.code, 1);
    const last = jsonLines(run.stdout).at(-1)!;
    assert.equal(last.event, 'failed', 'the last JSON line says how it ended');
    assert.equal(last.type, 'RolloutHalted');

    const status = await cli('rollout', 'status', 'halts');
    assert.equal(status.code, 1, 'a halted rollout is a failure for scripts');
    assert.match(status.stdout, /FAILED/);
    assert.match(status.stdout, /halted/);
    assert.match(status.stdout, /ErrorMasterImageVerificationFailed/);
    assert.doesNotMatch(status.stdout, /resolving/);
    const json = JSON.parse((await cli('rollout', 'status', 'halts', '--json')).stdout);
    assert.equal(json.workflowStatus, 'FAILED');
    assert.equal(json.phase, 'halted');
  });

  test('pause, resume and approve record who and why, and rollout status shows them', async () => {
    const watcher = spawnStarter(
      [
        'rollout',
        'start',
        '--no-health-gate',
        '--id',
        'steered',
        '--image',
        images.win11Nov,
        '--catalogs',
        [catalogs.hr, catalogs.engineering].join(','),
        '--approval',
        'afterCanary',
        '--bake',
        '1s',
        '--poll-interval',
        '1s',
        '--wait',
        '--json',
      ],
      env(),
    );
    await eventually(
      async () => (await progressOf('steered').catch(() => undefined))?.phase === 'awaitingApproval' || undefined,
      60_000,
      'awaiting approval',
    );
    // What the Temporal UI shows: a summary of the rollout, and its current details as it goes.
    const handle = stack.env.client.workflow.getHandle('rollout-steered');
    const description = await handle.describe();
    assert.equal(await description.staticSummary(), `${images.win11Nov} → 2 catalogs (rollout steered)`);
    assert.equal(
      await description.staticDetails(),
      'A canary of 1, then waves of 10, 5 catalogs at a time; approval after the canary.\n' +
        'Bakes 1s after each wave.\nNo health gate.\nHalts past 0 failed catalogs.',
    );
    const metadata = await handle.query<{ currentDetails: string }>('__temporal_workflow_metadata');
    assert.match(metadata.currentDetails, /\*\*awaitingApproval\*\* · wave 2\/2 · 1\/2 catalogs on the image/);
    assert.match(metadata.currentDetails, /waits for `rollout approve steered`/);
    assert.equal((await cli('rollout', 'pause', 'steered', '--by', 'bob', '--reason', 'change freeze')).code, 0);
    assert.equal((await cli('rollout', 'resume', 'steered', '--by', 'bob')).code, 0);
    const approved = await cli('rollout', 'approve', 'steered', '--reason', 'canary looks good');
    assert.equal(approved.code, 0, approved.stderr);
    const end = await watcher.exit();
    assert.equal(end.code, 0, end.stderr);
    assert.equal(jsonLines(end.stdout).at(-1)!.phase, 'completed');
    // What the UI shows beside each activity and timer: what it does, to which catalog, for how long.
    const rolloutSteps = await commandSummaries(stack.env.client, 'rollout-steered');
    assert.equal(rolloutSteps[0], 'resolveRolloutTargets: resolve the image and the catalogs');
    assert.ok(rolloutSteps.includes('timer: bake 1s after wave 1'), rolloutSteps.join('\n'));
    assert.deepEqual(
      [...new Set(await commandSummaries(stack.env.client, catalogUpdateWorkflowId(catalogs.engineering)))],
      [
        `validateCatalogUpdate: validate catalog ${catalogs.engineering} for image ${images.win11Nov}`,
        'postImageUpdate: post image Win11 24H2 November to Engineering',
        'pollCatalogUpdate: poll catalog Engineering',
      ],
    );

    const status = JSON.parse((await cli('rollout', 'status', 'steered', '--json')).stdout);
    const steering = (status.steering as Array<Record<string, string>>).map(({ action, by, reason }) => ({
      action,
      by,
      reason,
    }));
    assert.deepEqual(steering, [
      { action: 'pause', by: 'bob', reason: 'change freeze' },
      { action: 'resume', by: 'bob', reason: undefined },
      { action: 'approve', by: 'opal', reason: 'canary looks good' },
    ]);
    const text = (await cli('rollout', 'status', 'steered')).stdout;
    assert.match(text, /pause by bob: change freeze/);
    assert.match(text, /approve by opal: canary looks good/);
  });

  test('an aborted rollout makes --wait exit 1 and records who aborted it and why', async () => {
    const watcher = spawnStarter(
      [
        'rollout',
        'start',
        '--no-health-gate',
        '--id',
        'aborted',
        '--image',
        images.win11Dec,
        '--catalogs',
        [catalogs.finance, catalogs.sales].join(','),
        '--approval',
        'afterCanary',
        '--poll-interval',
        '1s',
        '--wait',
        '--json',
      ],
      env(),
    );
    await eventually(
      async () => (await progressOf('aborted').catch(() => undefined))?.phase === 'awaitingApproval' || undefined,
      60_000,
      'awaiting approval',
    );
    const abort = await cli('rollout', 'abort', 'aborted', '--by', 'alice', '--reason', 'wrong image');
    assert.equal(abort.code, 0, abort.stderr);
    const end = await watcher.exit();
    assert.equal(end.code, 1, 'an aborted rollout did not do what it was asked');
    const result = jsonLines(end.stdout).at(-1)!;
    assert.equal(result.event, 'result');
    assert.equal(result.phase, 'aborted');
    assert.match(String(result.reason), /aborted by alice: wrong image/);
    assert.equal((await cli('rollout', 'pause', 'aborted')).code, 2, 'steering a finished rollout is refused');
  });

  test('status says no worker is polling, at once, instead of hanging', async () => {
    const started = await runStarter(
      ['start', '--catalog', catalogs.legal, '--image', images.citrixWin11, '--task-queue', 'nobody-polls-this'],
      env(),
    );
    assert.equal(started.code, 0, started.stderr);
    const begun = Date.now();
    const status = await cli('status', catalogs.legal);
    assert.ok(Date.now() - begun < 15_000, `status took ${Date.now() - begun} ms`);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /RUNNING/);
    assert.match(status.stdout, /no worker is polling task queue nobody-polls-this/);
    await stack.env.client.workflow.getHandle(catalogUpdateWorkflowId(catalogs.legal)).terminate('test cleanup');
  });

  test('status shows the failing Citrix call and the next try while Citrix answers 503', async () => {
    const faultId = simulator.addFault({
      match: { operation: 'catalog', catalogId: catalogs.contractors },
      times: null,
      action: { type: 'status', status: 503 },
    });
    try {
      const started = await cli(
        'start',
        '--catalog',
        catalogs.contractors,
        '--image',
        images.win11Nov,
        '--poll-interval',
        '1s',
      );
      assert.equal(started.code, 0, started.stderr);
      const report = await eventually(
        async () => {
          const json = JSON.parse((await cli('status', catalogs.contractors, '--json')).stdout);
          return json.retrying?.length ? json : undefined;
        },
        90_000,
        'a retrying activity',
      );
      assert.match(report.retrying[0].lastFailure, /503/);
      assert.ok(report.retrying[0].attempt >= 2);
      assert.ok(report.retrying[0].nextAttemptAt, 'the next try is shown');
      const text = (await cli('status', catalogs.contractors)).stdout;
      assert.match(text, /retrying \w+ \(attempt \d+\): .*503/);
    } finally {
      simulator.removeFault(faultId);
    }
    const watched = await cli('status', catalogs.contractors, '--wait', '--json');
    assert.equal(watched.code, 0, watched.stderr);
    assert.equal(jsonLines(watched.stdout).at(-1)!.event, 'result', 'status --wait follows the update to its end');
  });

  test(
    'start --wait rides out a Temporal connection that drops, and reports the result',
    { timeout: 240_000 },
    async () => {
      const proxy = await startProxy(stack.address);
      try {
        simulator.setTiming({ updateDurationMs: 20_000 });
        const watcher = spawnStarter(
          [
            'start',
            '--catalog',
            catalogs.finance,
            '--image',
            images.win11Oct,
            '--address',
            proxy.address,
            '--poll-interval',
            '1s',
            '--wait',
            '--json',
          ],
          env(),
        );
        await watcher.line((line) => line.includes('"event":"status"') && line.includes('Processing'), 60_000);
        proxy.cut();
        // The SDK retries for a while on its own; once it gives up, the watcher says so and keeps trying.
        await watcher.line((line) => line.includes('"event":"disconnected"'), 90_000);
        proxy.restore();
        const end = await watcher.exit();
        assert.equal(end.code, 0, end.stdout + end.stderr);
        const events = jsonLines(end.stdout);
        assert.equal(events.at(-1)!.event, 'result');
        assert.ok(events.some((e) => e.event === 'reconnected'));
      } finally {
        simulator.setTiming({ updateDurationMs: 1_500 });
        await proxy.close();
      }
    },
  );

  test('cancel of a finished update says there is nothing to cancel and exits 2', async () => {
    const done = await cli(
      'start',
      '--catalog',
      catalogs.hr,
      '--image',
      images.win11Dec,
      '--poll-interval',
      '1s',
      '--wait',
    );
    assert.equal(done.code, 0, done.stderr);
    const summary = await (
      await stack.env.client.workflow.getHandle(catalogUpdateWorkflowId(catalogs.hr)).describe()
    ).staticSummary();
    assert.equal(summary, `catalog ${catalogs.hr} → image ${images.win11Dec}`, 'the UI shows what the update does');
    const cancel = await cli('cancel', catalogs.hr);
    assert.equal(cancel.code, 2);
    assert.match(cancel.stderr, /nothing to cancel: .* already ended COMPLETED/);
    assert.doesNotMatch(cancel.stdout, /updated|imageAssigned/, 'the old result is not reprinted as news');
  });

  test('attaching to a running update names the options it ignored', async () => {
    simulator.setTiming({ updateDurationMs: 10_000 });
    try {
      const first = await cli(
        'start',
        '--catalog',
        catalogs.engineering,
        '--image',
        images.win11Dec,
        '--poll-interval',
        '1s',
      );
      assert.equal(first.code, 0, first.stderr);
      const second = await cli(
        'start',
        '--catalog',
        catalogs.engineering,
        '--image',
        images.win11Dec,
        '--poll-interval',
        '5s',
        '--deadline',
        '3h',
        '--json',
      );
      assert.equal(second.code, 0, second.stderr);
      const event = JSON.parse(second.stdout);
      assert.equal(event.event, 'attached');
      assert.deepEqual([...event.ignored].sort(), ['--deadline', '--poll-interval']);
      const text = await cli(
        'start',
        '--catalog',
        catalogs.engineering,
        '--image',
        images.win11Dec,
        '--deadline',
        '3h',
      );
      assert.match(text.stdout, /keeps its own .*--deadline.*: these options were ignored/);
      assert.equal((await cli('status', catalogs.engineering, '--wait')).code, 0);
    } finally {
      simulator.setTiming({ updateDurationMs: 1_500 });
    }
  });

  test('--address and --namespace flags win over the environment', async () => {
    const run = await runStarter(
      ['list', '--type', 'rollout', '--json', '--address', stack.address, '--namespace', 'default'],
      env({ TEMPORAL_ADDRESS: '127.0.0.1:1', TEMPORAL_NAMESPACE: 'no-such-namespace' }),
    );
    assert.equal(run.code, 0, run.stderr);
    assert.ok((JSON.parse(run.stdout) as unknown[]).length >= 1);
    const unreachable = await runStarter(['list'], env({ TEMPORAL_ADDRESS: '127.0.0.1:1' }));
    assert.equal(unreachable.code, 3, 'an unreachable server is "could not tell"');
  });

  test('schedule pause records who paused it, and describe is a summary an admin reads', async () => {
    const created = await cli(
      'schedule',
      'create',
      '--no-health-gate',
      '--id',
      'patch-tuesday',
      '--cron',
      '0 3 * * 3',
      '--time-zone',
      'Europe/Berlin',
      '--image',
      images.win11Nov,
      '--catalogs',
      catalogs.finance,
      '--json',
    );
    assert.equal(created.code, 0, created.stderr);
    assert.equal(JSON.parse(created.stdout).event, 'created');
    assert.equal((await cli('schedule', 'pause', 'patch-tuesday')).code, 0);
    const described = await cli('schedule', 'describe', 'patch-tuesday');
    assert.equal(described.code, 0, described.stderr);
    assert.match(described.stdout, /paused: paused by opal/);
    assert.match(described.stdout, /0 3 \* \* 3 \(Europe\/Berlin\)/);
    assert.match(described.stdout, new RegExp(images.win11Nov));
    assert.match(described.stdout, /1 catalogs/);
    assert.ok(described.stdout.trim().split('\n').length <= 12, described.stdout);
    assert.equal((await cli('schedule', 'delete', 'patch-tuesday')).code, 0);
  });

  test('a scheduled rollout that fails pauses its schedule, unless created with --no-pause-on-failure', async () => {
    const create = (id: string, ...flags: string[]) =>
      cli(
        'schedule',
        'create',
        '--no-health-gate',
        '--id',
        id,
        '--cron',
        '0 3 1 1 *',
        '--image',
        images.importing,
        '--catalogs',
        catalogs.legal,
        ...flags,
      );
    const describeJson = async (id: string) => JSON.parse((await cli('schedule', 'describe', id, '--json')).stdout);
    for (const [id, flags] of [
      ['fails-pauses', []],
      ['fails-repeats', ['--no-pause-on-failure']],
    ] as const) {
      const created = await create(id, ...flags);
      assert.equal(created.code, 0, created.stderr);
      assert.equal((await cli('schedule', 'trigger', id)).code, 0);
    }
    assert.equal((await describeJson('fails-pauses')).pauseOnFailure, true, 'pausing is the default');
    await eventually(async () => (await describeJson('fails-pauses')).paused || undefined, 60_000, 'paused');
    const described = await cli('schedule', 'describe', 'fails-pauses');
    assert.match(described.stdout, /on failure\s+pauses/);

    const repeats = await describeJson('fails-repeats');
    assert.equal(repeats.pauseOnFailure, false);
    await eventually(
      async () => (await describeJson('fails-repeats')).recentRuns.length > 0 || undefined,
      60_000,
      'the run recorded',
    );
    const [run] = (await describeJson('fails-repeats')).recentRuns as Array<{ workflowId: string }>;
    const scheduledRun = stack.env.client.workflow.getHandle(run!.workflowId);
    await assert.rejects(scheduledRun.result(), 'the scheduled rollout failed');
    const shown = await scheduledRun.describe();
    assert.match((await shown.staticSummary()) ?? '', /→ 1 catalogs \(rollout fails-repeats-<time>\)/);
    assert.match((await shown.staticDetails()) ?? '', /A canary of 1, then waves of 10.*\nNo health gate\./);
    assert.equal((await describeJson('fails-repeats')).paused, false, 'it keeps its calendar');
    for (const id of ['fails-pauses', 'fails-repeats']) assert.equal((await cli('schedule', 'delete', id)).code, 0);
  });

  test('catalogs shows each catalog with its current image', async () => {
    const run = await runStarter(['catalogs'], { ...env(), ...citrixEnvFor(simulator) });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /CURRENT IMAGE/);
    assert.match(run.stdout, new RegExp(`Legal\\s+Win11 24H2 October \\(${images.win11Oct}\\)`));
  });

  test('steering updates refuse what the rollout state forbids, answer its phase, and the old signals still steer', async () => {
    // The canary's update never ends on its own: the rollout stays running while it is steered. Its image is one the
    // catalog does not run yet, whatever the tests before moved it to.
    simulator.setTiming({ updateDurationMs: Infinity });
    const canary = catalogs.sales;
    const { imageId: current } = await stack.citrix.getCatalog(canary);
    const image = [images.win11Nov, images.win11Dec].find((candidate) => candidate !== current)!;
    const postsBefore = acceptedPosts(simulator, canary);
    const id = 'steered-by-updates';
    const handle = stack.env.client.workflow.getHandle(`rollout-${id}`);
    try {
      const started = await cli(
        ...['rollout', 'start', '--no-health-gate', '--id', id, '--image', image, '--catalogs'],
        ...[[canary, catalogs.legal].join(','), '--canary', '1', '--poll-interval', '1s'],
      );
      assert.equal(started.code, 0, started.stderr);
      await eventually(
        async () => acceptedPosts(simulator, canary) > postsBefore || undefined,
        30_000,
        'the canary post',
      );

      const notPaused = await cli('rollout', 'resume', id, '--by', 'bob');
      assert.equal(notPaused.code, 2, notPaused.stderr);
      assert.match(notPaused.stderr, /cannot resume: it is not paused/);

      // What an operator without this CLI runs: the Temporal CLI, one JSON argument.
      const paused = await temporalUpdate(id, 'pause', { by: 'ops', reason: 'freeze' });
      assert.equal(paused.code, 0, paused.stderr);
      assert.match(paused.stdout, /"phase":\s*"running"/);
      assert.match(paused.stdout, /"paused":\s*true/);

      const twice = await cli('rollout', 'pause', id, '--by', 'bob');
      assert.equal(twice.code, 2);
      assert.match(twice.stderr, /cannot pause: it is already paused \(by ops at /);
      const nobody = await temporalUpdate(id, 'abort', {});
      assert.notEqual(nobody.code, 0, 'an update that does not say who is refused');
      assert.match(nobody.stderr + nobody.stdout, /say who does it/);

      // A sender of an earlier release signals; the rollout takes it as before.
      await handle.signal(resumeSignal, { by: 'legacy-script' });
      await eventually(async () => ((await progressOf(id)).paused === false ? true : undefined), 10_000, 'resumed');
      assert.equal((await progressOf(id)).steering?.at(-1)?.by, 'legacy-script');

      const aborted = jsonLines((await cli('rollout', 'abort', id, '--by', 'alice', '--json')).stdout).at(-1)!;
      assert.deepEqual([aborted.phase, aborted.stopping, aborted.rollbackRequested], ['running', true, false]);
      const abortAgain = await cli('rollout', 'abort', id, '--by', 'bob');
      assert.equal(abortAgain.code, 2);
      assert.match(abortAgain.stderr, /cannot abort: it is already stopping \(by alice at /);
      const rollback = jsonLines((await cli('rollout', 'rollback', id, '--by', 'carol', '--json')).stdout).at(-1)!;
      assert.deepEqual([rollback.event, rollback.rollbackRequested], ['rollbackRequested', true]);
      const rollbackAgain = await cli('rollout', 'rollback', id, '--by', 'dave');
      assert.equal(rollbackAgain.code, 2);
      assert.match(rollbackAgain.stderr, /cannot rollback: a rollback was already requested \(by carol at /);
    } finally {
      simulator.setTiming({ updateDurationMs: 1_500 });
      simulator.completeUpdate(canary);
      await handle.terminate('test cleanup').catch(() => undefined);
    }
  });
});
