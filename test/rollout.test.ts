import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { CitrixClient } from '../src/citrix';
import {
  createRolloutSchedule,
  listWorkflows,
  retryWorkflow,
  startRollout,
  triggerRolloutSchedule,
} from '../src/client';
import { catalogUpdateWorkflowId } from '../src/shared';
import { type RolloutInput, type RolloutProgress, type RolloutResult, catalogsOf } from '../src/shared/rollout';
import { SEED_IDS, type RunningSimulator } from '../src/simulator';
import { startCatalogUpdate } from '../src/client';
import { abortSignal, approveUpdate, pauseSignal, progressQuery, resumeSignal } from '../src/workflows';
import {
  acceptedPosts,
  eventually,
  failureOf,
  quietTemporalLogs,
  seedWithCatalogs,
  sleep,
  startStack,
  type TestStack,
} from './helpers';

quietTemporalLogs();

const TASK_QUEUE = 'rollout-test';
const { images } = SEED_IDS;
const seed = seedWithCatalogs(12);
const ids = seed.catalogs.map((catalog) => catalog.id);

describe('rolloutImage across many catalogs', () => {
  let stack: TestStack;
  let env: TestWorkflowEnvironment;
  let simulator: RunningSimulator;
  let citrix: CitrixClient;

  /** A Slack-style webhook receiver; `refuse` makes it answer 500 to everything. */
  const webhook = { messages: [] as Array<{ event: string; text: string; rolloutId: string }>, refuse: false };
  let receiver: Server;

  before(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        if (webhook.refuse) return void res.writeHead(500).end();
        webhook.messages.push(JSON.parse(body));
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const { port } = receiver.address() as AddressInfo;
    stack = await startStack({
      taskQueue: TASK_QUEUE,
      simulator: { seed, updateDurationMs: 1_000, acceptLagMs: 100 },
      worker: { postRetrySettleMs: 500, webhookUrl: `http://127.0.0.1:${port}/hooks/rollouts` },
    });
    ({ env, simulator, citrix } = stack);
  });

  after(async () => {
    await stack?.stop();
    receiver?.close();
  });

  beforeEach(() => simulator.reset());

  const rollout = (input: Partial<RolloutInput>) =>
    startRollout(env.client, TASK_QUEUE, {
      healthGate: false,
      imageId: images.win11Nov,
      pollIntervalMs: 1_000,
      ...input,
    });
  const progressOf = (handle: { query: (q: typeof progressQuery) => Promise<RolloutProgress> }) =>
    handle.query(progressQuery).catch(() => undefined);
  /** The restore rollout that returns what `rolloutId` moved, as `rollout rollback` starts it for a finished one. */
  const restoreRollout = (rolloutId: string) =>
    startRollout(env.client, TASK_QUEUE, {
      healthGate: false,
      rolloutId: `${rolloutId}-restore`,
      restoreRolloutId: rolloutId,
      canaryCount: 0,
      pollIntervalMs: 1_000,
    });
  const postsTo = (catalogIds: string[]) => catalogIds.reduce((sum, id) => sum + acceptedPosts(simulator, id), 0);

  test('rolls out to 10 catalogs in a canary wave and two batches, one wave after the other', async () => {
    const targets = ids.slice(0, 10);
    const handle = await rollout({ catalogIds: targets, canaryCount: 1, batchSize: 5, maxParallel: 3 });
    const result = await handle.result();

    assert.equal(result.phase, 'completed');
    assert.deepEqual(
      result.waves.map((w) => w.catalogCount),
      [1, 5, 4],
    );
    assert.ok(catalogsOf(result).every((c) => c.state === 'imageAssigned'));
    assert.deepEqual(result.counts, { imageAssigned: 10 });
    for (const id of targets) assert.equal(acceptedPosts(simulator, id), 1);
    // Times per catalog are in the progress query (the result keeps only ids and outcomes).
    const detail = await handle.query(progressQuery);
    for (let wave = 1; wave < result.waves.length; wave++) {
      const previousEnd = Date.parse(result.waves[wave - 1]!.finishedAt!);
      const starts = detail.catalogs.filter((c) => c.wave === wave).map((c) => Date.parse(c.startedAt!));
      assert.ok(Math.min(...starts) >= previousEnd, `wave ${wave + 1} started before wave ${wave} finished`);
    }
    for (const id of targets) assert.equal((await citrix.getCatalog(id)).imageId, images.win11Nov);
    assert.equal(catalogsOf(result)[0]!.previousImageId, images.win11Oct);
  });

  test('waits at the approval gate until someone approves, and records who did', async () => {
    const targets = ids.slice(0, 3);
    const handle = await rollout({ catalogIds: targets, canaryCount: 1, batchSize: 2, approval: 'afterCanary' });
    await eventually(
      async () => ((await progressOf(handle))?.phase === 'awaitingApproval' ? true : undefined),
      20_000,
      'the gate',
    );
    assert.equal(postsTo(targets.slice(1)), 0, 'nothing past the canary was posted before approval');
    await assert.rejects(handle.executeUpdate(approveUpdate, { args: [{ by: '  ' }] }), WorkflowUpdateFailedError);

    const approval = await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
    assert.deepEqual(approval, { wave: 1, approvedBy: 'alice' });
    const result = await handle.result();
    assert.equal(result.phase, 'completed');
    assert.equal(result.waves[1]!.approvedBy, 'alice');
    assert.equal(postsTo(targets), 3);
    await assert.rejects(handle.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] }));
  });

  test('a failure in wave 2 halts the rollout and rolls the moved catalogs back', async () => {
    const targets = ids.slice(0, 6);
    simulator.addFault({
      match: { catalogId: targets[2] },
      action: { type: 'failNextUpdate', subState: 'ErrorMasterImageProvisioningFailed', atPercent: 30 },
    });
    const handle = await rollout({
      catalogIds: targets,
      canaryCount: 1,
      batchSize: 2,
      maxParallel: 2,
      rollbackOnHalt: true,
    });
    const failure = await failureOf(handle.result());
    assert.equal(failure.type, 'RolloutHalted');
    const halted = failure.details?.[0] as RolloutResult;
    const state = (id: string) => catalogsOf(halted).find((c) => c.catalogId === id)!.state;

    assert.equal(state(targets[2]!), 'failed');
    assert.match(halted.errors.find((c) => c.catalogId === targets[2])!.message, /ErrorMasterImageProvisioningFailed/);
    for (const id of targets.slice(3)) assert.equal(state(id), 'notStarted');
    assert.equal(postsTo(targets.slice(3)), 0, 'waves 3 and 4 were never posted');
    for (const id of [targets[0]!, targets[1]!]) {
      assert.equal(state(id), 'rolledBack');
      assert.equal((await citrix.getCatalog(id)).imageId, images.win11Oct, 'back on its previous image');
    }
  });

  test('pause finishes the catalogs in flight and starts no new one until resume', async () => {
    const targets = ids.slice(0, 4);
    simulator.setTiming({ updateDurationMs: 2_000 });
    const handle = await rollout({ catalogIds: targets, canaryCount: 0, batchSize: 4, maxParallel: 1 });
    await eventually(() => (acceptedPosts(simulator) >= 1 ? true : undefined), 20_000, 'the first post');
    await handle.signal(pauseSignal);
    await eventually(
      async () => {
        const progress = await progressOf(handle);
        return progress?.catalogs.filter((c) => c.state === 'imageAssigned').length === 1 ? true : undefined;
      },
      20_000,
      'the in-flight catalog to finish',
    );
    await sleep(2_000);
    assert.equal(acceptedPosts(simulator), 1, 'no new catalog started while paused');
    assert.equal((await progressOf(handle))?.paused, true);

    await handle.signal(resumeSignal);
    const result = await handle.result();
    assert.equal(result.phase, 'completed');
    assert.equal(postsTo(targets), 4);
  });

  test('abort mid-wave watches the catalog in flight to its end and starts no other', async () => {
    const targets = ids.slice(0, 4);
    simulator.setTiming({ updateDurationMs: 2_000 });
    const handle = await rollout({ catalogIds: targets, canaryCount: 0, batchSize: 4, maxParallel: 1 });
    await eventually(() => (acceptedPosts(simulator) >= 1 ? true : undefined), 20_000, 'the first post');
    await handle.signal(abortSignal, { reason: 'change freeze', by: 'ops' });
    const result = await handle.result();
    assert.equal(result.phase, 'aborted');
    assert.match(result.reason ?? '', /change freeze/);
    assert.equal(catalogsOf(result)[0]!.state, 'imageAssigned');
    assert.ok(
      catalogsOf(result)
        .slice(1)
        .every((c) => c.state === 'notStarted'),
    );
    assert.equal(acceptedPosts(simulator), 1);
  });

  test('a dry run resolves the targets and the plan, and posts nothing', async () => {
    simulator.patchCatalog(ids[1]!, { imageId: images.win11Nov });
    simulator.patchCatalog(ids[2]!, { state: 'Error', subState: 'ErrorMasterImageNotFound' });
    const handle = await rollout({
      allCatalogs: true,
      catalogNamePattern: '^Pool 00[1-5]$',
      dryRun: true,
      batchSize: 2,
    });
    const plan = await handle.result();
    assert.equal(plan.phase, 'planned');
    assert.equal(plan.catalogCount, 5);
    assert.deepEqual(
      plan.waves.map((w) => w.catalogCount),
      [1, 2, 2],
    );
    assert.equal(catalogsOf(plan).find((c) => c.catalogId === ids[1])!.state, 'alreadyCurrent');
    assert.equal(plan.errors.find((c) => c.catalogId === ids[2])!.type, 'CatalogNotReady');
    assert.equal(simulator.requests().filter((r) => r.operation === 'updateImage').length, 0);
  });

  test('a rollout told to start later waits durably and touches nothing before then', async () => {
    const startAt = new Date(Date.now() + 3_000).toISOString();
    const handle = await rollout({ catalogIds: ids.slice(0, 1), startAt });
    await eventually(async () => ((await progressOf(handle))?.phase === 'waitingForStart' ? true : undefined));
    assert.equal(simulator.requests().length, 0);
    const result = await handle.result();
    assert.equal(result.phase, 'completed');
    const firstCall = simulator.requests()[0]!;
    assert.ok(Date.parse(firstCall.time) >= Date.parse(startAt) - 50, 'nothing was called before startAt');
  });

  test('two rollouts sharing a catalog never update it twice', async () => {
    simulator.setTiming({ updateDurationMs: 3_000 });
    const shared = ids[0]!;
    const first = await rollout({ rolloutId: 'first', catalogIds: [shared], canaryCount: 0 });
    await eventually(() => (acceptedPosts(simulator, shared) === 1 ? true : undefined), 20_000, 'the first post');
    const second = await rollout({
      rolloutId: 'second',
      catalogIds: [shared, ids[1]!],
      canaryCount: 0,
      failureBudget: 1,
    });
    const secondResult = await second.result();
    assert.equal((await first.result()).phase, 'completed');
    assert.equal(catalogsOf(secondResult).find((c) => c.catalogId === shared)!.state, 'failed');
    assert.equal(secondResult.errors.find((c) => c.catalogId === shared)!.type, 'CatalogBusy');
    assert.equal(acceptedPosts(simulator, shared), 1);
    assert.equal(acceptedPosts(simulator, ids[1]!), 1);
  });

  test('catalog updates are found by catalog, image and rollout search attributes', async () => {
    const handle = await rollout({ rolloutId: 'searchable', catalogIds: ids.slice(0, 2), canaryCount: 0 });
    await handle.result();
    const byRollout = await eventually(
      async () => {
        const found = await listWorkflows(env.client, { rolloutId: 'searchable', type: 'update' });
        return found.length === 2 ? found : undefined;
      },
      20_000,
      'visibility to index the updates',
    );
    assert.deepEqual(byRollout.map((w) => w.workflowId).sort(), ids.slice(0, 2).map(catalogUpdateWorkflowId).sort());
    const byCatalog = await listWorkflows(env.client, { catalogId: ids[0]!, imageId: images.win11Nov });
    assert.ok(byCatalog.some((w) => w.workflowId === catalogUpdateWorkflowId(ids[0]!)));
    const rollouts = await listWorkflows(env.client, { type: 'rollout', rolloutId: 'searchable' });
    assert.equal(rollouts.length, 1);
  });

  test('retry starts a fresh run of a failed update from its recorded input', async () => {
    const catalogId = ids[5]!;
    simulator.patchCatalog(catalogId, { state: 'Processing' });
    const { handle } = await startCatalogUpdate(env.client, TASK_QUEUE, {
      catalogId,
      imageId: images.win11Dec,
      pollIntervalMs: 1_000,
    });
    assert.equal((await failureOf(handle.result())).type, 'CatalogNotReady');
    simulator.patchCatalog(catalogId, { state: 'Active' });

    const retried = await retryWorkflow(env.client, handle.workflowId);
    const result = await env.client.workflow.getHandle(retried.workflowId).result();
    assert.equal(result.outcome, 'imageAssigned');
    assert.equal(result.imageId, images.win11Dec);
    await assert.rejects(retryWorkflow(env.client, handle.workflowId), /only a failed/);

    // A workflow of another application on the same server is not this tool's to restart.
    const foreign = await env.client.workflow.start('chargeCustomer', {
      taskQueue: 'billing',
      workflowId: 'billing-1',
    });
    await foreign.terminate('not ours');
    await assert.rejects(retryWorkflow(env.client, 'billing-1'), /retry restarts only catalog updates and rollouts/);
  });

  test('a rollback to an image of the other kind sends the citrixPrepared flag of that image', async () => {
    // Forward to a Citrix-prepared image, back to a customer image: the simulator refuses a flag that does not match.
    const forward = await rollout({
      rolloutId: 'to-citrix',
      imageId: images.citrixWin11,
      catalogIds: ids.slice(8, 10),
    });
    assert.equal((await forward.result()).phase, 'completed');
    const restored = await (await restoreRollout('to-citrix')).result();
    assert.equal(restored.phase, 'completed');
    assert.deepEqual(restored.counts, { imageAssigned: 2 });
    for (const id of ids.slice(8, 10)) assert.equal((await citrix.getCatalog(id)).imageId, images.win11Oct);
  });

  test('a 404 from the catalog list (a wrong site) fails the rollout at once instead of retrying', async () => {
    simulator.addFault({ match: { operation: 'catalogs' }, times: null, action: { type: 'status', status: 404 } });
    const started = Date.now();
    const failure = await failureOf((await rollout({ allCatalogs: true, dryRun: true })).result());
    assert.equal(failure.type, 'CitrixNotFound');
    assert.match(failure.message, /check CITRIX_SITE_ID/);
    assert.equal(simulator.requests().filter((r) => r.operation === 'catalogs').length, 1, 'not retried');
    assert.ok(Date.now() - started < 10_000);
  });

  test('a schedule starts a rollout when triggered, with the newest image matching a pattern', async () => {
    const schedule = await createRolloutSchedule(env.client, TASK_QUEUE, {
      scheduleId: 'patch-wednesday',
      cron: ['0 3 * * 3'],
      timeZone: 'Europe/Berlin',
      rollout: {
        healthGate: false,
        imageNamePattern: '^Win11 24H2',
        catalogIds: ids.slice(6, 8),
        canaryCount: 0,
        pollIntervalMs: 1_000,
      },
    });
    try {
      await schedule.trigger();
      const run = await eventually(
        async () => {
          const described = await schedule.describe();
          return described.info.recentActions[0]?.action.workflow.workflowId;
        },
        20_000,
        'the scheduled run',
      );
      const result = await env.client.workflow.getHandle(run).result();
      assert.equal(result.phase, 'completed');
      assert.equal(result.imageId, images.win11Dec, 'the newest Ready image whose name matches');
      assert.equal(result.rolloutId, run);
      assert.equal(postsTo(ids.slice(6, 8)), 2);
    } finally {
      await schedule.delete();
    }
  });

  test('a trigger while the scheduled rollout still runs starts no second one', async () => {
    const schedule = await createRolloutSchedule(env.client, TASK_QUEUE, {
      scheduleId: 'no-overlap',
      cron: ['0 3 * * 3'],
      rollout: {
        healthGate: false,
        imageId: images.win11Nov,
        catalogIds: ids.slice(0, 2),
        canaryCount: 1,
        approval: 'afterCanary',
        pollIntervalMs: 1_000,
      },
    });
    try {
      await triggerRolloutSchedule(env.client, 'no-overlap');
      const first = await eventually(
        async () => (await schedule.describe()).info.runningActions[0]?.workflow.workflowId,
        20_000,
        'the first scheduled run',
      );
      const running = env.client.workflow.getHandle(first);
      await eventually(
        async () => ((await progressOf(running))?.phase === 'awaitingApproval' ? true : undefined),
        30_000,
        'the scheduled rollout to wait for approval',
      );
      await triggerRolloutSchedule(env.client, 'no-overlap');
      await sleep(2_000);
      const described = await schedule.describe();
      assert.equal(described.info.recentActions.length, 1, 'the second trigger started nothing');
      assert.equal(described.info.numActionsSkippedOverlap, 1, 'it was skipped as an overlap');
      assert.equal(described.info.runningActions.length, 1);
      await running.signal(abortSignal, { by: 'test', reason: 'done' });
      await running.result();
    } finally {
      await schedule.delete();
    }
  });

  test('an update begun on its own is found by catalog and image, like one of a rollout', async () => {
    const { handle } = await startCatalogUpdate(env.client, TASK_QUEUE, {
      catalogId: ids[11]!,
      imageId: images.win11Dec,
      pollIntervalMs: 1_000,
    });
    await handle.result();
    const found = await eventually(async () => {
      const byCatalog = await listWorkflows(env.client, { catalogId: ids[11]!, imageId: images.win11Dec });
      return byCatalog.length > 0 ? byCatalog : undefined;
    });
    assert.equal(found[0]!.workflowId, handle.workflowId);
  });

  test('notifies the webhook of wave starts, approvals needed, failures, halts and completion', async () => {
    webhook.messages.length = 0;
    const done = await rollout({
      rolloutId: 'notified',
      catalogIds: ids.slice(9, 11),
      canaryCount: 1,
      approval: 'afterCanary',
    });
    await eventually(async () => ((await progressOf(done))?.phase === 'awaitingApproval' ? true : undefined));
    await done.executeUpdate(approveUpdate, { args: [{ by: 'carol' }] });
    await done.result();
    simulator.addFault({
      match: { catalogId: ids[11] },
      action: { type: 'failNextUpdate', subState: 'ErrorMasterImageNotFound' },
    });
    const halted = await rollout({ rolloutId: 'notified-halt', catalogIds: [ids[11]!], canaryCount: 0 });
    await failureOf(halted.result());

    const events = (rolloutId: string) => webhook.messages.filter((m) => m.rolloutId === rolloutId).map((m) => m.event);
    assert.deepEqual(events('notified'), ['waveStarted', 'approvalNeeded', 'waveStarted', 'completed']);
    assert.deepEqual(events('notified-halt'), ['waveStarted', 'catalogFailed', 'halted']);
    assert.ok(
      webhook.messages.every((m) => m.text.startsWith(`[${m.rolloutId}]`)),
      'Slack and Teams show `text`',
    );
  });

  test('a webhook that refuses every message never fails the rollout', async () => {
    webhook.refuse = true;
    try {
      const handle = await rollout({ rolloutId: 'unheard', catalogIds: ids.slice(9, 10), canaryCount: 0 });
      assert.equal((await handle.result()).phase, 'completed');
    } finally {
      webhook.refuse = false;
    }
  });

  test('a finished rollout is undone by a restore that returns each moved catalog to its previous image', async () => {
    const targets = ids.slice(0, 2);
    simulator.patchCatalog(targets[1]!, { imageId: images.win11Dec });
    const original = await rollout({ rolloutId: 'to-undo', catalogIds: targets, canaryCount: 0 });
    assert.equal((await original.result()).phase, 'completed');

    const result = await (await restoreRollout('to-undo')).result();
    assert.equal(result.phase, 'completed');
    assert.equal(result.restoreOf, 'to-undo');
    assert.equal((await citrix.getCatalog(targets[0]!)).imageId, images.win11Oct);
    assert.equal(
      (await citrix.getCatalog(targets[1]!)).imageId,
      images.win11Dec,
      'each catalog gets its own previous image',
    );
    for (const id of targets) assert.equal(acceptedPosts(simulator, id), 2);
  });
});
