import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Info } from '@temporalio/activity';
import { ApplicationFailureCategory } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import {
  type ActivityDependencies,
  type PollRequest,
  type PostRequest,
  type ValidateRequest,
  createActivities,
} from '../../src/activities';
import { snapshotOf } from '../../src/activities/catalog-rules';
import {
  type Catalog,
  CitrixBadRequestError,
  type CitrixClient,
  CitrixNotFoundError,
  CitrixRateLimitError,
  type TemplateImage,
  type UpdateImageRequest,
} from '../../src/citrix';

const CATALOG_ID = 'ca7a10c0-0000-4000-a000-000000000001';
const OLD = 'old-image';
const NEW = 'new-image';
const TRANSACTION_ID = '7d0c4a52-6f1e-4a8e-9a51-3c2f7e0b9d11';

const catalog = (fields: Partial<Catalog> = {}): Catalog => ({
  id: CATALOG_ID,
  name: 'Finance',
  state: 'Active',
  imageId: OLD,
  region: 'eastus',
  ...fields,
});
const image = (fields: Partial<TemplateImage> = {}): TemplateImage => ({
  id: NEW,
  name: 'Win11 Nov',
  state: 'Ready',
  region: 'eastus',
  ...fields,
});

/** The calls of `CitrixClient` that the activities make, answering from a script and counting what was asked. */
class FakeCitrix {
  catalogReads = 0;
  imageReads = 0;
  readonly posts: { catalogId: string; update: UpdateImageRequest; transactionId?: string }[] = [];

  /** Successive reads answer the scripted catalogs (and images) in turn; the last one repeats. */
  constructor(
    private readonly catalogs: (Catalog | Error)[],
    private readonly images: (TemplateImage | Error)[] = [image()],
    private readonly postError?: Error,
  ) {}

  async getSiteId(): Promise<string> {
    return 'site-1';
  }

  async getCatalog(): Promise<Catalog> {
    return answer(this.catalogs, this.catalogReads++);
  }

  async getImage(): Promise<TemplateImage> {
    return answer(this.images, this.imageReads++);
  }

  async updateImage(catalogId: string, update: UpdateImageRequest, options: { transactionId?: string } = {}) {
    if (this.postError) throw this.postError;
    this.posts.push({ catalogId, update, transactionId: options.transactionId });
    return { catalogId, transactionId: options.transactionId };
  }
}

function answer<T>(script: (T | Error)[], index: number): T {
  const next = script[Math.min(index, script.length - 1)]!;
  if (next instanceof Error) throw next;
  return next;
}

function activitiesOver(citrix: FakeCitrix, options: Partial<ActivityDependencies> = {}) {
  return createActivities({
    citrix: citrix as unknown as CitrixClient,
    postRetrySettleMs: 1,
    inActivityPollMaxIntervalMs: 0,
    ...options,
  });
}

/**
 * Runs one attempt of an activity with `info` (attempt number, schedule times). Failing attempts are the point of most
 * cases here: the SDK's warning about each would only hide the results.
 */
function runActivity<P extends unknown[], R>(
  info: Partial<Info>,
  activity: (...args: P) => Promise<R>,
  ...args: P
): Promise<R> {
  const environment = new MockActivityEnvironment(info, { logger: new DefaultLogger('ERROR') });
  return environment.run<P, R, typeof activity>(activity, ...args);
}

