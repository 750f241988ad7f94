import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { defaultPayloadConverter } from '@temporalio/common';

export async function historiesOf(client: Client, query?: string): Promise<string[]> {
  const histories: string[] = [];
  for await (const execution of client.workflow.list(query ? { query } : undefined)) {
    const history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
    histories.push(JSON.stringify(history));
  }
  return histories;
}

/** Every history on the server as JSON text, for the secrets check. */
export async function historiesAsJson(client: Client): Promise<{ what: string; text: string }[]> {
  const texts: { what: string; text: string }[] = [];
  for await (const execution of client.workflow.list()) {
    const history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
    texts.push({ what: `history of ${execution.workflowId}/${execution.runId}`, text: historyToJSON(history) });
  }
  return texts;
}

const HISTORIES = path.resolve(__dirname, '../histories');

/** The committed histories of released workflow versions (`test/histories/`), for replay. */
export function recordedHistories() {
  return readdirSync(HISTORIES, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => ({ workflowId: file, history: JSON.parse(readFileSync(path.join(HISTORIES, file), 'utf8')) }));
}

/** The summaries the Temporal UI shows beside a workflow's activities and timers, in the order it scheduled them. */
export async function commandSummaries(client: Client, workflowId: string): Promise<string[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const summaries: string[] = [];
  for (const event of history.events ?? []) {
    const summary = event.userMetadata?.summary;
    const scheduled = event.activityTaskScheduledEventAttributes ?? event.timerStartedEventAttributes;
    if (!scheduled) continue;
    const name = event.activityTaskScheduledEventAttributes?.activityType?.name ?? 'timer';
    summaries.push(`${name}: ${summary ? defaultPayloadConverter.fromPayload<string>(summary) : '(none)'}`);
  }
  return summaries;
}
