import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type CatalogSnapshot,
  compatibilityProblems,
  decidePoll,
  isPersistent,
  snapshotOf,
} from '../../src/activities/catalog-rules';
import type { Catalog, TemplateImage } from '../../src/citrix';
import { deadlineProblem } from '../../src/shared';

const OLD = 'old-image';
const NEW = 'new-image';
const catalog = (fields: Partial<Catalog> = {}): Catalog => ({
  id: 'ca7a10c0-0000-4000-a000-000000000001',
  name: 'Finance',
  state: 'Active',
  imageId: OLD,
  ...fields,
});
const image = (fields: Partial<TemplateImage> = {}): TemplateImage => ({
  id: NEW,
  name: 'Win11 Nov',
  state: 'Ready',
  ...fields,
});

describe('what one read of the catalog says about an update in flight', () => {
  const before = snapshotOf(catalog());
  const decide = (read: Partial<Catalog>, options: { seenRunning?: boolean; sincePostMs?: number } = {}) =>
    decidePoll({
      snapshot: snapshotOf(catalog(read)),
      before,
      imageId: NEW,
      seenRunning: options.seenRunning ?? false,
      nowMs: 1_000_000 + (options.sincePostMs ?? 5_000),
      postedAtMs: 1_000_000,
      startTimeoutMs: 600_000,
    });

  test('Active on the new image is success', () => {
    assert.equal(decide({ imageId: NEW }), 'succeeded');
  });

  test('Active on the old image right after the post is Citrix lag, not a verdict', () => {
    assert.equal(decide({}), undefined);
  });

  test('Active on the old image with a new ImageRollback warning is a failure at once, never "never started"', () => {
    const rolledBack = {
      warnings: [{ type: 'ImageRollback', warningMessage: 'update failed', isError: true, isDismissible: true }],
    };
    assert.equal(decide(rolledBack), 'failed');
    assert.equal(decide(rolledBack, { sincePostMs: 700_000 }), 'failed');
  });

  test('an error warning that was there at validation is no evidence', () => {
    const warned = catalog({
      warnings: [{ type: 'ImageRollback', warningMessage: 'an older failure', isError: true }],
    });
    const read = snapshotOf(warned);
    const baseline: CatalogSnapshot = snapshotOf(warned);
    const decision = decidePoll({
      snapshot: read,
      before: baseline,
      imageId: NEW,
      seenRunning: false,
      nowMs: 5_000,
      postedAtMs: 0,
      startTimeoutMs: 600_000,
    });
    assert.equal(decision, undefined);
  });

  test('the old image after the update was seen running is a failure; nothing at all for long is "never started"', () => {
    assert.equal(decide({}, { seenRunning: true }), 'failed');
    assert.equal(decide({}, { sincePostMs: 600_000 }), 'neverStarted');
  });

  test('Error, Deleting and NotFound end the update; Processing does not', () => {
    for (const state of ['Error', 'Deleting', 'NotFound']) assert.equal(decide({ state }), 'failed', state);
    assert.equal(decide({ state: 'Processing' }), undefined);
  });

  test('PendingVdaUpdate is noticed as a warning or a sub-state', () => {
    assert.equal(snapshotOf(catalog({ warnings: [{ type: 'PendingVdaUpdate' }] })).pendingVdaUpdate, true);
    assert.equal(snapshotOf(catalog({ subState: 'PendingVdaUpdate' })).pendingVdaUpdate, true);
    assert.equal(snapshotOf(catalog()).pendingVdaUpdate, undefined);
  });
});

describe('whether an image fits a catalog', () => {
  test('a match, or a side Citrix does not report, fits', () => {
    const fits = catalog({ sessionSupport: 'MultiSession', region: 'westeurope', subscriptionName: 'VDI' });
    assert.deepEqual(
      compatibilityProblems(
        fits,
        image({ sessionSupport: 'MultiSession', region: 'WestEurope', subscriptionName: 'VDI' }),
      ),
      [],
    );
    assert.deepEqual(compatibilityProblems(fits, image()), []);
  });

  test('session support, region and subscription mismatches each name both sides', () => {
    const problems = compatibilityProblems(
      catalog({ sessionSupport: 'SingleSession', region: 'westeurope', subscriptionName: 'VDI' }),
      image({ sessionSupport: 'MultiSession', region: 'eastus', subscriptionName: 'Lab' }),
    );
    assert.deepEqual(problems, [
      "the catalog's session support is SingleSession, the image's MultiSession",
      "the catalog's region is westeurope, the image's eastus",
      "the catalog's subscription is VDI, the image's Lab",
    ]);
  });

  test('a static catalog that keeps its disks is persistent', () => {
    assert.equal(isPersistent({ allocationType: 'Permanent' }), true);
    assert.equal(isPersistent({ allocationType: 'Random', persistStaticAllocatedVmDisks: true }), true);
    assert.equal(isPersistent({ allocationType: 'Random' }), false);
  });
});

describe('whether the deadline holds the restarts vdaUpdateDelay asks for', () => {
  test('-1 and 0 need no time of their own; N minutes need N plus the update itself', () => {
    assert.equal(deadlineProblem({ vdaUpdateDelayMinutes: -1, deadlineMs: 60_000 }), undefined);
    assert.equal(deadlineProblem({ vdaUpdateDelayMinutes: 0, deadlineMs: 60_000 }), undefined);
    assert.equal(deadlineProblem({ vdaUpdateDelayMinutes: 60, deadlineMs: 6 * 3_600_000 }), undefined);
    assert.match(
      deadlineProblem({ vdaUpdateDelayMinutes: 600, deadlineMs: 6 * 3_600_000 }) ?? '',
      /a deadline of 360 minutes cannot hold a vdaUpdateDelay of 600 minutes.*at least 630 minutes/,
    );
  });
});