describe('validating an update', () => {
  const validate = (citrix: FakeCitrix, request: Partial<ValidateRequest> = {}) =>
    runActivity({}, activitiesOver(citrix).validateCatalogUpdate, {
      catalogId: CATALOG_ID,
      imageId: NEW,
      ...request,
    });

  test('refuses an image that Citrix is still preparing, and says to wait for it', async () => {
    const citrix = new FakeCitrix([catalog()], [image({ state: 'Pending' })]);
    await assert.rejects(validate(citrix), {
      type: 'ImageNotUsable',
      nonRetryable: true,
      message: /state Pending and cannot be used yet: wait until Citrix shows it Ready/,
    });
  });

  test('refuses a deprecated image', async () => {
    const citrix = new FakeCitrix([catalog()], [image({ isDeprecated: true })]);
    await assert.rejects(validate(citrix), { type: 'ImageNotUsable', nonRetryable: true, message: /deprecated/ });
  });

  test('refuses an image made for another region, naming both regions', async () => {
    const citrix = new FakeCitrix([catalog()], [image({ region: 'westeurope' })]);
    await assert.rejects(validate(citrix), {
      type: 'ImageNotUsable',
      message: /the catalog's region is eastus, the image's westeurope/,
    });
  });

  test('refuses a citrixPrepared flag that contradicts the image', async () => {
    const citrix = new FakeCitrix([catalog()], [image({ citrixPrepared: false })]);
    await assert.rejects(validate(citrix, { citrixPrepared: true }), {
      type: 'InvalidInput',
      message: /a customer image, but the update says citrixPrepared true/,
    });
  });

  test('refuses a catalog that is busy, before reading the image', async () => {
    const citrix = new FakeCitrix([catalog({ state: 'Processing' })]);
    await assert.rejects(validate(citrix), { type: 'CatalogNotReady', message: /wait until the operation/ });
    assert.equal(citrix.imageReads, 0);
  });

  test('reports a catalog that already runs the image as current, without reading the image', async () => {
    const citrix = new FakeCitrix([catalog({ imageId: NEW })]);
    const report = await validate(citrix);
    assert.equal(report.alreadyCurrent, true);
    assert.equal(citrix.imageReads, 0);
  });

  test('names the site when the catalog does not exist', async () => {
    const citrix = new FakeCitrix([new CitrixNotFoundError('GET …/catalogs/… answered 404', { status: 404 })]);
    await assert.rejects(validate(citrix), {
      type: 'CatalogNotFound',
      nonRetryable: true,
      message: /was not found in site site-1/,
    });
  });

  test('one read of the image serves the validations of every catalog of a rollout', async () => {
    const citrix = new FakeCitrix([catalog()], [image({ citrixPrepared: true })]);
    const { validateCatalogUpdate } = activitiesOver(citrix);
    const first = await runActivity({}, validateCatalogUpdate, { catalogId: CATALOG_ID, imageId: NEW });
    const second = await runActivity({}, validateCatalogUpdate, { catalogId: CATALOG_ID, imageId: NEW });
    assert.equal(citrix.imageReads, 1);
    assert.deepEqual([first.citrixPrepared, second.citrixPrepared], [true, true]);
  });

  test('an image read that failed is not reused', async () => {
    const citrix = new FakeCitrix([catalog()], [new CitrixNotFoundError('GET …/images/… answered 404', {}), image()]);
    const { validateCatalogUpdate } = activitiesOver(citrix);
    const request = { catalogId: CATALOG_ID, imageId: NEW };
    await assert.rejects(runActivity({}, validateCatalogUpdate, request), { type: 'ImageNotFound' });
    const report = await runActivity({}, validateCatalogUpdate, request);
    assert.equal(report.imageName, 'Win11 Nov');
  });
});

describe('posting an update', () => {
  const request: PostRequest = {
    catalogId: CATALOG_ID,
    imageId: NEW,
    citrixPrepared: false,
    vdaUpdateDelayMinutes: 60,
    transactionId: TRANSACTION_ID,
  };
  const post = (citrix: FakeCitrix, attempt = 1) =>
    runActivity({ attempt }, activitiesOver(citrix).postImageUpdate, request);

  test('a first attempt posts once, with the transaction id', async () => {
    const citrix = new FakeCitrix([catalog()]);
    assert.deepEqual(await post(citrix), { transactionId: TRANSACTION_ID, alreadyPosted: false });
    assert.equal(citrix.posts.length, 1);
    assert.equal(citrix.posts[0]!.transactionId, TRANSACTION_ID);
    assert.deepEqual(citrix.posts[0]!.update, { templateId: NEW, citrixPrepared: false, vdaUpdateDelay: 60 });
  });

  test('a retry that finds the catalog Processing sends nothing', async () => {
    const citrix = new FakeCitrix([catalog({ state: 'Processing', transactionId: 'set-by-citrix' })]);
    assert.deepEqual(await post(citrix, 2), { transactionId: TRANSACTION_ID, alreadyPosted: true });
    assert.equal(citrix.posts.length, 0);
  });

  test('a retry that finds the update under way after the settle wait sends nothing', async () => {
    const citrix = new FakeCitrix([catalog(), catalog({ state: 'Processing' })]);
    assert.equal((await post(citrix, 2)).alreadyPosted, true);
    assert.equal(citrix.catalogReads, 2);
    assert.equal(citrix.posts.length, 0);
  });

  test('a retry on a catalog that stays untouched reads it again, then posts once', async () => {
    const citrix = new FakeCitrix([catalog()]);
    assert.equal((await post(citrix, 2)).alreadyPosted, false);
    assert.equal(citrix.catalogReads, 2);
    assert.equal(citrix.posts.length, 1);
  });

  test("Citrix's refusal of the request fails for good and says nothing was changed", async () => {
    const refusal = new CitrixBadRequestError('POST …/$updateImage answered 400', { status: 400 });
    const citrix = new FakeCitrix([catalog()], [image()], refusal);
    await assert.rejects(post(citrix), {
      type: 'CitrixRejected',
      nonRetryable: true,
      message: /Nothing was changed/,
    });
  });
});

