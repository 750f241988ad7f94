import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import {
  productionWorkflowBundle,
  recordFigures,
  recordedHistories,
  workflowBundle,
  quietTemporalLogs,
} from './helpers';

quietTemporalLogs();

test('every recorded history of a released workflow replays on the current code', async () => {
  const histories = recordedHistories();
  assert.ok(histories.length >= 6, `expected the recorded histories, found ${histories.length}`);
  const replayed: string[] = [];
  const results = Worker.runReplayHistories(
    { workflowBundle: await workflowBundle(), replayName: 'recorded' },
    histories,
  );
  for await (const result of results) {
    assert.equal(result.error, undefined, `${result.workflowId} no longer replays: ${result.error}`);
    replayed.push(result.workflowId);
  }
  assert.equal(replayed.length, histories.length);
  recordFigures({
    row: 'determinism: recorded histories replay',
    tried: histories.length,
    endedCorrectly: replayed.length,
    duplicatePosts: 0,
  });
});

async function replayAgainst(fixture: string) {
  const bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve(`./fixtures/${fixture}`),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
  });
  // Only the histories of the workflow the fixtures change; other workflows' histories are not affected.
  const histories = recordedHistories().filter(
    ({ history }) =>
      history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name === 'updateCatalogImage',
  );
  assert.ok(histories.length >= 6, `found ${histories.length} updateCatalogImage histories`);
  const outcomes: { workflowId: string; error?: Error }[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: bundle, replayName: fixture }, histories)) {
    outcomes.push({ workflowId: result.workflowId, error: result.error });
  }
  assert.equal(outcomes.length, histories.length);
  return outcomes;
}

test('a change that alters the commands of the workflow is caught: no recorded history replays on it', async () => {
  const outcomes = await replayAgainst('nondeterministic-workflows');
  const caught = outcomes.filter(({ error }) => error instanceof DeterminismViolationError);
  recordFigures({
    row: 'determinism: unguarded change caught',
    tried: outcomes.length,
    endedCorrectly: caught.length,
    duplicatePosts: 0,
  });
  assert.deepEqual(
    outcomes.filter(({ error }) => !(error instanceof DeterminismViolationError)).map(({ workflowId }) => workflowId),
    [],
    'every history fails with a DeterminismViolationError',
  );
  assert.match(String(caught[0]?.error?.message), /[Nn]ondeterminism/);
});

test('the same change guarded by patched() keeps every recorded history replaying', async () => {
  const outcomes = await replayAgainst('patched-workflows');
  recordFigures({
    row: 'determinism: patched() change replays',
    tried: outcomes.length,
    endedCorrectly: outcomes.filter(({ error }) => !error).length,
    duplicatePosts: 0,
  });
  assert.deepEqual(
    outcomes.filter(({ error }) => error).map(({ workflowId, error }) => `${workflowId}: ${error}`),
    [],
  );
});

test('the workflow bundle carries no schema library, which every cached workflow would evaluate again', async () => {
  // The bundle production runs, with the observability interceptors (OpenTelemetry's among them).
  const { code } = await productionWorkflowBundle();
  const modules = new Set(code.match(/node_modules\/[\w@.-]+(?:\/[\w.-]+)?/g));
  assert.ok(
    [...modules].some((m) => m.includes('@temporalio/workflow')),
    'the bundle lists its modules',
  );
  assert.deepEqual(
    [...modules].filter((m) => m.includes('zod')),
    [],
    'workflow code imports zod (directly or through a shared module): see src/shared/validation.ts',
  );
});
