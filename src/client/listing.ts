/** Finding workflows by search attribute, and starting a failed one again from its recorded input. */
import type { Client, WorkflowExecutionInfo, WorkflowHandle } from '@temporalio/client';
import { InvalidInputError } from '../shared';
import { recordedInput } from './history';

export interface ListFilters {
  running?: boolean;
  failed?: boolean;
  catalogId?: string;
  imageId?: string;
  rolloutId?: string;
  type?: 'update' | 'rollout';
}

/** A visibility query over the project's search attributes, for `list` and the Temporal UI alike. */
export function listQuery(filters: ListFilters): string {
  const clauses: string[] = [];
  // Every id the project uses is a GUID or a short safe name; anything else is a typo, not a value to escape.
  const quote = (value: string) => {
    if (!/^[A-Za-z0-9._:-]{1,128}$/.test(value))
      throw new InvalidInputError([`"${value}" is not a valid id to filter on`]);
    return `'${value}'`;
  };
  if (filters.type === 'update') clauses.push(`WorkflowType = 'updateCatalogImage'`);
  if (filters.type === 'rollout') clauses.push(`WorkflowType = 'rolloutImage'`);
  if (filters.running) clauses.push(`ExecutionStatus = 'Running'`);
  if (filters.failed) clauses.push(`ExecutionStatus IN ('Failed', 'TimedOut', 'Terminated')`);
  if (filters.catalogId) clauses.push(`CatalogId = ${quote(filters.catalogId)}`);
  if (filters.imageId) clauses.push(`ImageId = ${quote(filters.imageId)}`);
  if (filters.rolloutId) clauses.push(`RolloutId = ${quote(filters.rolloutId)}`);
  if (clauses.length === 0) clauses.push(`WorkflowType IN ('updateCatalogImage', 'rolloutImage')`);
  return clauses.join(' AND ');
}

export async function listWorkflows(
  client: Client,
  filters: ListFilters,
  limit = 100,
): Promise<WorkflowExecutionInfo[]> {
  const found: WorkflowExecutionInfo[] = [];
  for await (const execution of client.workflow.list({ query: listQuery(filters) })) {
    found.push(execution);
    if (found.length >= limit) break;
  }
  return found;
}

const RETRYABLE_STATUSES = new Set(['FAILED', 'TIMED_OUT', 'TERMINATED', 'CANCELLED']);
/** Only this project's own workflows are restarted from their recorded input. */
const RETRYABLE_TYPES = new Set(['updateCatalogImage', 'rolloutImage']);

/**
 * Starts a fresh run of a workflow that failed, timed out, was terminated or cancelled, with the input it recorded, under the same workflow id (one catalog, one update at a time) and the same search attributes.
 */
export async function retryWorkflow(client: Client, workflowId: string): Promise<WorkflowHandle> {
  const handle = client.workflow.getHandle(workflowId);
  const latest = await handle.describe();
  if (!RETRYABLE_TYPES.has(latest.type)) {
    throw new InvalidInputError([
      `${workflowId} is a ${latest.type} workflow: retry restarts only catalog updates and rollouts`,
    ]);
  }
  if (!RETRYABLE_STATUSES.has(latest.status.name)) {
    throw new InvalidInputError([
      `${workflowId} is ${latest.status.name}: only a failed, timed-out, terminated or cancelled workflow is retried`,
    ]);
  }
  const input = await recordedInput(client, workflowId, latest.runId);
  return client.workflow.start(latest.type, {
    workflowId,
    taskQueue: latest.taskQueue,
    args: [input],
    typedSearchAttributes: latest.typedSearchAttributes,
    memo: latest.memo,
  });
}
