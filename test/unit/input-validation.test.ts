import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidInputError, parseUpdateCatalogImageInput } from '../../src/shared';
import { parseRolloutInput } from '../../src/shared/rollout';

const catalogId = '3fa85f64-5717-4562-b3fc-2c963f66afa6';

function problemsOf(parse: () => unknown): string[] {
  try {
    parse();
  } catch (error) {
    assert.ok(error instanceof InvalidInputError, `expected InvalidInputError, got ${error}`);
    return error.problems;
  }
  assert.fail('the input was accepted');
}

describe('workflow input rules', () => {
  test('name every problem of an update at once, each with its field', () => {
    const problems = problemsOf(() =>
      parseUpdateCatalogImageInput({
        catalogId: 'finance',
        imageId: '../etc',
        pollIntervalMs: '30s',
        vdaUpdateDelayMinutes: 2.5,
        warningTitle: '   ',
        force: true,
      }),
    );
    assert.deepEqual(problems, [
      'unknown option "force"',
      'catalogId: catalogId must be a catalog GUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6 (the starter\'s "catalogs" command lists them)',
      'imageId: imageId must be a Citrix template image id',
      'vdaUpdateDelayMinutes: vdaUpdateDelayMinutes must be a whole number of minutes',
      'warningTitle: warningTitle must not be empty: leave it out instead',
      'pollIntervalMs: expected a number, got string',
    ]);
  });

  test("fill in every default, trim texts, and leave the caller's object alone", () => {
    const input = { catalogId, imageId: 'img-1', warningTitle: '  Restart tonight ' };
    const request = parseUpdateCatalogImageInput(input);
    assert.deepEqual(request, {
      catalogId,
      imageId: 'img-1',
      // No citrixPrepared default: the image decides it at validation.
      vdaUpdateDelayMinutes: -1,
      warningTitle: 'Restart tonight',
      pollIntervalMs: 30_000,
      deadlineMs: 6 * 3_600_000,
      startTimeoutMs: 600_000,
      checkInIntervalMs: 1_800_000,
    });
    assert.deepEqual(input, { catalogId, imageId: 'img-1', warningTitle: '  Restart tonight ' });
  });

  test('bound a rollout: explicit waves, catalogs per wave, exclusions', () => {
    const id = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const many = (n: number, from = 0) => Array.from({ length: n }, (_, i) => id(from + i));
    const problems = problemsOf(() =>
      parseRolloutInput({
        imageId: 'img-1',
        waves: [many(1_001), ...Array.from({ length: 500 }, (_, i) => [id(10_000 + i)])],
        excludeCatalogIds: many(5_001, 20_000),
        batchSize: 2_000,
      }),
    );
    assert.deepEqual(problems, [
      'excludeCatalogIds: at most 5000 catalogs can be excluded',
      'waves: at most 500 waves, 501 given',
      'waves: at most 1000 catalogs in one wave',
      'batchSize: at most 1000 catalogs in one wave',
    ]);
    assert.doesNotThrow(() =>
      parseRolloutInput({ imageId: 'img-1', allCatalogs: true, batchSize: 2_000 }, { limits: false }),
    );
  });

  test('refuse a missing field and a value that is not an object', () => {
    assert.deepEqual(
      problemsOf(() => parseUpdateCatalogImageInput({ catalogId })),
      ['imageId: is required'],
    );
    assert.deepEqual(
      problemsOf(() => parseUpdateCatalogImageInput([catalogId])),
      ['expected an object, got an array'],
    );
  });

  test('give nested paths inside a rollout, and check across fields even when a field is malformed', () => {
    const problems = problemsOf(() =>
      parseRolloutInput({
        imageId: 'img-1',
        waves: [[], [catalogId, 'x']],
        approval: 'sometimes',
        startAt: '2026-12-05 22:00',
        maintenanceWindow: { days: ['Mon', 'Someday'], start: '22:00', end: '22:00', timeZone: 'Europe/Berlin' },
        canaryCount: 1,
        canaryPercent: 10,
      }),
    );
    assert.deepEqual(problems, [
      'waves.0: must hold at least 1 item',
      'waves.1.1: waves must hold catalog GUIDs',
      'approval: expected one of none, afterCanary, everyWave, got "sometimes"',
      'startAt: startAt must be an ISO 8601 time with an offset, such as 2026-12-05T22:00:00+01:00',
      'maintenanceWindow.days.1: expected one of Sun, Mon, Tue, Wed, Thu, Fri, Sat, got "Someday"',
      'maintenanceWindow.end: a maintenance window must not start and end at the same time',
      'canaryCount: give canaryCount or canaryPercent, not both',
    ]);
  });

  test('hand each parsed rollout its own default lists', () => {
    const first = parseRolloutInput({ imageId: 'img-1', allCatalogs: true });
    first.excludeCatalogIds.push(catalogId);
    assert.deepEqual(parseRolloutInput({ imageId: 'img-1', allCatalogs: true }).excludeCatalogIds, []);
  });
});
