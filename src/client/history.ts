import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

/**
 * The input a workflow run was started with: its first argument. In a chain of runs continued as new, the first
 * argument is still the caller's input; a later run's checkpoint (the second) is not part of what was asked for.
 */
export async function recordedInput(client: Client, workflowId: string, runId?: string): Promise<unknown> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const [input] = (started?.input?.payloads ?? []).map((payload) => defaultPayloadConverter.fromPayload(payload));
  return input;
}

/** The history of a workflow's latest (or given) run as JSON, the format `Worker.runReplayHistories` reads. */
export async function exportHistory(client: Client, workflowId: string, runId?: string): Promise<string> {
  return historyToJSON(await client.workflow.getHandle(workflowId, runId).fetchHistory());
}
