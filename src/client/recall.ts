/**
 * Recalling an image that turned out bad, everywhere at once: every running rollout of it rolls back, every schedule
 * that would roll it out again is paused, and every rollout of it that ended is undone by its restore rollout.
 * `planRecall` reads what there is and changes nothing (the restores' plans are their own dry runs);
 * `executeRecall` carries a plan out and says what became of each part. Nothing here prints.
 */
import { type Client, type WorkflowExecutionInfo, WorkflowNotFoundError } from '@temporalio/client';
import { isImageId, sameId } from '../citrix/ids';
import { InvalidInputError } from '../shared';
import {
  ROLLOUT_LIMITS,
  type RolloutInput,
  type RolloutProgress,
  type RolloutResult,
  SearchAttributes,
  catalogsOf,
  rolloutWorkflowId,
} from '../shared/rollout';
import { progressQuery, rollbackSignal } from '../workflows';
import { innermostCause } from './failures';
import { listQuery } from './listing';
import type {
  RecallRequest,
  RunningRollout,
  FinishedRollout,
  RecallSchedule,
  RecallPlan,
  RecallStep,
  RecallResult,
} from './recall-types';
import { mapLimit } from '../shared/concurrency';
import { restoreIdOf, restoreStarter } from './restore';

export type * from './recall-types';

/** How long a restore's dry run may take: a worker plans one in a second or two. */
const PLAN_TIMEOUT_MS = 60_000;
/** Restores planned or started at once: each lists the site's catalogs. */
const RESTORE_CONCURRENCY = 4;

/** Checks a recall before anything is asked of Temporal. */
export function parseRecallRequest(request: RecallRequest): RecallRequest {
  const problems: string[] = [];
  if (typeof request.imageId !== 'string' || !isImageId(request.imageId)) {
    problems.push(`imageId "${request.imageId}" is not an image id`);
  }
  if (typeof request.by !== 'string' || !request.by.trim()) problems.push('say who recalls the image (--by)');
  for (const [flag, text] of [
    ['--by', request.by],
    ['--reason', request.reason],
  ] as const) {
    if ((text?.length ?? 0) > ROLLOUT_LIMITS.reasonChars) {
      problems.push(`${flag} is at most ${ROLLOUT_LIMITS.reasonChars} characters`);
    }
  }
  if (problems.length > 0) throw new InvalidInputError(problems);
  return { imageId: request.imageId, by: request.by.trim(), reason: request.reason?.trim() || undefined };
}

/** The note a schedule paused by a recall keeps: who paused it and why, for whoever finds it paused. */
export function recallNote(request: RecallRequest): string {
  return `recalled image ${request.imageId} by ${request.by}${request.reason ? `: ${request.reason}` : ''}`;
}

/** Reads everything a recall of the image would touch; changes nothing. */
export async function planRecall(client: Client, taskQueue: string, request: RecallRequest): Promise<RecallPlan> {
  const { imageId, by } = parseRecallRequest(request);
  const schedules = await schedulesOf(client, imageId);
  const candidates = new Map<string, { execution?: WorkflowExecutionInfo; foundBy: string; checkImage: boolean }>();
  for (const execution of await runningRolloutsOf(client, imageId)) {
    candidates.set(execution.workflowId, { execution, foundBy: 'ImageId', checkImage: false });
  }
  // A scheduled run is found through its schedule too, whether or not it carries an ImageId; a run of a pattern's
  // schedule counts when the image it resolved to is this one.
  for (const schedule of schedules) {
    for (const workflowId of schedule.running) {
      if (candidates.has(workflowId)) continue;
      candidates.set(workflowId, {
        foundBy: `schedule ${schedule.scheduleId}`,
        checkImage: schedule.decision === 'byPattern',
      });
    }
  }
  const running = (
    await Promise.all(
      [...candidates].map(([workflowId, found]) =>
        runningRollout(client, workflowId, found.execution, found.foundBy, found.checkImage ? imageId : undefined),
      ),
    )
  ).filter((rollout): rollout is RunningRollout => rollout !== undefined);

  const runningIds = new Set(running.map((rollout) => rollout.workflowId));
  const finished = new Map<string, FinishedRollout>();
  for (const execution of await listAll(client, `${listQuery({ type: 'rollout', imageId })} ${ENDED}`)) {
    // Visibility lists every run: an older run of a rollout that runs again, or several runs of a retried one.
    if (runningIds.has(execution.workflowId) || finished.has(execution.workflowId)) continue;
    // A dry run moved nothing.
    if (execution.typedSearchAttributes.get(SearchAttributes.RolloutPhase) === 'planned') continue;
    const rolloutId = rolloutIdOf(execution.workflowId);
    finished.set(execution.workflowId, {
      workflowId: execution.workflowId,
      rolloutId,
      status: execution.status.name,
      closedAt: execution.closeTime?.toISOString(),
      restoreWorkflowId: rolloutWorkflowId(restoreIdOf(rolloutId)),
    });
  }
  return {
    imageId,
    by,
    reason: request.reason?.trim() || undefined,
    note: recallNote({ ...request, imageId, by }),
    running,
    finished: await mapLimit([...finished.values()], RESTORE_CONCURRENCY, (rollout) =>
      withRestorePlan(client, taskQueue, rollout, by),
    ),
    schedules,
  };
}

