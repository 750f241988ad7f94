import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decidePost } from '../../src/activities/catalog-rules';
import { CATALOG_STATES } from '../../src/citrix/types';

const OLD = 'old-image';
const NEW = 'new-image';
const OURS = '7d0c4a52-6f1e-4a8e-9a51-3c2f7e0b9d11';
const THEIRS = 'c1b7e3a0-2d4f-4b6a-8e9c-0f5a1d2b3c44';

const decide = (
  catalog: { state: string; imageId?: string; transactionId?: string },
  { attempt = 1, afterSettle = false } = {},
) => decidePost({ catalog, imageId: NEW, transactionId: OURS, attempt, afterSettle });

describe('the first attempt of a post', () => {
  test('posts to an Active catalog on its old image', () => {
    assert.equal(decide({ state: 'Active', imageId: OLD, transactionId: THEIRS }), 'post');
  });

  test('posts to a catalog that waits for input on its old image', () => {
    assert.equal(decide({ state: 'InputRequired', imageId: OLD }), 'post');
  });

  test('does not post when the catalog already runs the target image', () => {
    assert.equal(decide({ state: 'Active', imageId: NEW }), 'alreadyPosted');
  });

  test('compares image ids without regard to case', () => {
    assert.equal(decide({ state: 'Active', imageId: NEW.toUpperCase() }), 'alreadyPosted');
  });

  test('does not post when the catalog is Processing under its own transaction id', () => {
    assert.equal(decide({ state: 'Processing', imageId: OLD, transactionId: OURS }), 'alreadyPosted');
  });

  test('refuses when another operation is running on the catalog', () => {
    assert.equal(decide({ state: 'Processing', imageId: OLD, transactionId: THEIRS }), 'catalogNotReady');
  });

  test('refuses a catalog in Error', () => {
    assert.equal(decide({ state: 'Error', imageId: OLD }), 'catalogNotReady');
  });

  test('never waits for Citrix to settle, whatever the state', () => {
    for (const state of CATALOG_STATES) {
      assert.notEqual(decide({ state, imageId: OLD }), 'settleFirst', state);
    }
  });
});

describe('a retried post, whose earlier attempt may have reached Citrix', () => {
  const retry = { attempt: 2 };

  test('does not post again when the catalog is Processing, whatever its transaction id', () => {
    assert.equal(decide({ state: 'Processing', imageId: OLD, transactionId: THEIRS }, retry), 'alreadyPosted');
  });

  test('does not post again when the catalog is in PreDeployment', () => {
    assert.equal(decide({ state: 'PreDeployment', imageId: OLD }, retry), 'alreadyPosted');
  });

  test('does not post again when the catalog already runs the target image', () => {
    assert.equal(decide({ state: 'Active', imageId: NEW }, retry), 'alreadyPosted');
  });

  test('waits for Citrix to settle when the catalog looks untouched', () => {
    assert.equal(decide({ state: 'Active', imageId: OLD, transactionId: THEIRS }, retry), 'settleFirst');
  });

  test('waits for Citrix to settle when a settled catalog carries the new transaction id but the old image', () => {
    assert.equal(decide({ state: 'Active', imageId: OLD, transactionId: OURS }, { attempt: 5 }), 'settleFirst');
  });

  test('refuses a catalog in Error without waiting', () => {
    assert.equal(decide({ state: 'Error', imageId: OLD }, retry), 'catalogNotReady');
  });
});

describe('a retried post, on its read after the settle wait', () => {
  const afterWait = { attempt: 2, afterSettle: true };

  test('does not post when the catalog went Processing meanwhile', () => {
    assert.equal(decide({ state: 'Processing', imageId: OLD, transactionId: THEIRS }, afterWait), 'alreadyPosted');
  });

  test('does not post when the catalog now runs the target image', () => {
    assert.equal(decide({ state: 'Active', imageId: NEW }, afterWait), 'alreadyPosted');
  });

  test('does not post when the catalog carries the new transaction id', () => {
    assert.equal(decide({ state: 'Active', imageId: OLD, transactionId: OURS }, afterWait), 'alreadyPosted');
  });

  test('does not post when the catalog failed under the new transaction id: the update began and the poll reports it', () => {
    assert.equal(decide({ state: 'Error', imageId: OLD, transactionId: OURS }, afterWait), 'alreadyPosted');
  });

  test('posts when the catalog still looks untouched', () => {
    assert.equal(decide({ state: 'Active', imageId: OLD, transactionId: THEIRS }, afterWait), 'post');
  });

  test('refuses when the catalog went into Error under another transaction id', () => {
    assert.equal(decide({ state: 'Error', imageId: OLD, transactionId: THEIRS }, afterWait), 'catalogNotReady');
  });

  test('never asks to wait a second time, whatever the state', () => {
    for (const state of CATALOG_STATES) {
      assert.notEqual(decide({ state, imageId: OLD }, afterWait), 'settleFirst', state);
    }
  });
});
