/**
 * What operators do from the command line beyond a single update: start and steer rollouts, find workflows by search
 * attribute, retry failed ones from their recorded input, export histories, and manage scheduled rollouts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Client,
  ScheduleOverlapPolicy,
  type WorkflowExecutionInfo,
  type WorkflowHandle,
  WorkflowFailedError,
} from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { InvalidInputError } from './shared';
import {
  type CatalogRolloutProgress,
  type RolloutInput,
  type RolloutResult,
  type RolloutSummary,
  type RolloutRequest,
  SearchAttributes,
  parseRolloutInput as parseRolloutRequest,
  rolloutWorkflowId,
} from './shared/rollout';
import { namePatternProblem } from './activities/name-pattern';
import { progressQuery, rolloutImage } from './workflows';

/**
 * Validates a rollout's input as the workflow will, plus its name patterns with the engine the worker matches them
 * with (RE2: no look-around, no back-references), so that such a pattern is refused before anything starts.
 */
export function parseRolloutInput(input: unknown): RolloutRequest {
  const request = parseRolloutRequest(input);
  const problems = (['imageNamePattern', 'catalogNamePattern'] as const).flatMap((field) => {
    const pattern = request[field];
    const problem = pattern === undefined ? undefined : namePatternProblem(pattern);
    return problem ? [`${field}: ${problem}`] : [];
  });
  if (problems.length > 0) throw new InvalidInputError(problems);
  return request;
}

function defaultRolloutId(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
}

/** Starts a rollout under `rollout-<rolloutId>`; the id defaults to the start time. */
export async function startRollout(
  client: Client,
  taskQueue: string,
  input: RolloutInput,
): Promise<WorkflowHandle<typeof rolloutImage>> {
  const request = parseRolloutInput({ ...input, rolloutId: input.rolloutId ?? defaultRolloutId() });
  const rolloutId = request.rolloutId!;
  return client.workflow.start(rolloutImage, {
    taskQueue,
    workflowId: rolloutWorkflowId(rolloutId),
    args: [request],
    typedSearchAttributes: [
      { key: SearchAttributes.RolloutId, value: rolloutId },
      ...(request.imageId ? [{ key: SearchAttributes.ImageId, value: request.imageId }] : []),
    ],
    memo: { rolloutId, imageId: request.imageId ?? `newest matching /${request.imageNamePattern}/` },
  });
}

export function rolloutHandle(client: Client, rolloutId: string): WorkflowHandle<typeof rolloutImage> {
  return client.workflow.getHandle<typeof rolloutImage>(rolloutWorkflowId(rolloutId));
}

/** One line per change of a rollout's progress. */
export function describeProgress(progress: RolloutSummary): string {
  const count = (state: keyof RolloutSummary['counts']) => progress.counts[state] ?? 0;
  const parts = [
    progress.phase.padEnd(16),
    `wave ${Math.min(progress.currentWave + 1, progress.waves.length)}/${progress.waves.length}`,
    `updated ${count('updated')}`,
    `assigned ${count('imageAssigned')}`,
    `running ${count('running')}`,
    `failed ${count('failed')}`,
    `pending ${count('pending')}`,
  ];
  if (count('alreadyCurrent')) parts.push(`already current ${count('alreadyCurrent')}`);
  if (count('rolledBack')) parts.push(`rolled back ${count('rolledBack')}`);
  if (progress.paused) parts.push('PAUSED');
  if (progress.waitingUntil) parts.push(`until ${progress.waitingUntil}`);
  return parts.join('  ');
}

/** A table of the rollout's catalogs, for the end of `--wait` and for `rollout status`. */
export function describeCatalogs(catalogs: CatalogRolloutProgress[]): string {
  return catalogs
    .map(
      (c) =>
        `  wave ${c.wave + 1}  ${c.state.padEnd(14)} ${c.catalogName ?? c.catalogId}` +
        (c.error ? `  (${c.error.type}: ${c.error.message})` : '') +
        (c.transactionId ? `  txn ${c.transactionId}` : ''),
    )
    .join('\n');
}