/**
 * Carries a plan out. Schedules are paused first, so that none starts the image again while its rollouts are being
 * undone; rollouts of the image that started since the plan was read are rolled back too.
 */
export async function executeRecall(client: Client, taskQueue: string, plan: RecallPlan): Promise<RecallResult> {
  const steps: RecallStep[] = [];
  for (const schedule of plan.schedules) steps.push(await pauseSchedule(client, schedule, plan.note));
  const planned = new Set([...plan.running, ...plan.finished].map((rollout) => rollout.workflowId));
  const since = (await runningRolloutsOf(client, plan.imageId)).filter((e) => !planned.has(e.workflowId));
  const toHalt = [...plan.running.map((rollout) => rollout.workflowId), ...since.map((e) => e.workflowId)];
  steps.push(...(await Promise.all(toHalt.map((workflowId) => rollBack(client, taskQueue, plan, workflowId)))));
  steps.push(
    ...(await mapLimit(plan.finished, RESTORE_CONCURRENCY, (rollout) => restore(client, taskQueue, plan, rollout))),
  );
  return { plan, steps, failed: steps.filter((step) => step.failed).length };
}

const ENDED = `AND ExecutionStatus != 'Running' AND ExecutionStatus != 'ContinuedAsNew'`;

/** Scheduled runs are named `rollout-<schedule>-<time>`; the rollout id is the workflow id without `rollout-`. */
const rolloutIdOf = (workflowId: string) => workflowId.replace(/^rollout-/, '');

async function listAll(client: Client, query: string): Promise<WorkflowExecutionInfo[]> {
  const found: WorkflowExecutionInfo[] = [];
  for await (const execution of client.workflow.list({ query })) found.push(execution);
  return found;
}

function runningRolloutsOf(client: Client, imageId: string): Promise<WorkflowExecutionInfo[]> {
  return listAll(client, listQuery({ type: 'rollout', running: true, imageId }));
}

/**
 * A running rollout with what it moved so far, when a worker answers. With `mustRunImage`, only if it rolls that
 * image out (a run of a pattern's schedule); one that does not answer is then left out, as it cannot be told.
 */
async function runningRollout(
  client: Client,
  workflowId: string,
  execution: WorkflowExecutionInfo | undefined,
  foundBy: string,
  mustRunImage?: string,
): Promise<RunningRollout | undefined> {
  const handle = client.workflow.getHandle(workflowId);
  let progress: RolloutProgress | undefined;
  try {
    progress = await client.withDeadline(Date.now() + 5_000, () =>
      handle.query(progressQuery, { states: ['updated', 'imageAssigned', 'running'] }),
    );
  } catch {
    progress = undefined;
  }
  if (mustRunImage && !sameId(progress?.imageId, mustRunImage)) return undefined;
  const image = progress?.imageId;
  const startedAt = execution?.startTime ?? (await handle.describe().catch(() => undefined))?.startTime;
  return {
    workflowId,
    rolloutId: rolloutIdOf(workflowId),
    startedAt: startedAt?.toISOString() ?? '',
    foundBy,
    phase: progress?.phase,
    moved: progress?.catalogs.map((c) => ({
      catalogId: c.catalogId,
      catalogName: c.catalogName,
      state: c.state,
      from: c.targetImageId ?? image,
      to: c.previousImageId,
    })),
  };
}

/** The schedules that start rollouts of the image, and those that pick their image by a pattern. */
async function schedulesOf(client: Client, imageId: string): Promise<RecallSchedule[]> {
  const found: RecallSchedule[] = [];
  for await (const summary of client.schedule.list()) {
    if (summary.action?.workflowType !== 'rolloutImage') continue;
    const description = await client.schedule.getHandle(summary.scheduleId).describe();
    const rollout = description.action.args?.[0] as Partial<RolloutInput> | undefined;
    const schedule = {
      scheduleId: summary.scheduleId,
      paused: description.state.paused,
      note: description.state.note,
      running: description.info.runningActions.map((run) => run.workflow.workflowId),
    };
    if (rollout?.imageId) {
      if (!sameId(rollout.imageId, imageId)) continue;
      found.push({ ...schedule, imageId: rollout.imageId, decision: schedule.paused ? 'alreadyPaused' : 'pause' });
    } else if (rollout?.imageNamePattern) {
      found.push({ ...schedule, imagePattern: rollout.imageNamePattern, decision: 'byPattern' });
    }
  }
  return found;
}

