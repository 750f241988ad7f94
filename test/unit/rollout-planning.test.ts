import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { windowStatus } from '../../src/activities/rollout';
import { listQuery, parseRolloutInput } from '../../src/client';
import { InvalidInputError } from '../../src/shared';
import { planWaves } from '../../src/shared/rollout';

const ids = Array.from({ length: 10 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
const defaults = { batchSize: 10 };

describe('wave planning', () => {
  test('puts one canary first, then batches of the batch size', () => {
    assert.deepEqual(
      planWaves(ids, { ...defaults, batchSize: 4 }).map((wave) => wave.length),
      [1, 4, 4, 1],
    );
  });

  test('sizes the canary by percentage, rounding up to at least one catalog', () => {
    assert.deepEqual(
      planWaves(ids, { batchSize: 5, canaryPercent: 25 }).map((wave) => wave.length),
      [3, 5, 2],
    );
    assert.equal(planWaves(ids.slice(0, 3), { batchSize: 5, canaryPercent: 1 })[0]!.length, 1);
  });

  test('skips the canary when asked and keeps the given order', () => {
    const waves = planWaves(ids, { batchSize: 6, canaryCount: 0 });
    assert.deepEqual(waves, [ids.slice(0, 6), ids.slice(6)]);
  });

  test('keeps explicit waves, without catalogs that were not resolved', () => {
    const waves = planWaves(ids.slice(0, 3), { ...defaults, waves: [[ids[0]!], [ids[1]!, ids[9]!], [ids[8]!]] });
    assert.deepEqual(waves, [[ids[0]], [ids[1]]]);
  });

  test('plans nothing for no catalogs', () => {
    assert.deepEqual(planWaves([], defaults), []);
  });
});

describe('rollout input', () => {
  test('needs exactly one image source and one target source', () => {
    assert.throws(() => parseRolloutInput({ catalogIds: [ids[0]] }), InvalidInputError);
    assert.throws(
      () => parseRolloutInput({ imageId: 'img', imageNamePattern: 'x', catalogIds: [ids[0]] }),
      /exactly one/,
    );
    assert.throws(() => parseRolloutInput({ imageId: 'img', catalogIds: [ids[0]], allCatalogs: true }), /exactly one/);
    assert.throws(
      () => parseRolloutInput({ imageId: 'img', allCatalogs: true, catalogNamePattern: '(' }),
      /regular expression/,
    );
    const parsed = parseRolloutInput({ imageId: 'img', allCatalogs: true });
    assert.equal(parsed.maxParallel, 5);
    assert.equal(parsed.failureBudget, 0);
  });
});

describe('maintenance windows', () => {
  // 2026-11-28 is a Saturday.
  const berlin = { days: ['Sat' as const], start: '01:00', end: '05:00', timeZone: 'Europe/Berlin' };

  test('is open inside the window in its own time zone', () => {
    assert.deepEqual(windowStatus(berlin, Date.parse('2026-11-28T01:30:00Z')), { open: true }); // 02:30 in Berlin
  });

  test('says how long until the next opening when closed', () => {
    const now = Date.parse('2026-11-28T04:30:00Z'); // 05:30 Saturday in Berlin: just closed
    const status = windowStatus(berlin, now);
    assert.equal(status.open, false);
    assert.equal(now + status.opensInMs!, Date.parse('2026-12-05T00:00:00Z')); // next Saturday 01:00 Berlin
  });

  test('follows daylight saving time', () => {
    // Berlin is UTC+2 in summer: Saturday 2026-06-06 01:00 local is 23:00 UTC on Friday.
    const status = windowStatus(berlin, Date.parse('2026-06-05T22:00:00Z'));
    assert.equal(status.opensInMs, 60 * 60_000);
  });

  test('handles a window that runs past midnight', () => {
    const night = { days: ['Fri' as const], start: '22:00', end: '02:00', timeZone: 'UTC' };
    assert.equal(windowStatus(night, Date.parse('2026-11-28T01:00:00Z')).open, true); // Saturday 01:00
    assert.equal(windowStatus(night, Date.parse('2026-11-28T03:00:00Z')).open, false);
  });

  test('rejects an unknown time zone as non-retryable bad input', () => {
    assert.throws(() => windowStatus({ ...berlin, timeZone: 'Mars/Olympus' }, Date.now()), /unknown time zone/);
  });
});

describe('list queries', () => {
  test('combine status, type and search attribute filters', () => {
    assert.equal(
      listQuery({ failed: true, type: 'update', catalogId: ids[0] }),
      `WorkflowType = 'updateCatalogImage' AND ExecutionStatus IN ('Failed', 'TimedOut', 'Terminated') AND CatalogId = '${ids[0]}'`,
    );
    assert.equal(listQuery({}), `WorkflowType IN ('updateCatalogImage', 'rolloutImage')`);
    assert.throws(() => listQuery({ rolloutId: "x' OR RolloutId != '" }), InvalidInputError);
  });
});
