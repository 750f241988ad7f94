import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ServiceError, WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import {
  CatalogBusyError,
  SearchAttributesMissingError,
  TemporalUnreachableError,
  innermostCause,
} from '../../src/client';
import { ConfigError } from '../../src/config';
import { ExitCode, describeError, table, withFlagNames } from '../../src/cli/output';
import { rolloutExitCode } from '../../src/cli/rollout-commands';
import { InvalidInputError } from '../../src/shared';
import type { RolloutSummary } from '../../src/shared/rollout';

const notReady = ApplicationFailure.nonRetryable('image Win11 (x) is in state Importing', 'ImageNotUsable');

describe('the innermost cause of what the SDK wraps', () => {
  test("an activity failure inside a workflow failure is the activity's own message and type", () => {
    const activity = new ActivityFailure(
      'Activity task failed',
      'resolveRolloutTargets',
      'a1',
      RetryState.NON_RETRYABLE_FAILURE,
      undefined,
      notReady,
    );
    const cause = innermostCause(
      new WorkflowFailedError('Workflow execution failed', activity, RetryState.NON_RETRYABLE_FAILURE),
    );
    assert.deepEqual([cause.type, cause.message], ['ImageNotUsable', 'image Win11 (x) is in state Importing']);
  });

  test('a failed workflow update says why the update was refused', () => {
    const refused = ApplicationFailure.create({ message: 'nothing awaits approval: the rollout is running' });
    const cause = innermostCause(new WorkflowUpdateFailedError('Workflow Update failed', refused));
    assert.equal(cause.message, 'nothing awaits approval: the rollout is running');
  });

  test("a service error gives the server's words, without the gRPC code", () => {
    const grpc = Object.assign(new Error('3 INVALID_ARGUMENT: invalid query'), { code: 3, details: 'invalid query' });
    const cause = innermostCause(new ServiceError('Failed to list workflows', { cause: grpc }));
    assert.equal(cause.message, 'invalid query');
  });

  test('a halted rollout keeps its details', () => {
    const halted = ApplicationFailure.nonRetryable('rollout r halted', 'RolloutHalted', { phase: 'halted' });
    const cause = innermostCause(
      new WorkflowFailedError('Workflow execution failed', halted, RetryState.NON_RETRYABLE_FAILURE),
    );
    assert.equal(cause.type, 'RolloutHalted');
    assert.deepEqual(cause.details, [{ phase: 'halted' }]);
  });
});

describe('messages name the flags an operator typed', () => {
  test('fields become flags, list paths become items', () => {
    assert.equal(
      withFlagNames('catalogIds.2: catalogIds must be catalog GUIDs; maintenanceWindow.days.0: expected Sat'),
      '--catalogs #3: --catalogs must be catalog GUIDs; --window days #1: expected Sat',
    );
  });

  test('a field named again in its own message is said once', () => {
    assert.equal(
      withFlagNames('deadlineMs: deadlineMs must be at least 1 minute'),
      '--deadline must be at least 1 minute',
    );
  });

  test('words that merely contain a field name are left alone', () => {
    assert.equal(withFlagNames('the imageIdentifier and a dryRunner'), 'the imageIdentifier and a dryRunner');
  });
});

describe('one exit-code table', () => {
  const cases: Array<[string, unknown, ExitCode]> = [
    ['bad input', new InvalidInputError(['catalogId must be a GUID']), ExitCode.BadInput],
    ['bad configuration', new ConfigError(['TEMPORAL_TLS must be true or false']), ExitCode.BadInput],
    ['a namespace without search attributes', new SearchAttributesMissingError('default'), ExitCode.BadInput],
    ['an unreachable server', new TemporalUnreachableError('127.0.0.1:1', new Error('refused')), ExitCode.Unknown],
    ['a busy catalog', new CatalogBusyError('busy'), ExitCode.Failed],
    ['anything else', new Error('boom'), ExitCode.Failed],
  ];
  for (const [what, error, code] of cases) {
    test(`${what} exits ${code}`, () => assert.equal(describeError(error).exitCode, code));
  }

  const summary = (patch: Partial<RolloutSummary>): RolloutSummary => ({
    rolloutId: 'r',
    phase: 'completed',
    dryRun: false,
    paused: false,
    currentWave: 0,
    waves: [],
    catalogCount: 1,
    counts: { updated: 1 },
    failures: 0,
    errors: [],
    skipped: [],
    skippedCount: 0,
    startedAt: '2026-01-01T00:00:00Z',
    ...patch,
  });
  test('a completed rollout exits 0', () => assert.equal(rolloutExitCode(summary({})), ExitCode.Done));
  test('an aborted rollout exits 1', () =>
    assert.equal(rolloutExitCode(summary({ phase: 'aborted' })), ExitCode.Failed));
  test('a rolled-back rollout exits 1', () =>
    assert.equal(rolloutExitCode(summary({ counts: { rolledBack: 2 } })), ExitCode.Failed));
  test('a dry run whose plan has failures exits 1', () =>
    assert.equal(
      rolloutExitCode(summary({ phase: 'planned', dryRun: true, errors: [{ catalogId: 'c', message: 'busy' }] })),
      ExitCode.Failed,
    ));
});

test('tables align every column but the last', () => {
  assert.equal(
    table([
      ['a', 'long', 'x'],
      ['bbb', 's', 'y'],
    ]),
    'a    long  x\nbbb  s     y',
  );
});
