import { setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import {
  type CatalogRolloutProgress,
  type LegacyRolloutProgress,
  ROLLOUT_LIMITS,
  type RolloutPhase,
  type RolloutRequest,
  type RolloutResult,
  type RolloutState,
  SearchAttributes,
  stateFromLegacy,
  stateFromResult,
  toResult,
} from '../shared/rollout';

/** What a run hands to the next one when the rollout continues as new between waves. */
export interface RolloutCheckpoint {
  /** The rollout so far, in the compact form of its result. */
  result: RolloutResult;
  aborted: boolean;
  rollbackRequested: boolean;
  /** The chain started with health gates (absent: started before them). */
  healthGates?: boolean;
  healthFailed?: boolean;
}

/** The checkpoint that rollouts started before compact results hand on: the whole state as it was. */
export interface LegacyCheckpoint {
  progress: LegacyRolloutProgress;
  aborted: boolean;
  rollbackRequested: boolean;
}

export const now = () => new Date(Date.now()).toISOString();

/**
 * The state of one run of a rollout, shared by the steps of the run and by the handlers of operators' signals and
 * updates. The `progress` query shows it; continuing as new carries it to the next run.
 */
export class RolloutRun {
  readonly request: RolloutRequest;
  /** Started since `BOUNDED_ROLLOUT_PATCH`: keeps to `ROLLOUT_LIMITS` and does not wait for each notification. */
  readonly bounded: boolean;
  readonly rolloutId: string;
  readonly progress: RolloutState;
  /** The entries of `progress.catalogs`, by catalog id. */
  readonly catalogById: Map<string, CatalogRolloutProgress>;
  aborted: boolean;
  rollbackRequested: boolean;
  /** Waves are judged by their machines (`healthGate`, in runs started since `HEALTH_GATES_PATCH`). */
  healthGates = false;
  /** A health gate failed: the rollout halts as if the failure budget ran out. */
  healthFailed: boolean;
  /** The wave whose inconclusive health waits for a person; `approve` releases it. */
  healthHold: number | undefined;

  constructor(request: RolloutRequest, bounded: boolean, checkpoint?: RolloutCheckpoint | LegacyCheckpoint) {
    this.request = request;
    this.bounded = bounded;
    this.rolloutId = request.rolloutId ?? workflowInfo().workflowId;
    this.progress = checkpoint
      ? 'result' in checkpoint
        ? stateFromResult(checkpoint.result)
        : stateFromLegacy(checkpoint.progress)
      : {
          rolloutId: this.rolloutId,
          imageId: request.imageId,
          phase: 'resolving',
          dryRun: request.dryRun,
          paused: false,
          currentWave: 0,
          waves: [],
          catalogs: [],
          failures: 0,
          errors: [],
          skipped: [],
          skippedCount: 0,
          startedAt: now(),
        };
    this.aborted = checkpoint?.aborted ?? false;
    this.rollbackRequested = checkpoint?.rollbackRequested ?? false;
    this.healthFailed = (checkpoint && 'healthFailed' in checkpoint && checkpoint.healthFailed) || false;
    this.catalogById = new Map(this.progress.catalogs.map((c) => [c.catalogId, c]));
  }

  /** More catalogs failed than the failure budget allows, or a health gate failed. */
  halted(): boolean {
    return this.progress.failures > this.request.failureBudget || this.healthFailed;
  }

  stopStarting(): boolean {
    return this.aborted || this.halted();
  }

  /**
   * What the Temporal UI shows as the rollout's current details: the phase, the wave, how many catalogs are done, what
   * it waits for and why it stopped. Not a command: setting it changes no history.
   */
  refreshDetails(): void {
    const p = this.progress;
    const done = p.catalogs.filter((c) => c.state === 'updated' || c.state === 'imageAssigned').length;
    const lines = [
      `**${p.phase}**${p.waves.length ? ` · wave ${Math.min(p.currentWave + 1, p.waves.length)}/${p.waves.length}` : ''}` +
        ` · ${done}/${p.catalogs.length} catalogs on the image${p.failures ? ` · ${p.failures} failed` : ''}`,
    ];
    if (p.phase === 'awaitingApproval') lines.push(`waits for \`rollout approve ${this.rolloutId}\``);
    if (p.paused) lines.push('paused');
    if (p.lastHealth)
      lines.push(`health of wave ${p.lastHealth.wave + 1}: ${p.lastHealth.verdict}: ${p.lastHealth.reason}`);
    if (p.reason) lines.push(`reason: ${p.reason}`);
    setCurrentDetails(lines.join('\n'));
  }

  setPhase(phase: RolloutPhase): void {
    if (this.progress.phase === phase) return;
    this.progress.phase = phase;
    this.refreshDetails();
    // Scheduled runs are started without a RolloutId (their id is only known at run time): set both each time.
    upsertSearchAttributes([
      { key: SearchAttributes.RolloutId, value: this.rolloutId },
      { key: SearchAttributes.RolloutPhase, value: phase },
    ]);
  }

  /** Keeps the first errors, with their message, for the summary. */
  listError(entry: CatalogRolloutProgress): void {
    if (!entry.error || this.progress.errors.length >= ROLLOUT_LIMITS.errorsListed) return;
    this.progress.errors.push({ catalogId: entry.catalogId, catalogName: entry.catalogName, ...entry.error });
  }

  /** What the next run starts from, in the form this run was started with. */
  checkpoint(): RolloutCheckpoint | LegacyCheckpoint {
    const carried = this.bounded
      ? { result: toResult(this.progress) }
      : { progress: this.progress as unknown as LegacyRolloutProgress };
    const health = this.healthGates ? { healthGates: true, healthFailed: this.healthFailed } : {};
    return { ...carried, aborted: this.aborted, rollbackRequested: this.rollbackRequested, ...health };
  }
}
