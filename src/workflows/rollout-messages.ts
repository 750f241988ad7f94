import { defineQuery, defineSignal, defineUpdate, setHandler } from '@temporalio/workflow';
import {
  type ProgressPageRequest,
  ROLLOUT_LIMITS,
  type RolloutProgress,
  type SteeringAction,
  progressPage,
  truncateText,
} from '../shared/rollout';
import { type RolloutRun, now } from './rollout-run';

/** The summary and one page of catalogs (the first `ROLLOUT_LIMITS.pageSize` unless asked otherwise). */
export const progressQuery = defineQuery<RolloutProgress, [ProgressPageRequest?]>('progress');
/** Who steers a rollout and why: recorded in its progress (older senders send nothing, or only `by`). */
export interface SteeringStep {
  by?: string;
  reason?: string;
}
/** Finish the catalogs in flight, start no new ones until `resume`. */
export const pauseSignal = defineSignal<[SteeringStep?]>('pause');
export const resumeSignal = defineSignal<[SteeringStep?]>('resume');
/** Start no more catalogs; those in flight are watched to the end and reported. */
export const abortSignal = defineSignal<[SteeringStep?]>('abort');
/** Abort, then return the catalogs this rollout moved to the image each had before. */
export const rollbackSignal = defineSignal<[SteeringStep?]>('rollback');
/** Let the wave that waits for approval start; records who approved. */
export const approveUpdate = defineUpdate<{ wave: number; approvedBy: string }, [{ by: string; comment?: string }]>(
  'approve',
);

const { reasonChars } = ROLLOUT_LIMITS;
const said = (text: string | undefined, fallback: string) => truncateText(text?.trim() || fallback, reasonChars);

/** Answers the progress query and lets operators steer the run; the handlers only change its state. */
export function handleRolloutMessages(run: RolloutRun): void {
  const { progress } = run;
  /** Keeps the last steering actions, each bounded: a signal's text comes from whoever sent it. */
  const record = (action: SteeringAction, step: SteeringStep | undefined) => {
    const steering = (progress.steering ??= []);
    steering.push({
      action,
      by: said(typeof step?.by === 'string' ? step.by : undefined, 'an operator'),
      at: now(),
      ...(typeof step?.reason === 'string' && step.reason.trim() && { reason: said(step.reason, '') }),
    });
    if (steering.length > ROLLOUT_LIMITS.steeringKept)
      steering.splice(0, steering.length - ROLLOUT_LIMITS.steeringKept);
  };
  setHandler(progressQuery, (page) => progressPage(progress, page));
  setHandler(pauseSignal, (step) => {
    progress.paused = true;
    record('pause', step);
  });
  setHandler(resumeSignal, (step) => {
    progress.paused = false;
    record('resume', step);
  });
  setHandler(abortSignal, (details) => {
    record('abort', details);
    run.aborted = true;
    progress.reason ??= truncateText(
      `aborted by ${said(details?.by, 'an operator')}${details?.reason ? `: ${details.reason}` : ''}`,
      reasonChars,
    );
  });
  setHandler(rollbackSignal, (details) => {
    record('rollback', details);
    run.aborted = true;
    run.rollbackRequested = true;
    progress.reason ??= truncateText(
      `rollback requested by ${said(details?.by, 'an operator')}${details?.reason ? `: ${details.reason}` : ''}`,
      reasonChars,
    );
  });
  setHandler(
    approveUpdate,
    ({ by, comment }) => {
      // An inconclusive health verdict holds the rollout after a wave: approving it lets the rollout go on.
      if (run.healthHold !== undefined) {
        const held = run.healthHold;
        run.healthHold = undefined;
        record('approve', { by, reason: comment ?? `went on despite the inconclusive health of wave ${held + 1}` });
        return { wave: held, approvedBy: by };
      }
      const wave = progress.waves[progress.currentWave]!;
      wave.approvedBy = by;
      wave.approvedAt = now();
      record('approve', { by, reason: comment });
      return { wave: wave.index, approvedBy: by };
    },
    {
      validator: ({ by, comment }) => {
        if (progress.phase !== 'awaitingApproval')
          throw new Error(`nothing awaits approval: the rollout is ${progress.phase}`);
        if (typeof by !== 'string' || !by.trim()) throw new Error('say who approves');
        if (by.length > reasonChars || (comment?.length ?? 0) > reasonChars) {
          throw new Error(`the approver's name and comment are at most ${reasonChars} characters each`);
        }
      },
    },
  );
}
