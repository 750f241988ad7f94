import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { CitrixClient } from '../src/citrix';
import { catalogUpdateWorkflowId, InvalidInputError, type UpdateCatalogImageInput } from '../src/shared';
import { SEED_IDS, type RunningSimulator } from '../src/simulator';
import { CatalogBusyError, startCatalogUpdate } from '../src/client';
import { updateCatalogImage } from '../src/workflows';
import {
  acceptedPosts,
  eventually,
  failureOf,
  historiesOf,
  statusOf,
  quietTemporalLogs,
  startStack,
  type TestStack,
} from './helpers';

quietTemporalLogs();

const TASK_QUEUE = 'update-catalog-image-test';
const { catalogs, images } = SEED_IDS;
const MISSING_GUID = '00000000-0000-4000-8000-000000000000';

describe('updateCatalogImage against a Temporal dev server and the Catalog Service simulator', () => {
  let stack: TestStack;
  let env: TestWorkflowEnvironment;
  let simulator: RunningSimulator;
  let citrix: CitrixClient;

  before(async () => {
    stack = await startStack({ taskQueue: TASK_QUEUE, simulator: { updateDurationMs: 3_000, acceptLagMs: 300 } });
    ({ env, simulator, citrix } = stack);
  });

  after(() => stack?.stop());

  // The simulator forgets its tokens on reset: keep every one issued, for the secrets check at the end.
  const issuedTokens = new Set<string>();
  beforeEach(() => {
    for (const token of simulator.issuedTokens()) issuedTokens.add(token);
    simulator.reset();
  });

  const update = (
    input: Partial<UpdateCatalogImageInput> & Pick<UpdateCatalogImageInput, 'catalogId'>,
    options?: { postWaitMs?: number },
  ) =>
    startCatalogUpdate(env.client, TASK_QUEUE, { imageId: images.win11Nov, pollIntervalMs: 1_000, ...input }, options);

  test('moves a catalog to the new image, posting exactly once', async () => {
    const { handle } = await update({ catalogId: catalogs.finance });
    const result = await handle.result();

    assert.equal(result.outcome, 'imageAssigned');
    assert.equal(result.previousImageId, images.win11Oct);
    assert.ok(result.transactionId, 'the result carries the Citrix transaction id');
    assert.ok(result.polls > 0);
    const catalog = await citrix.getCatalog(catalogs.finance);
    assert.equal(catalog.state, 'Active');
    assert.equal(catalog.imageId, images.win11Nov);
    assert.equal(acceptedPosts(simulator), 1);
    const status = await statusOf(handle);
    assert.equal(status?.phase, 'succeeded');
    assert.equal(status?.transactionId, result.transactionId);
  });

  test('reports progress through the status query while the catalog updates', async () => {
    const { handle } = await update({ catalogId: catalogs.engineering });
    const seen = await eventually(
      async () => {
        const status = await statusOf(handle);
        return status?.phase === 'waiting' && status.catalogState === 'Processing' ? status : undefined;
      },
      10_000,
      'a Processing status',
    );
    assert.match(seen.subState ?? '', /^Processing/);
    assert.equal(typeof seen.percentComplete, 'number');
    assert.ok(seen.transactionId);
    assert.equal((await handle.result()).outcome, 'imageAssigned');
  });

  test('finishes at once as already current when the catalog runs the image, posting nothing', async () => {
    const { handle } = await update({ catalogId: catalogs.finance, imageId: images.win11Oct });
    const result = await handle.result();
    assert.equal(result.outcome, 'alreadyCurrent');
    assert.equal(acceptedPosts(simulator), 0);
  });

  test('fails with the sub-state, message and transaction id when the update ends in Error', async () => {
    simulator.addFault({
      match: { catalogId: catalogs.finance },
      action: {
        type: 'failNextUpdate',
        subState: 'ErrorMasterImageProvisioningFailed',
        statusMessage: 'Disk copy failed',
      },
    });
    const { handle } = await update({ catalogId: catalogs.finance });
    const failure = await failureOf(handle.result());

    assert.equal(failure.type, 'CatalogUpdateFailed');
    assert.match(failure.message, /ErrorMasterImageProvisioningFailed/);
    assert.match(failure.message, /Disk copy failed/);
    const post = simulator.requests().find((r) => r.operation === 'updateImage')!;
    assert.match(failure.message, new RegExp(`citrix-transactionId of the update ${post.transactionId}`));
    assert.equal(acceptedPosts(simulator), 1);
  });

  test('reports "updated" only when Citrix restarted the machines, "imageAssigned" when they take it later', async () => {
    const now = await (await update({ catalogId: catalogs.finance, vdaUpdateDelayMinutes: 0 })).handle.result();
    assert.equal(now.outcome, 'updated');
    assert.match(now.message, /Citrix restarted its machines onto it/);

    const later = await (await update({ catalogId: catalogs.engineering })).handle.result();
    assert.equal(later.outcome, 'imageAssigned', 'vdaUpdateDelay -1: machines update at their next shutdown');
    assert.match(later.message, /has image .* assigned: its machines take it at their next restart/);

    simulator.patchCatalog(catalogs.hr, { allocationType: 'Permanent' });
    const kept = await (await update({ catalogId: catalogs.hr, vdaUpdateDelayMinutes: 0 })).handle.result();
    assert.equal(kept.outcome, 'imageAssigned', 'a persistent catalog keeps its machines on their image');
    assert.match(kept.message, /keeps its machines' disks/);
  });

  test('an update that Citrix rolls back between two polls fails at the next poll, quoting the post', async () => {
    simulator.addFault({
      match: { catalogId: catalogs.sales },
      action: { type: 'failNextUpdate', endState: 'Active', atPercent: 0, statusMessage: 'Image could not be applied' },
    });
    const started = Date.now();
    // Polls every 5 s: the update fails at once, so no poll ever sees it Processing.
    const { handle } = await update({ catalogId: catalogs.sales, pollIntervalMs: 5_000 });
    const failure = await failureOf(handle.result());
    assert.equal(failure.type, 'CatalogUpdateFailed', 'not CatalogUpdateNeverStarted after the start timeout');
    assert.match(failure.message, /ImageRollback/);
    assert.match(failure.message, /Image could not be applied/);
    const post = simulator.requests().find((r) => r.operation === 'updateImage')!;
    assert.match(failure.message, new RegExp(`citrix-transactionId of the update ${post.transactionId}`));
    assert.ok(Date.now() - started < 30_000, 'the first poll that shows the rollback is the verdict');
    assert.equal((await citrix.getCatalog(catalogs.sales)).imageId, images.win11Oct, 'Citrix kept the old image');
  });

  test('the post carries citrixPrepared as the image says, and a contradicting request is refused', async () => {
    const result = await (await update({ catalogId: catalogs.finance, imageId: images.citrixWin11 })).handle.result();
    assert.equal(result.imageId, images.citrixWin11, 'the simulator refuses a citrixPrepared that does not match');
    assert.equal(acceptedPosts(simulator), 1);

    const { handle } = await update({
      catalogId: catalogs.engineering,
      imageId: images.citrixWin11,
      citrixPrepared: false,
    });
    const failure = await failureOf(handle.result());
    assert.equal(failure.type, 'InvalidInput');
    assert.match(failure.message, /is a Citrix-prepared image, but the update says citrixPrepared false/);
    assert.equal(acceptedPosts(simulator), 1, 'nothing more was posted');
  });

  test('refuses an image that does not fit the catalog, naming both sides, and posts nothing', async () => {
    // Legal is a single-session, static catalog; the November image is multi-session.
    const { handle } = await update({ catalogId: catalogs.legal });
    const failure = await failureOf(handle.result());
    assert.equal(failure.type, 'ImageNotUsable');
    assert.match(failure.message, /session support is SingleSession, the image's MultiSession/);
    assert.equal(acceptedPosts(simulator), 0);
  });

  test('refuses a deadline that cannot hold the restarts vdaUpdateDelay asks for, before anything starts', async () => {
    await assert.rejects(
      update({ catalogId: catalogs.finance, vdaUpdateDelayMinutes: 600, deadlineMs: 3_600_000 }),
      (error: unknown) =>
        error instanceof InvalidInputError && /cannot hold a vdaUpdateDelay of 600/.test(error.message),
    );
    assert.equal(simulator.requests().length, 0);
  });

  for (const state of ['Processing', 'Error', 'Deleting']) {
    test(`refuses a catalog in state ${state} at once and posts nothing`, async () => {
      simulator.patchCatalog(catalogs.callCenter, {
        state,
        subState: state === 'Error' ? 'ErrorMasterImageNotFound' : undefined,
      });
      const started = Date.now();
      const { handle } = await update({ catalogId: catalogs.callCenter });
      const failure = await failureOf(handle.result());
      assert.equal(failure.type, 'CatalogNotReady');
      assert.match(failure.message, new RegExp(`state ${state}`));
      assert.ok(Date.now() - started < 5_000, 'a wrong state fails fast, without retries');
      assert.equal(simulator.requests().filter((r) => r.operation === 'updateImage').length, 0);
    });
  }

  const badTargets: Array<[string, Partial<UpdateCatalogImageInput>, string]> = [
    ['an unknown catalog', { catalogId: MISSING_GUID }, 'CatalogNotFound'],
    ['an unknown image', { imageId: MISSING_GUID }, 'ImageNotFound'],
    ['an image that is not Ready', { imageId: images.importing }, 'ImageNotUsable'],
    ['a deprecated image', { imageId: images.deprecated }, 'ImageNotUsable'],
  ];
  for (const [what, input, type] of badTargets) {
    test(`fails fast with ${type} for ${what} and posts nothing`, async () => {
      const { handle } = await update({ catalogId: catalogs.finance, ...input });
      const failure = await failureOf(handle.result());
      assert.equal(failure.type, type);
      assert.equal(failure.nonRetryable, true);
      assert.equal(simulator.requests().filter((r) => r.operation === 'updateImage').length, 0);
    });
  }

  test('rejects malformed ids before anything starts or reaches Citrix', async () => {
    for (const input of [
      { catalogId: 'finance', imageId: images.win11Nov },
      { catalogId: catalogs.finance, imageId: '../images' },
      { catalogId: catalogs.finance, imageId: images.win11Nov, pollIntervalMs: 10 },
      { catalogId: catalogs.finance, imageId: images.win11Nov, warningMessage: '   ' },
    ]) {
      await assert.rejects(startCatalogUpdate(env.client, TASK_QUEUE, input), InvalidInputError);
    }
    // A client that skips the starter's checks meets the same validation inside the workflow.
    const handle = await env.client.workflow.start(updateCatalogImage, {
      taskQueue: TASK_QUEUE,
      workflowId: 'bad-input-direct',
      args: [{ catalogId: 'not-a-guid', imageId: images.win11Nov }],
    });
    const failure = await failureOf(handle.result());
    assert.equal(failure.type, 'InvalidInput');
    assert.match(failure.message, /catalogId/);
    assert.equal(simulator.requests().length, 0);
  });

  test('rides out 429 with Retry-After and 503 answers, posting once and waiting as told', async () => {
    simulator.addFault({ match: { operation: 'updateImage' }, action: { type: 'status', status: 503 } });
    simulator.addFault({
      match: { operation: 'catalog' },
      times: 1,
      action: { type: 'status', status: 429, retryAfterSeconds: 2 },
    });
    const { handle } = await update({ catalogId: catalogs.hr });
    const result = await handle.result();

    assert.equal(result.outcome, 'imageAssigned');
    assert.equal(acceptedPosts(simulator), 1);
    const reads = simulator.requests().filter((r) => r.operation === 'catalog');
    const limited = reads.findIndex((r) => r.status === 429);
    assert.ok(limited >= 0, 'the 429 was served');
    const next = reads[limited + 1];
    assert.ok(next, 'the catalog was read again after the 429');
    const waitedMs = Date.parse(next.time) - Date.parse(reads[limited]!.time);
    assert.ok(waitedMs >= 1_900, `Retry-After: 2 was honoured (waited ${waitedMs} ms)`);
  });

  test('a cancel before the post ends the workflow cancelled with nothing changed', async () => {
    simulator.addFault({ match: { operation: 'catalog' }, times: 1, action: { type: 'latency', ms: 3_000 } });
    const { handle } = await update({ catalogId: catalogs.finance });
    await eventually(async () => (await statusOf(handle))?.phase === 'validating' || undefined, 5_000, 'validation');
    await handle.cancel();
    await assert.rejects(handle.result(), (error: unknown) => {
      assert.ok(error instanceof WorkflowFailedError);
      assert.ok(error.cause instanceof CancelledFailure);
      return true;
    });
    assert.equal(simulator.requests().filter((r) => r.operation === 'updateImage').length, 0);
    assert.equal((await citrix.getCatalog(catalogs.finance)).imageId, images.win11Oct);
  });

  test('a cancel after the post stops the watch and says that Citrix keeps updating', async () => {
    simulator.setTiming({ updateDurationMs: 30_000 });
    const { handle } = await update({ catalogId: catalogs.finance });
    await eventually(async () => (await statusOf(handle))?.phase === 'waiting' || undefined, 10_000, 'the wait');
    await handle.cancel();
    const result = await handle.result();
    assert.equal(result.outcome, 'watchStopped');
    assert.match(result.message, /Citrix cannot abort/);
    assert.equal(acceptedPosts(simulator), 1);
  });

  test('a second start for a busy catalog attaches for the same image and is refused for another', async () => {
    simulator.setTiming({ updateDurationMs: 5_000 });
    const first = await update({ catalogId: catalogs.engineering }, { postWaitMs: 20_000 });
    const again = await update({ catalogId: catalogs.engineering, pollIntervalMs: 2_000 }, { postWaitMs: 20_000 });
    assert.deepEqual([first.attached, again.attached], [false, true]);
    assert.deepEqual(again.ignored, ['pollIntervalMs'], 'the running update keeps its own poll interval');
    assert.equal(again.handle.workflowId, catalogUpdateWorkflowId(catalogs.engineering));
    // Both starts learn the transaction id the one post was sent with.
    const [post] = simulator.requests().filter((r) => r.operation === 'updateImage');
    assert.ok(post?.transactionId);
    assert.deepEqual(
      [first.outcome?.transactionId, again.outcome?.transactionId],
      [post.transactionId, post.transactionId],
    );
    await assert.rejects(
      update({ catalogId: catalogs.engineering, imageId: images.win11Dec }),
      (error: Error) => error instanceof CatalogBusyError && /already being updated to image/.test(error.message),
    );
    assert.equal((await first.handle.result()).outcome, 'imageAssigned');
    assert.equal(acceptedPosts(simulator), 1);
  });

  test('a start for a catalog that already runs the image answers at once that nothing was posted', async () => {
    const started = await update({ catalogId: catalogs.finance, imageId: images.win11Oct }, { postWaitMs: 20_000 });
    assert.deepEqual(
      [started.attached, started.outcome?.phase, started.outcome?.transactionId],
      [false, 'alreadyCurrent', undefined],
    );
    assert.equal((await started.handle.result()).outcome, 'alreadyCurrent');
    assert.equal(acceptedPosts(simulator), 0);
  });

  test('no workflow history holds the client secret or a bearer token', async () => {
    const histories = (await historiesOf(env.client)).join('\n');
    assert.ok(histories.length > 10_000, 'the histories of the tests above were read');
    assert.ok(!histories.includes(simulator.clientSecret), 'client secret found in a history');
    for (const token of simulator.issuedTokens()) issuedTokens.add(token);
    assert.ok(issuedTokens.size > 0);
    for (const token of issuedTokens) assert.ok(!histories.includes(token), 'bearer token found in a history');
  });
});
