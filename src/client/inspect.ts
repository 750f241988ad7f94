/**
 * What Temporal knows about a workflow, told straight: its execution status, its own answer to a query when a worker
 * can give one, the activity that is retrying and why, and whether any worker polls its task queue at all. A status
 * query to a workflow no worker serves would wait for the server's timeout; the pollers are asked first instead.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { FailureType } from '../shared';
import { innermostCause, type Cause } from './failures';

/** `APPLICATION_ERROR_CATEGORY_BENIGN` in Temporal's API. */
const BENIGN_CATEGORY = 1;

/** A worker long-polls its task queue without pause; one not seen for this long is gone. */
const POLLER_SEEN_WITHIN_MS = 90_000;
/** How long a status query may take: a worker answers in milliseconds. */
const QUERY_TIMEOUT_MS = 5_000;

export type ExecutionStatus =
  | 'RUNNING'
  | 'COMPLETED'
  | 'FAILED'
  | 'CANCELLED'
  | 'TERMINATED'
  | 'CONTINUED_AS_NEW'
  | 'TIMED_OUT'
  | 'PAUSED'
  | 'UNSPECIFIED';

/** An activity the workflow waits for that has failed at least once and will be tried again. */
export interface RetryingActivity {
  activity: string;
  attempt: number;
  lastFailure: string;
  /** When the next attempt starts, if the server says. */
  nextAttemptAt?: string;
}

export interface Inspection<TQuery, TResult> {
  workflowId: string;
  runId: string;
  type: string;
  taskQueue: string;
  executionStatus: ExecutionStatus;
  startTime: string;
  closeTime?: string;
  /** The workflow's own answer to its query, when a worker can give one. */
  answer?: TQuery;
  /** Why there is no answer. */
  noAnswer?: string;
  result?: TResult;
  failure?: Cause;
  retrying: RetryingActivity[];
  /** Workers polling the task queue recently, if the server says. */
  workers?: number;
}

const isoOf = (timestamp: { seconds?: unknown; nanos?: number | null } | null | undefined): string | undefined =>
  timestamp?.seconds == null
    ? undefined
    : new Date(Number(timestamp.seconds) * 1000 + Math.floor((timestamp.nanos ?? 0) / 1e6)).toISOString();

async function activeWorkers(client: Client, taskQueue: string): Promise<number | undefined> {
  try {
    const { pollers } = await client.workflowService.describeTaskQueue({
      namespace: client.options.namespace,
      taskQueue: { name: taskQueue },
    });
    const now = Date.now();
    return (pollers ?? []).filter((p) => {
      const seen = isoOf(p.lastAccessTime);
      return seen !== undefined && now - Date.parse(seen) < POLLER_SEEN_WITHIN_MS;
    }).length;
  } catch {
    return undefined;
  }
}

/**
 * A poll between two reads of an unchanged catalog ends its attempt with a benign failure (the retry policy spaces the
 * reads): that is waiting, not trouble.
 */
function isBenign(failure: { applicationFailureInfo?: { type?: string | null; category?: unknown } | null }): boolean {
  const info = failure.applicationFailureInfo;
  return info?.type === FailureType.CatalogStillUpdating || info?.category === BENIGN_CATEGORY;
}

function failureText(failure: { message?: string | null; cause?: unknown } | null | undefined): string {
  // The innermost message is the one with the detail (an ActivityFailure's own message says only that it failed).
  let current = failure;
  let message = failure?.message ?? '';
  for (let depth = 0; current && depth < 10; depth++) {
    if (current.message) message = current.message;
    current = current.cause as typeof failure;
  }
  return message;
}

/** Describes a workflow, asks it `query` when a worker can answer, and reads its result or failure when it ended. */
export async function inspectWorkflow<TQuery, TResult>(
  client: Client,
  handle: WorkflowHandle,
  query: (handle: WorkflowHandle) => Promise<TQuery>,
): Promise<Inspection<TQuery, TResult>> {
  const description = await handle.describe();
  const inspection: Inspection<TQuery, TResult> = {
    workflowId: description.workflowId,
    runId: description.runId,
    type: description.type,
    taskQueue: description.taskQueue,
    executionStatus: description.status.name as ExecutionStatus,
    startTime: description.startTime.toISOString(),
    closeTime: description.closeTime?.toISOString(),
    retrying: (description.raw.pendingActivities ?? [])
      .filter((activity) => (activity.attempt ?? 1) > 1 && activity.lastFailure && !isBenign(activity.lastFailure))
      .map((activity) => ({
        activity: activity.activityType?.name ?? 'activity',
        attempt: activity.attempt ?? 1,
        lastFailure: failureText(activity.lastFailure),
        nextAttemptAt: isoOf(activity.nextAttemptScheduleTime),
      })),
  };
  const running = inspection.executionStatus === 'RUNNING';
  inspection.workers = await activeWorkers(client, inspection.taskQueue);
  if (inspection.workers === 0) {
    inspection.noAnswer =
      `no worker is polling task queue ${inspection.taskQueue}` +
      (running ? ': start one, and the workflow goes on where it stopped' : '');
  } else {
    try {
      inspection.answer = await client.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => query(handle));
    } catch (error) {
      inspection.noAnswer = `no worker answered within ${QUERY_TIMEOUT_MS / 1000} s (${innermostCause(error).message})`;
    }
  }
  if (!running) {
    try {
      inspection.result = (await handle.result()) as TResult;
    } catch (error) {
      inspection.failure = innermostCause(error);
    }
  }
  return inspection;
}