describe('polling an update', () => {
  const postedAtMs = Date.parse('2026-11-30T10:00:00.000Z');
  const request = (fields: Partial<PollRequest> = {}): PollRequest => ({
    catalogId: CATALOG_ID,
    imageId: NEW,
    postedAt: new Date(postedAtMs).toISOString(),
    pollIntervalMs: 30_000,
    checkInIntervalMs: 600_000,
    startTimeoutMs: 600_000,
    seenRunning: true,
    lastSeen: snapshotOf(catalog({ state: 'Processing', taskCompletionPercentage: 35 })),
    ...fields,
  });
  /** The workflow scheduled the poll a second after the post (its last report); this attempt `sincePostMs` after it. */
  const poll = (citrix: FakeCitrix, fields: Partial<PollRequest>, { attempt = 2, sincePostMs = 60_000 } = {}) =>
    runActivity(
      {
        attempt,
        scheduledTimestampMs: postedAtMs + 1_000,
        currentAttemptScheduledTimestampMs: postedAtMs + sincePostMs,
        startToCloseTimeoutMs: 600_000,
      },
      activitiesOver(citrix).pollCatalogUpdate,
      request(fields),
    );

  test('a first attempt reads nothing and schedules the first read one poll interval after the post', async () => {
    const citrix = new FakeCitrix([catalog({ imageId: NEW })]);
    await assert.rejects(poll(citrix, {}, { attempt: 1 }), {
      type: 'CatalogStillUpdating',
      nextRetryDelay: 30_000,
      category: ApplicationFailureCategory.BENIGN,
    });
    assert.equal(citrix.catalogReads, 0);
  });

  test('reports success once the catalog is Active on the new image', async () => {
    const report = await poll(new FakeCitrix([catalog({ imageId: NEW })]), {});
    assert.equal(report.verdict, 'succeeded');
    assert.equal(report.snapshot.imageId, NEW);
  });

  test('reports an update that never started once the start timeout has passed', async () => {
    const citrix = new FakeCitrix([catalog()]);
    const report = await poll(
      citrix,
      { seenRunning: false, lastSeen: snapshotOf(catalog()) },
      { sincePostMs: 700_000 },
    );
    assert.equal(report.verdict, 'neverStarted');
  });

  test('reports a new state at once, as still in progress', async () => {
    const citrix = new FakeCitrix([catalog({ state: 'Processing', taskCompletionPercentage: 5 })]);
    const report = await poll(citrix, { seenRunning: false, lastSeen: snapshotOf(catalog()) });
    assert.deepEqual([report.verdict, report.seenRunning], ['inProgress', true]);
  });

  test('keeps more progress in the same state to itself until a report is due', async () => {
    const citrix = new FakeCitrix([catalog({ state: 'Processing', taskCompletionPercentage: 48 })]);
    await assert.rejects(poll(citrix, {}, { sincePostMs: 30_000 }), {
      type: 'CatalogStillUpdating',
      message: /is Processing at 48%/,
      category: ApplicationFailureCategory.BENIGN,
    });
    const report = await poll(citrix, {}, { sincePostMs: 120_000 });
    assert.equal(report.verdict, 'inProgress');
    assert.equal(report.snapshot.percentComplete, 48);
  });

  test('fails for good when the catalog is deleted during the update', async () => {
    const citrix = new FakeCitrix([new CitrixNotFoundError('GET …/catalogs/… answered 404', { status: 404 })]);
    await assert.rejects(poll(citrix, {}), { type: 'CatalogUpdateFailed', nonRetryable: true, message: /deleted/ });
  });

  test('waits at least one poll interval after Citrix rate-limits a read', async () => {
    const limited = new CitrixRateLimitError('GET …/catalogs/… answered 429', { status: 429, retryAfterMs: 1_000 });
    await assert.rejects(poll(new FakeCitrix([limited]), {}), {
      type: 'CitrixUnavailable',
      nonRetryable: false,
      nextRetryDelay: 30_000,
    });
  });
});
