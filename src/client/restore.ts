/**
 * Undoing a rollout that ended: the restore rollout `<id>-restore` returns the catalogs it moved to the image each
 * had before. `rollout rollback` and `rollout recall` start it the same way, through this module.
 */
import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { type RolloutInput, rolloutWorkflowId } from '../shared/rollout';
import { recordedInput } from './history';
import { type RolloutHandle, rolloutHandle, startRollout } from './rollouts';

/** What a restore takes over from the rollout it undoes. */
const RESTORE_CARRIES = [
  'batchSize',
  'maxParallel',
  'failureBudget',
  'vdaUpdateDelayMinutes',
  'warningTitle',
  'warningMessage',
  'pollIntervalMs',
  'catalogDeadlineMs',
  'healthGate',
  'healthWaitMs',
  'minRegisteredPercent',
  'minMachinesOnImage',
] as const satisfies ReadonlyArray<keyof RolloutInput>;

/** The rollout id of the restore of `rolloutId` (a rollout id or its workflow id). */
export function restoreIdOf(rolloutId: string): string {
  return `${rolloutWorkflowId(rolloutId).replace(/^rollout-/, '')}-restore`;
}

export interface RestoreStarter {
  /** The restore's rollout id, `<id>-restore`. */
  restoreId: string;
  /** Starts the restore's own dry run: it reads what each catalog runs now and posts nothing. */
  plan(): Promise<RolloutHandle>;
  /**
   * Starts the restore. One that already runs for this rollout is handed back as it is (`alreadyStarted`): a
   * second one would only race the first for the same catalogs.
   */
  start(): Promise<{ handle: RolloutHandle; alreadyStarted: boolean }>;
}

/** Prepares the restore of a rollout that ended; `by` is recorded as who asked for it. */
export async function restoreStarter(
  client: Client,
  taskQueue: string,
  rolloutId: string,
  by: string,
): Promise<RestoreStarter> {
  const restoreId = restoreIdOf(rolloutId);
  // The restore goes as the rollout went: its waves' sizes, its parallelism and how each catalog was updated.
  const original = ((await recordedInput(client, rolloutWorkflowId(rolloutId)).catch(() => undefined)) ??
    {}) as RolloutInput;
  const carried = Object.fromEntries(
    RESTORE_CARRIES.map((key) => [key, original[key]]).filter(([, value]) => value !== undefined),
  );
  const restore = (dryRun: boolean) =>
    startRollout(client, taskQueue, {
      ...carried,
      rolloutId: dryRun ? `${restoreId}-plan-${Date.now().toString(36)}` : restoreId,
      restoreRolloutId: rolloutId,
      requestedBy: by,
      dryRun,
      notify: dryRun ? false : undefined,
    });
  return {
    restoreId,
    plan: () => restore(true),
    start: async () => {
      try {
        return { handle: await restore(false), alreadyStarted: false };
      } catch (error) {
        if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
        return { handle: rolloutHandle(client, restoreId), alreadyStarted: true };
      }
    },
  };
}