/** Prints progress until the rollout ends; resolves with its final progress (also when it halted). */
export async function watchRollout(
  handle: WorkflowHandle<typeof rolloutImage>,
  write: (line: string) => void,
  options: { json?: boolean; refreshMs?: number } = {},
): Promise<{ progress?: RolloutResult; failed: boolean; message?: string }> {
  const result = handle.result();
  let done = false;
  result.then(
    () => (done = true),
    () => (done = true),
  );
  let last = '';
  while (!done) {
    const progress = await Promise.race([handle.query(progressQuery).catch(() => undefined), sleep(5000)]);
    if (progress) {
      const line = options.json ? JSON.stringify({ event: 'progress', ...progress }) : describeProgress(progress);
      if (line !== last) write(options.json ? line : `${new Date().toISOString().slice(11, 19)}  ${line}`);
      last = line;
    }
    await Promise.race([result.catch(() => undefined), sleep(options.refreshMs ?? 2000)]);
  }
  try {
    return { progress: await result, failed: false };
  } catch (error) {
    if (error instanceof WorkflowFailedError && error.cause) {
      const details = (error.cause as { details?: unknown[] }).details;
      return { progress: details?.[0] as RolloutResult | undefined, failed: true, message: error.cause.message };
    }
    throw error;
  }
}

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
  const history = await client.workflow.getHandle(workflowId, latest.runId).fetchHistory();
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  // The first argument is the caller's input, in every run of a chain; a continued-as-new run's checkpoint (the
  // second) is not part of what was asked for.
  const [input] = (started?.input?.payloads ?? []).map((payload) => defaultPayloadConverter.fromPayload(payload));
  return client.workflow.start(latest.type, {
    workflowId,
    taskQueue: latest.taskQueue,
    args: [input],
    typedSearchAttributes: latest.typedSearchAttributes,
    memo: latest.memo,
  });
}

/** The history of a workflow's latest (or given) run as JSON, the format `Worker.runReplayHistories` reads. */
export async function exportHistory(client: Client, workflowId: string, runId?: string): Promise<string> {
  return historyToJSON(await client.workflow.getHandle(workflowId, runId).fetchHistory());
}

/**
 * Starts a scheduled rollout now, unless the schedule's last rollout still runs: a trigger keeps the schedule's
 * promise of never two rollouts at once (the SDK's default overlap for a trigger would start a second).
 */
export async function triggerRolloutSchedule(client: Client, scheduleId: string): Promise<void> {
  await client.schedule.getHandle(scheduleId).trigger(ScheduleOverlapPolicy.SKIP);
}

export interface ScheduleRolloutOptions {
  scheduleId: string;
  /** Cron expressions, such as `0 3 * * 3` (Wednesdays 03:00, the day after Patch Tuesday's week starts). */
  cron: string[];
  timeZone?: string;
  rollout: RolloutInput;
  note?: string;
}

/**
 * A Temporal Schedule that starts a rollout on a calendar. The overlap policy skips a run while the previous one is
 * still going, so one schedule never runs two rollouts at once.
 */
export async function createRolloutSchedule(client: Client, taskQueue: string, options: ScheduleRolloutOptions) {
  const { rolloutId: _ignored, ...rollout } = parseRolloutInput({ ...options.rollout, rolloutId: undefined });
  return client.schedule.create({
    scheduleId: options.scheduleId,
    spec: { cronExpressions: options.cron, timezone: options.timeZone },
    action: {
      type: 'startWorkflow',
      workflowType: rolloutImage,
      taskQueue,
      // Each run's id gets the schedule's timestamp appended; the rollout takes that id as its rolloutId.
      workflowId: rolloutWorkflowId(options.scheduleId),
      args: [rollout],
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
    state: { note: options.note ?? `rollout of ${rollout.imageId ?? `/${rollout.imageNamePattern}/`}` },
  });
}
