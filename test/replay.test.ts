import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Worker } from '@temporalio/worker';
import { workflowBundle, quietTemporalLogs } from './helpers';

quietTemporalLogs();

const HISTORIES = path.resolve(__dirname, 'histories');

function recordedHistories() {
  return readdirSync(HISTORIES, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => ({ workflowId: file, history: JSON.parse(readFileSync(path.join(HISTORIES, file), 'utf8')) }));
}

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
});
