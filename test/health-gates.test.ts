import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
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
  spawnStarter,
} from './helpers';

quietTemporalLogs();

const TASK_QUEUE = 'health-gates-test';
/** A worker whose rollouts also ask the analysis service below. */
const ANALYSED_QUEUE = 'health-gates-analysed';
const { catalogs, images } = SEED_IDS;

/** Rollouts judged by their machines, started and steered with the CLI as an operator does. */
describe('health gates between waves', () => {
  let stack: TestStack;
  let simulator: RunningSimulator;
  let analysis: Server;
  /** What the analysis service does with the next request: answer it (status, body), or never answer. */
  let analysisAnswer: { status: number; body: unknown } | 'hang' = { status: 200, body: { verdict: 'pass' } };
  const analysed: Array<Record<string, unknown>> = [];
  const env = () => ({ ...process.env, TEMPORAL_ADDRESS: stack.address, TEMPORAL_TASK_QUEUE: TASK_QUEUE });
  const cli = (...args: string[]) => runStarter(args, env());
  const rollout = (id: string, image: string, targets: string[], ...more: string[]) => [
    'rollout',
    'start',
    '--id',
    id,
    '--image',
    image,
    '--catalogs',
    targets.join(','),
    '--poll-interval',
    '1s',
    '--health-wait',
    '2s',
    ...more,
  ];
  const phaseOf = (id: string) =>
    stack.env.client.workflow
      .getHandle(`rollout-${id}`)
      .query(progressQuery, { limit: 1 })
      .then((p) => p.phase)
      .catch(() => undefined);
  const imageOf = async (catalogId: string) => (await stack.citrix.getCatalog(catalogId)).imageId;

  before(async () => {
    analysis = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        analysed.push(JSON.parse(body) as Record<string, unknown>);
        if (analysisAnswer === 'hang') return;
        res.writeHead(analysisAnswer.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(analysisAnswer.body));
      });
    });
    await new Promise<void>((resolve) => analysis.listen(0, '127.0.0.1', resolve));
    const analysisUrl = `http://127.0.0.1:${(analysis.address() as AddressInfo).port}/analyse?token=sesame`;
    stack = await startStack({
      taskQueue: TASK_QUEUE,
      simulator: { updateDurationMs: 800, acceptLagMs: 100 },
      moreWorkers: [{ taskQueue: ANALYSED_QUEUE, worker: { analysisUrl, analysisTimeoutMs: 2_000 } }],
    });
    ({ simulator } = stack);
  });
  beforeEach(() => simulator.reset());
  after(async () => {
    await stack?.stop();
    analysis?.closeAllConnections();
    analysis?.close();
  });

  test('an image whose machines do not register halts after the canary and rolls the canary back', async () => {
    simulator.addFault({
      times: null,
      action: { type: 'unhealthyImage', imageId: images.win11Dec, unregisteredPercent: 100 },
    });
    const targets = [catalogs.finance, catalogs.engineering, catalogs.hr];
    const run = await cli(
      ...rollout('sick', images.win11Dec, targets, '--vda-update-delay', '0', '--rollback-on-halt', '--wait', '--json'),
    );
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const end = jsonLines(run.stdout).at(-1)!;
    assert.equal(end.event, 'failed');
    assert.equal(end.type, 'RolloutHalted');
    assert.match(String(end.message), /health gate failed wave 1 of 2: Finance: .*(registered|VdaRegisterFailure)/);
    assert.equal(acceptedPosts(simulator, catalogs.engineering), 0, 'nothing beyond the canary is posted');
    assert.equal(acceptedPosts(simulator, catalogs.hr), 0);
    assert.equal(acceptedPosts(simulator, catalogs.finance), 2, 'the canary was updated, then rolled back');
    assert.equal(await imageOf(catalogs.finance), images.win11Oct);
    const status = JSON.parse((await cli('rollout', 'status', 'sick', '--json')).stdout);
    assert.equal(status.lastHealth.verdict, 'fail');
    assert.equal(status.waves[0].health.verdict, 'fail');
  });

  test('a healthy image completes, and rollout status carries the machine figures of every catalog', async () => {
    const targets = [catalogs.engineering, catalogs.hr];
    const run = await cli(...rollout('well', images.win11Nov, targets, '--vda-update-delay', '0', '--wait', '--json'));
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(jsonLines(run.stdout).at(-1)!.phase, 'completed');
    const status = JSON.parse((await cli('rollout', 'status', 'well', '--json')).stdout);
    type Entry = {
      health: {
        verdict: string;
        figures: Record<'total' | 'registeredNewImage' | 'poweredOnNewImage' | 'onNewImage', number>;
      };
    };
    for (const entry of status.catalogs as Entry[]) {
      assert.equal(entry.health.verdict, 'pass');
      assert.ok(entry.health.figures.total > 0);
      assert.equal(entry.health.figures.registeredNewImage, entry.health.figures.poweredOnNewImage);
      assert.equal(entry.health.figures.onNewImage, entry.health.figures.total);
    }
    const text = (await cli('rollout', 'status', 'well')).stdout;
    assert.match(text, /health pass: \d+\/\d+ registered, \d+\/\d+ on image, 0 pending restart/);
  });

  test('machines that wait for their next restart (-1) make the gate inconclusive; approve goes on', async () => {
    simulator.setTiming({ machineRestartMs: null });
    const watcher = spawnStarter(
      rollout('waits', images.win11Dec, [catalogs.callCenter, catalogs.sales], '--wait', '--json'),
      env(),
    );
    await eventually(async () => (await phaseOf('waits')) === 'awaitingApproval' || undefined, 60_000, 'held');
    const held = JSON.parse((await cli('rollout', 'status', 'waits', '--json')).stdout);
    assert.equal(held.lastHealth.verdict, 'inconclusive');
    assert.match(held.lastHealth.reason, /wait for a restart/);
    assert.equal(acceptedPosts(simulator, catalogs.sales), 0, 'the next wave waits');
    assert.equal((await cli('rollout', 'approve', 'waits', '--by', 'dana', '--reason', 'restarts tonight')).code, 0);
    // The last wave is judged too, and held again.
    await eventually(
      async () =>
        (acceptedPosts(simulator, catalogs.sales) === 1 && (await phaseOf('waits')) === 'awaitingApproval') ||
        undefined,
      60_000,
      'the second wave held',
    );
    assert.equal((await cli('rollout', 'approve', 'waits', '--by', 'dana')).code, 0);
    const end = await watcher.exit();
    assert.equal(end.code, 0, end.stdout + end.stderr);
    assert.equal(jsonLines(end.stdout).at(-1)!.phase, 'completed');
  });

  test('a DaaS API that answers 403 makes the gate inconclusive, never pass', async () => {
    simulator.addFault({
      match: { operation: 'deliveryGroupMachines' },
      times: null,
      action: { type: 'status', status: 403 },
    });
    const watcher = spawnStarter(
      rollout(
        'forbidden',
        images.win11Nov,
        [catalogs.finance, catalogs.contractors],
        '--vda-update-delay',
        '0',
        '--wait',
      ),
      env(),
    );
    await eventually(async () => (await phaseOf('forbidden')) === 'awaitingApproval' || undefined, 60_000, 'held');
    const held = JSON.parse((await cli('rollout', 'status', 'forbidden', '--json')).stdout);
    assert.equal(held.lastHealth.verdict, 'inconclusive');
    assert.match(held.lastHealth.reason, /could not be read: .*403/);
    assert.equal((await cli('rollout', 'abort', 'forbidden', '--reason', 'no read rights on machines')).code, 0);
    assert.equal((await watcher.exit()).code, 1, 'an aborted rollout exits 1');
    assert.equal(acceptedPosts(simulator, catalogs.contractors), 0);
  });

  test('an analysis service that answers fail halts a wave whose machines are healthy', async () => {
    analysisAnswer = { status: 200, body: { verdict: 'fail', reason: 'smoke test could not launch a desktop' } };
    analysed.length = 0;
    const run = await runStarter(
      [
        ...rollout('analysed', images.win11Nov, [catalogs.sales, catalogs.callCenter], '--vda-update-delay', '0'),
        '--wait',
        '--json',
        '--task-queue',
        ANALYSED_QUEUE,
      ],
      env(),
    );
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const end = jsonLines(run.stdout).at(-1)!;
    assert.equal(end.type, 'RolloutHalted');
    assert.match(String(end.message), /the analysis says fail: smoke test could not launch a desktop/);
    assert.equal(acceptedPosts(simulator, catalogs.callCenter), 0, 'the next wave never started');
    const [sent] = analysed;
    assert.equal(sent?.rolloutId, 'analysed');
    assert.equal(sent?.verdict, 'pass', 'the machines passed; the analysis made it a fail');
    assert.equal((sent?.catalogs as unknown[]).length, 1);
    assert.ok(!(run.stdout + run.stderr).includes('sesame'), 'the analysis URL (a secret) is not repeated');
  });

  test('an analysis service that does not answer in time holds the rollout as inconclusive', async () => {
    analysisAnswer = 'hang';
    const watcher = spawnStarter(
      [
        ...rollout('unanswered', images.win11Nov, [catalogs.hr, catalogs.engineering], '--vda-update-delay', '0'),
        '--wait',
        '--task-queue',
        ANALYSED_QUEUE,
      ],
      env(),
    );
    await eventually(async () => (await phaseOf('unanswered')) === 'awaitingApproval' || undefined, 60_000, 'held');
    const held = JSON.parse((await cli('rollout', 'status', 'unanswered', '--json')).stdout);
    assert.equal(held.lastHealth.verdict, 'inconclusive');
    assert.match(held.lastHealth.reason, /the analysis service gave no answer within 2 s/);
    assert.equal((await cli('rollout', 'abort', 'unanswered')).code, 0);
    assert.equal((await watcher.exit()).code, 1);
    analysisAnswer = { status: 200, body: { verdict: 'pass' } };
  });
});
