import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

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
