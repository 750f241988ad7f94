import type { Client } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

/**
 * The input a workflow run was started with: its first argument. In a chain of runs continued as new, the first
 * argument is still the caller's input; a later run's checkpoint (the second) is not part of what was asked for.
 * Decoded with the client's data converter: an encrypted input needs the keys.
 */
export async function recordedInput(client: Client, workflowId: string, runId?: string): Promise<unknown> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const payloads = started?.input?.payloads ?? [];
  return payloads.length ? decodeFromPayloadsAtIndex(client.options.loadedDataConverter, 0, payloads) : undefined;
}

/** The history of a workflow's latest (or given) run as JSON, the format `Worker.runReplayHistories` reads. */
export async function exportHistory(client: Client, workflowId: string, runId?: string): Promise<string> {
  return historyToJSON(await client.workflow.getHandle(workflowId, runId).fetchHistory());
}
