import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  workflowInfo,
} from '@temporalio/workflow';
import { FailureType, InvalidInputError } from '../shared';
import {
  type CatalogRolloutProgress,
  ROLLOUT_LIMITS,
  type RolloutInput,
  type RolloutRequest,
  type RolloutResult,
  parseRolloutInput,
  toResult,
  truncateText,
} from '../shared/rollout';
import { unwrapActivityFailure } from './failures';
import { declareVersioningBehavior } from './versioning';
import { maintenanceWindowStatus } from './rollout-activities';
import { summaries } from './summaries';
import { handleRolloutMessages } from './rollout-messages';
import { RolloutNotifier } from './rollout-notifications';
import { planRestore, planRollout } from './rollout-plan';
import { type LegacyCheckpoint, type RolloutCheckpoint, RolloutRun, now } from './rollout-run';
import { HEALTH_GATES_PATCH, gateWave } from './rollout-health';
import { rollBack, runWave } from './rollout-waves';

export {
  type SteeringOutcome,
  type SteeringStep,
  abortSignal,
  abortUpdate,
  approveUpdate,
  pauseSignal,
  pauseUpdate,
  progressQuery,
  resumeSignal,
  resumeUpdate,
  rollbackSignal,
  rollbackUpdate,
} from './rollout-messages';
export type { RolloutCheckpoint } from './rollout-run';

/**
 * Rollouts started since this patch validate the size limits of `ROLLOUT_LIMITS`, and send notifications without
 * waiting for them in a catalog's slot or before the next step; runs recorded before it replay as they were.
 */
const BOUNDED_ROLLOUT_PATCH = 'bounded-rollout-state';

/**
 * Rolls one image out to many catalogs in waves: a canary first, then batches, each catalog a child
 * `updateCatalogImage` under the catalog's own workflow id, so that no catalog is updated by two rollouts at once.
 * Between waves: optional approval, a maintenance window, the health gate and bake time; any failure beyond the
 * budget, or a failing health gate, halts it.
 */
export async function rolloutImage(
  input: RolloutInput,
  checkpoint?: RolloutCheckpoint | LegacyCheckpoint,
): Promise<RolloutResult> {
  const bounded = checkpoint ? 'result' in checkpoint : patched(BOUNDED_ROLLOUT_PATCH);
  let request: RolloutRequest;
  try {
    request = parseRolloutInput(input, { limits: bounded });
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    throw ApplicationFailure.nonRetryable(error.message, FailureType.InvalidInput, error.problems);
  }
  return new Rollout(input, request, bounded, checkpoint).execute();
}

// Under Worker Versioning a rollout moves to the current build at its next workflow task (a wave's end, an approval, its
// continue-as-new), so that a new worker's fixes reach a rollout of many days; the new build replays its history, so
// changes stay behind patched(). Each catalog update it starts stays on the build it began on.
declareVersioningBehavior('AUTO_UPGRADE', rolloutImage);

/**
 * One run of a rollout: its state (`RolloutRun`, which the message handlers steer) and its steps — plan, each wave
 * with its gates, bake, finish — as methods, in the order `execute` takes them.
 */
class Rollout {
  private readonly run: RolloutRun;
  private readonly notifier: RolloutNotifier;

  constructor(
    private readonly input: RolloutInput,
    private readonly request: RolloutRequest,
    bounded: boolean,
    private readonly checkpoint?: RolloutCheckpoint | LegacyCheckpoint,
  ) {
    this.run = new RolloutRun(request, bounded, checkpoint);
    this.run.healthGates =
      request.healthGate &&
      !request.dryRun &&
      (checkpoint ? 'healthGates' in checkpoint && checkpoint.healthGates === true : patched(HEALTH_GATES_PATCH));
    handleRolloutMessages(this.run);
    this.notifier = new RolloutNotifier(this.run);
  }

  async execute(): Promise<RolloutResult> {
    const { run } = this;
    if (!this.checkpoint) {
      await this.plan();
      if (this.request.dryRun) {
        run.setPhase('planned');
        run.progress.finishedAt = now();
        return toResult(run.progress);
      }
    }
    while (run.progress.currentWave < run.progress.waves.length && !run.stopStarting()) {
      if (!(await this.runNextWave())) break;
      if (workflowInfo().continueAsNewSuggested) {
        await this.notifier.sent();
        await condition(allHandlersFinished);
        await continueAsNew<typeof rolloutImage>(this.input, run.checkpoint());
      }
    }
    return this.finish();
  }

  /** Waits for the start time, then resolves the image and the catalogs (or the restore) into waves. */
  private async plan(): Promise<void> {
    const { run, request } = this;
    if (request.startAt) {
      run.setPhase('waitingForStart');
      run.progress.waitingUntil = request.startAt;
      const startAtMs = Date.parse(request.startAt);
      await waitUnlessAborted(run, startAtMs - Date.now(), summaries.startAt(startAtMs));
      run.progress.waitingUntil = undefined;
    }
    run.setPhase('resolving');
    try {
      if (request.restoreRolloutId) await planRestore(run, request.restoreRolloutId);
      else await planRollout(run);
    } catch (error) {
      // The rollout fails with the activity's own actionable message, not "activity task failed".
      throw unwrapActivityFailure(error);
    }
  }

