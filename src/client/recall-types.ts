/** What a recall plans and what becomes of each part of it. */
export interface RecallRequest {
  imageId: string;
  /** Who recalls it: recorded in every rollout it rolls back, every schedule it pauses and every restore it starts. */
  by: string;
  reason?: string;
}

/** A catalog that goes back: from the recalled image (or whatever it runs now) to the image it had before. */
export interface RecalledCatalog {
  catalogId: string;
  catalogName?: string;
  /** Its state in the rollout (`running`: its update to the image is still in flight). */
  state: string;
  from?: string;
  to?: string;
}

export interface RunningRollout {
  workflowId: string;
  rolloutId: string;
  startedAt: string;
  /** How it was found: `ImageId`, or `schedule <id>` for a run of one of the image's schedules. */
  foundBy: string;
  /** Its phase, when a worker answered. */
  phase?: string;
  /** The catalogs it moved or is moving so far (its rollback returns them); absent when no worker answered. */
  moved?: RecalledCatalog[];
}

export interface FinishedRollout {
  workflowId: string;
  rolloutId: string;
  /** Temporal's status: `COMPLETED` (completed or aborted), `FAILED` (halted), … */
  status: string;
  closedAt?: string;
  restoreWorkflowId: string;
  /** The status of a restore of it that exists already: it is not started twice. */
  existingRestore?: string;
  /** What its restore would return, read now by the restore's dry run. */
  restores?: RecalledCatalog[];
  /** Catalogs the restore leaves as they are (moved on since, no longer in the site), with why; the first ones. */
  leftAlone?: Array<{ catalogId: string; reason: string }>;
  leftAloneCount?: number;
  /** Why its restore could not be planned. */
  planError?: string;
}

export interface RecallSchedule {
  scheduleId: string;
  paused: boolean;
  note?: string;
  imageId?: string;
  imagePattern?: string;
  /**
   * `pause`, or why it is left: already paused, or it picks its image by a name pattern when it runs, which its
   * description cannot tell apart from any other image.
   */
  decision: 'pause' | 'alreadyPaused' | 'byPattern';
  /** Its rollouts running now. */
  running: string[];
}

export interface RecallPlan extends RecallRequest {
  /** The note each paused schedule gets. */
  note: string;
  running: RunningRollout[];
  finished: FinishedRollout[];
  schedules: RecallSchedule[];
}

export type RecallOutcome =
  | 'paused'
  | 'alreadyPaused'
  | 'notPaused'
  | 'pauseFailed'
  | 'rollbackRequested'
  | 'signalFailed'
  | 'restoreStarted'
  | 'alreadyRestoring'
  | 'alreadyRestored'
  | 'nothingToRestore'
  | 'restoreFailed';

/** What became of one part of a recall. */
export interface RecallStep {
  kind: 'rollout' | 'schedule';
  /** The rollout's workflow id, or the schedule's id. */
  id: string;
  outcome: RecallOutcome;
  failed: boolean;
  /** The restore rollout's workflow id, when one was started or runs already. */
  restoreWorkflowId?: string;
  /** What went wrong, or how a rollout that was left stands. */
  message?: string;
}

export interface RecallResult {
  plan: RecallPlan;
  steps: RecallStep[];
  failed: number;
}
