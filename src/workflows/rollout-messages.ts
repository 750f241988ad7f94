import { defineQuery, defineSignal, defineUpdate, setHandler } from '@temporalio/workflow';
import {
  type ProgressPageRequest,
  ROLLOUT_LIMITS,
  type RolloutPhase,
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
/** What a steering update answers: where the rollout stands once the request is taken. */
export interface SteeringOutcome {
  phase: RolloutPhase;
  paused: boolean;
  /** Aborted or rolling back: it starts no more catalogs and ends once those in flight are done. */
  stopping: boolean;
  rollbackRequested: boolean;
}

// Steering is an update (validated, answered with the outcome) and, for senders of earlier releases, a signal of the
// same name; Temporal keeps the two kinds of handler apart.
/** Finish the catalogs in flight, start no new ones until `resume`. */
export const pauseUpdate = defineUpdate<SteeringOutcome, [SteeringStep]>('pause');
export const resumeUpdate = defineUpdate<SteeringOutcome, [SteeringStep]>('resume');
/** Start no more catalogs; those in flight are watched to the end and reported. */
export const abortUpdate = defineUpdate<SteeringOutcome, [SteeringStep]>('abort');
/** Abort, then return the catalogs this rollout moved to the image each had before. */
export const rollbackUpdate = defineUpdate<SteeringOutcome, [SteeringStep]>('rollback');
export const pauseSignal = defineSignal<[SteeringStep?]>('pause');
export const resumeSignal = defineSignal<[SteeringStep?]>('resume');
export const abortSignal = defineSignal<[SteeringStep?]>('abort');
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
  const steer: Record<Exclude<SteeringAction, 'approve'>, (step: SteeringStep | undefined) => void> = {
    pause: (step) => {
      progress.paused = true;
      record('pause', step);
    },
    resume: (step) => {
      progress.paused = false;
      record('resume', step);
    },
    abort: (step) => {
      record('abort', step);
      run.aborted = true;
      progress.reason ??= truncateText(
        `aborted by ${said(step?.by, 'an operator')}${step?.reason ? `: ${step.reason}` : ''}`,
        reasonChars,
      );
    },
    rollback: (step) => {
      record('rollback', step);
      run.aborted = true;
      run.rollbackRequested = true;
      progress.reason ??= truncateText(
        `rollback requested by ${said(step?.by, 'an operator')}${step?.reason ? `: ${step.reason}` : ''}`,
        reasonChars,
      );
    },
  };
  const outcome = (): SteeringOutcome => ({
    phase: progress.phase,
    paused: progress.paused,
    stopping: run.aborted,
    rollbackRequested: run.rollbackRequested,
  });
  /** ` (by alice at …)`: who took the last of these actions, for a refusal's reason. */
  const since = (...actions: SteeringAction[]) => {
    const last = [...(progress.steering ?? [])].reverse().find((step) => actions.includes(step.action));
    return last ? ` (by ${last.by} at ${last.at})` : '';
  };
  const steeringUpdates = [
    [pauseUpdate, steer.pause, () => (progress.paused ? `it is already paused${since('pause')}` : undefined)],
    [resumeUpdate, steer.resume, () => (progress.paused ? undefined : 'it is not paused')],
    [abortUpdate, steer.abort, () => (run.aborted ? `it is already stopping${since('abort', 'rollback')}` : undefined)],
    [
      rollbackUpdate,
      steer.rollback,
      () =>
        progress.dryRun
          ? 'a dry run moved nothing'
          : run.rollbackRequested
            ? `a rollback was already requested${since('rollback')}`
            : undefined,
    ],
  ] as const;
  for (const [update, apply, refusal] of steeringUpdates) {
    setHandler(
      update,
      (step) => {
        apply(step);
        return outcome();
      },
      {
        validator: (step) => {
          checkSteeringStep(step);
          if (ENDED.has(progress.phase)) throw new Error(`the rollout is ${progress.phase}: nothing to ${update.name}`);
          const reason = refusal();
          if (reason) throw new Error(`cannot ${update.name}: ${reason}`);
        },
      },
    );
  }
  setHandler(pauseSignal, steer.pause);
  setHandler(resumeSignal, steer.resume);
  setHandler(abortSignal, steer.abort);
  setHandler(rollbackSignal, steer.rollback);
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
        checkSteeringStep({ by, reason: comment });
      },
    },
  );
}

/** Phases in which the rollout takes no more steering: it has ended, or only finishes its last steps. */
const ENDED: ReadonlySet<RolloutPhase> = new Set(['completed', 'halted', 'aborted', 'rollingBack', 'planned']);

/** A steering update's argument: who (required) and why, each bounded. */
function checkSteeringStep(step: SteeringStep | undefined): void {
  if (typeof step?.by !== 'string' || !step.by.trim()) throw new Error('say who does it: { "by": "…", "reason": "…" }');
  if (step.reason !== undefined && typeof step.reason !== 'string') throw new Error('the reason is text');
  if (step.by.length > reasonChars || (step.reason?.length ?? 0) > reasonChars) {
    throw new Error(`the name and the reason are at most ${reasonChars} characters each`);
  }
}