/** The status of the rollout's restore when there is one already. */
async function existingRestore(client: Client, restoreWorkflowId: string): Promise<string | undefined> {
  try {
    return (await client.workflow.getHandle(restoreWorkflowId).describe()).status.name;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return undefined;
    throw error;
  }
}

/** A finished rollout with its restore's plan: the restore's own dry run, which reads what each catalog runs now. */
async function withRestorePlan(
  client: Client,
  taskQueue: string,
  rollout: FinishedRollout,
  by: string,
): Promise<FinishedRollout> {
  const existing = await existingRestore(client, rollout.restoreWorkflowId);
  if (existing) return { ...rollout, existingRestore: existing };
  let timer: NodeJS.Timeout | undefined;
  try {
    const plan = await (await restoreStarter(client, taskQueue, rollout.rolloutId, by)).plan();
    const result = (await Promise.race([
      plan.result(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no worker planned the restore within ${PLAN_TIMEOUT_MS / 1000} s`)),
          PLAN_TIMEOUT_MS,
        );
      }),
    ])) as RolloutResult;
    return {
      ...rollout,
      restores: catalogsOf(result).map((c) => ({
        catalogId: c.catalogId,
        catalogName: c.catalogName,
        state: c.state,
        from: c.previousImageId,
        to: c.targetImageId,
      })),
      leftAlone: result.skipped,
      leftAloneCount: result.skippedCount,
    };
  } catch (error) {
    return { ...rollout, planError: innermostCause(error).message };
  } finally {
    clearTimeout(timer);
  }
}

async function pauseSchedule(client: Client, schedule: RecallSchedule, note: string): Promise<RecallStep> {
  const step = { kind: 'schedule' as const, id: schedule.scheduleId };
  if (schedule.decision === 'alreadyPaused') {
    return { ...step, outcome: 'alreadyPaused', failed: false, message: schedule.note };
  }
  if (schedule.decision === 'byPattern') {
    return {
      ...step,
      outcome: 'notPaused',
      failed: false,
      message: `it picks its image by /${schedule.imagePattern}/`,
    };
  }
  try {
    await client.schedule.getHandle(schedule.scheduleId).pause(note);
    return { ...step, outcome: 'paused', failed: false, message: note };
  } catch (error) {
    return { ...step, outcome: 'pauseFailed', failed: true, message: innermostCause(error).message };
  }
}

async function rollBack(client: Client, taskQueue: string, plan: RecallPlan, workflowId: string): Promise<RecallStep> {
  try {
    await client.workflow
      .getHandle(workflowId)
      .signal(rollbackSignal, { by: plan.by, reason: plan.reason ?? `image ${plan.imageId} recalled` });
    return { kind: 'rollout', id: workflowId, outcome: 'rollbackRequested', failed: false };
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) {
      return {
        kind: 'rollout',
        id: workflowId,
        outcome: 'signalFailed',
        failed: true,
        message: innermostCause(error).message,
      };
    }
    // It ended between the plan and the signal: what it moved is undone by its restore instead.
    const rolloutId = rolloutIdOf(workflowId);
    const restoreWorkflowId = rolloutWorkflowId(restoreIdOf(rolloutId));
    return restore(client, taskQueue, plan, { workflowId, rolloutId, status: 'ended', restoreWorkflowId });
  }
}

async function restore(
  client: Client,
  taskQueue: string,
  plan: RecallPlan,
  rollout: FinishedRollout,
): Promise<RecallStep> {
  const step = { kind: 'rollout' as const, id: rollout.workflowId, restoreWorkflowId: rollout.restoreWorkflowId };
  if (rollout.existingRestore === 'RUNNING') return { ...step, outcome: 'alreadyRestoring', failed: false };
  if (rollout.existingRestore === 'COMPLETED') {
    return { ...step, outcome: 'alreadyRestored', failed: false, message: 'its restore completed before' };
  }
  if (rollout.existingRestore) {
    return {
      ...step,
      outcome: 'restoreFailed',
      failed: true,
      message: `its restore ended ${rollout.existingRestore}: "rollout status ${rollout.restoreWorkflowId}" says why`,
    };
  }
  if (rollout.planError) return { ...step, outcome: 'restoreFailed', failed: true, message: rollout.planError };
  if (rollout.restores?.length === 0) return { ...step, outcome: 'nothingToRestore', failed: false };
  try {
    const { alreadyStarted } = await (await restoreStarter(client, taskQueue, rollout.rolloutId, plan.by)).start();
    return { ...step, outcome: alreadyStarted ? 'alreadyRestoring' : 'restoreStarted', failed: false };
  } catch (error) {
    return { ...step, outcome: 'restoreFailed', failed: true, message: innermostCause(error).message };
  }
}