  /**
   * The current wave: pause, window and approval first, then its catalogs, the health gate and the bake time.
   * Returns false when the rollout stops starting waves (aborted or halted).
   */
  private async runNextWave(): Promise<boolean> {
    const { run, request, notifier } = this;
    const { progress } = run;
    const wave = progress.waves[progress.currentWave]!;
    await condition(() => !progress.paused || run.aborted);
    await waitForWindow(run);
    const needsApproval = request.approval === 'everyWave' || (request.approval === 'afterCanary' && wave.index === 1);
    if (needsApproval && !wave.approvedBy && !run.aborted) {
      run.setPhase('awaitingApproval');
      await notifier.notify('approvalNeeded', `wave ${wave.index + 1} of ${progress.waves.length} waits for approval`);
      await condition(() => wave.approvedBy !== undefined || run.aborted);
    }
    if (run.aborted) return false;

    run.setPhase('running');
    wave.state = 'running';
    wave.startedAt = now();
    await notifier.notify(
      'waveStarted',
      `wave ${wave.index + 1} of ${progress.waves.length} started (${wave.catalogIds.length} catalogs)`,
    );
    await runWave(run, notifier, wave.index);
    wave.finishedAt = now();
    wave.state = run.halted() ? 'halted' : 'done';
    if (run.stopStarting()) return false;
    if (run.healthGates) {
      await gateWave(run, notifier, wave.index, 'afterWave');
      if (run.stopStarting()) return false;
    }
    progress.currentWave += 1;
    return this.bake(wave.index);
  }

  /** Waits the bake time after a wave (not after the last), then judges that wave again. */
  private async bake(waveIndex: number): Promise<boolean> {
    const { run, request } = this;
    const { progress } = run;
    if (request.bakeTimeMs <= 0 || progress.currentWave >= progress.waves.length) return true;
    run.setPhase('baking');
    progress.waitingUntil = new Date(Date.now() + request.bakeTimeMs).toISOString();
    await waitUnlessAborted(run, request.bakeTimeMs, summaries.bake(request.bakeTimeMs, waveIndex));
    progress.waitingUntil = undefined;
    // Machines keep restarting onto the image while the rollout bakes: judge the wave again before the next one.
    if (run.healthGates) {
      await gateWave(run, this.notifier, waveIndex, 'afterBake');
      if (run.stopStarting()) return false;
    }
    return true;
  }

  /** Rolls back when asked or when halted with `rollbackOnHalt`, then ends halted, aborted or completed. */
  private async finish(): Promise<RolloutResult> {
    const { run, request, notifier } = this;
    const { progress, rolloutId } = run;
    for (const entry of progress.catalogs) if (entry.state === 'pending') entry.state = 'notStarted';
    if (run.rollbackRequested || (run.halted() && request.rollbackOnHalt)) await rollBack(run);
    progress.finishedAt = now();

    if (run.halted()) {
      run.setPhase('halted');
      await notifier.notify('halted', `rollout halted: ${progress.reason}`);
      await notifier.sent();
      throw ApplicationFailure.nonRetryable(
        truncateText(`rollout ${rolloutId} halted: ${progress.reason}`, ROLLOUT_LIMITS.reasonChars * 2),
        FailureType.RolloutHalted,
        run.bounded ? toResult(progress) : progress,
      );
    }
    if (run.aborted) {
      run.setPhase('aborted');
      await notifier.notify('aborted', `rollout ${progress.reason}`);
      await notifier.sent();
      return toResult(progress);
    }
    run.setPhase('completed');
    const count = (state: CatalogRolloutProgress['state']) => progress.catalogs.filter((c) => c.state === state).length;
    const assigned = count('imageAssigned');
    await notifier.notify(
      'completed',
      `rollout completed: ${count('updated')} catalog(s) updated to ${progress.imageName}` +
        (assigned ? `, ${assigned} with the image assigned (their machines take it when they restart)` : ''),
    );
    await notifier.sent();
    return toResult(progress);
  }
}

/** Sleeps until `ms` from now, or until an abort: a long wait must not hold an abort back. */
async function waitUnlessAborted(run: RolloutRun, ms: number, summary: string): Promise<void> {
  if (ms > 0) await condition(() => run.aborted, ms, { summary });
}

async function waitForWindow(run: RolloutRun): Promise<void> {
  const window = run.request.maintenanceWindow;
  while (window && !run.aborted) {
    const status = await maintenanceWindowStatus.executeWithOptions({ summary: summaries.windowStatus() }, [window]);
    if (status.open) break;
    run.setPhase('waitingForWindow');
    run.progress.waitingUntil = new Date(Date.now() + (status.opensInMs ?? 0)).toISOString();
    const opensInMs = status.opensInMs ?? 0;
    await waitUnlessAborted(run, opensInMs, summaries.windowOpens(Date.now() + opensInMs));
  }
  run.progress.waitingUntil = undefined;
}
