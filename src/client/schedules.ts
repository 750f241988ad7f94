/** Rollouts on a calendar: Temporal Schedules that start `rolloutImage`. */
import { type Client, ScheduleOverlapPolicy } from '@temporalio/client';
import { type RolloutInput, SearchAttributes, rolloutWorkflowId } from '../shared/rollout';
import { parseRolloutInput, rolloutDetails, rolloutSummary } from './rollouts';

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
  /**
   * Pause the schedule when one of its rollouts fails, so that a failed rollout does not repeat unattended on the next
   * date; `schedule unpause` starts it again once the cause is fixed.
   * @default true
   */
  pauseOnFailure?: boolean;
}

/**
 * A Temporal Schedule that starts a rollout on a calendar. The overlap policy skips a run while the previous one is
 * still going, so one schedule never runs two rollouts at once; a failed run pauses the schedule unless asked not to.
 */
export async function createRolloutSchedule(client: Client, taskQueue: string, options: ScheduleRolloutOptions) {
  const { rolloutId: _ignored, ...rollout } = parseRolloutInput({ ...options.rollout, rolloutId: undefined });
  return client.schedule.create({
    scheduleId: options.scheduleId,
    spec: { cronExpressions: options.cron, timezone: options.timeZone },
    action: {
      type: 'startWorkflow',
      workflowType: 'rolloutImage',
      taskQueue,
      // Each run's id gets the schedule's timestamp appended; the rollout takes that id as its rolloutId.
      workflowId: rolloutWorkflowId(options.scheduleId),
      args: [rollout],
      staticSummary: rolloutSummary(`${options.scheduleId}-<time>`, rollout),
      staticDetails: rolloutDetails(rollout),
      // Each run carries its image as `rollout start` does, so that `list --image` and `rollout recall` find it.
      ...(rollout.imageId && { typedSearchAttributes: [{ key: SearchAttributes.ImageId, value: rollout.imageId }] }),
    },
    policies: {
      overlap: ScheduleOverlapPolicy.SKIP,
      catchupWindow: '1 hour',
      pauseOnFailure: options.pauseOnFailure ?? true,
    },
    // The server keeps cron expressions only as calendars; the memo keeps them as the administrator wrote them.
    memo: { cron: options.cron, timeZone: options.timeZone },
    state: { note: options.note ?? `rollout of ${rollout.imageId ?? `/${rollout.imageNamePattern}/`}` },
  });
}

/** What an administrator decides on about a schedule, instead of the SDK's whole description. */
export interface RolloutScheduleSummary {
  scheduleId: string;
  paused: boolean;
  note?: string;
  /** Whether a failed rollout pauses the schedule. */
  pauseOnFailure: boolean;
  cron: string[];
  timeZone?: string;
  /** What each run rolls out: the image (or pattern) and which catalogs. */
  image?: string;
  imagePattern?: string;
  catalogs: string;
  nextRuns: string[];
  recentRuns: Array<{ scheduledAt: string; workflowId: string }>;
  running: string[];
  skippedOverlap: number;
  missedCatchupWindow: number;
}

function catalogsIn(rollout: Partial<RolloutInput> | undefined): string {
  if (!rollout) return 'unknown';
  if (rollout.allCatalogs)
    return rollout.catalogNamePattern ? `all matching /${rollout.catalogNamePattern}/` : 'all catalogs';
  if (rollout.waves) return `${rollout.waves.flat().length} catalogs in ${rollout.waves.length} explicit waves`;
  return `${rollout.catalogIds?.length ?? 0} catalogs`;
}

export async function describeRolloutSchedule(client: Client, scheduleId: string): Promise<RolloutScheduleSummary> {
  const description = await client.schedule.getHandle(scheduleId).describe();
  const memo = description.memo as { cron?: unknown } | undefined;
  const rollout =
    description.action.type === 'startWorkflow'
      ? (description.action.args?.[0] as Partial<RolloutInput> | undefined)
      : undefined;
  return {
    scheduleId,
    paused: description.state.paused,
    note: description.state.note,
    pauseOnFailure: description.policies.pauseOnFailure,
    cron: (memo?.cron as string[] | undefined) ?? [`${description.spec.calendars?.length ?? 0} calendar entries`],
    timeZone: description.spec.timezone,
    image: rollout?.imageId,
    imagePattern: rollout?.imageNamePattern,
    catalogs: catalogsIn(rollout),
    nextRuns: description.info.nextActionTimes.slice(0, 5).map((time) => time.toISOString()),
    recentRuns: description.info.recentActions.slice(-5).map((run) => ({
      scheduledAt: run.scheduledAt.toISOString(),
      workflowId: run.action.workflow.workflowId,
    })),
    running: description.info.runningActions.map((run) => run.workflow.workflowId),
    skippedOverlap: description.info.numActionsSkippedOverlap,
    missedCatchupWindow: description.info.numActionsMissedCatchupWindow,
  };
}
