/**
 * What a rollout knows about its catalogs, and the shapes in which it hands that knowledge to Temporal: a paged
 * `progress` query, and a compact result and checkpoint whose size stays far below Temporal's 2 MiB payload limit
 * for the largest rollout allowed. Workflow code imports this module: no Node built-ins, no I/O.
 */
import type { HealthFigures, HealthVerdict, WaveHealth } from './health';
import { truncate } from '../citrix/sanitize';

/** How big a rollout may be, and how much of outside text it keeps. Documented in the README ("Size"). */
export const ROLLOUT_LIMITS = {
  /** Catalogs in one rollout, after its targets are resolved (`--all-catalogs` included). */
  targets: 5_000,
  /** Explicit waves. */
  waves: 500,
  /** Catalogs in one wave: each one costs the rollout's history about four events. */
  catalogsPerWave: 1_000,
  /** Catalog ids left out with `excludeCatalogIds`. */
  exclusions: 5_000,
  /** Characters of a catalog or image name kept in the rollout's state. */
  nameChars: 32,
  /** Characters of a failure message kept per catalog. */
  messageChars: 300,
  /** Characters of a reason (abort, halt, approval comment) or an operator's name. */
  reasonChars: 500,
  /** Catalogs with an error whose message the summary lists (all are counted). */
  errorsListed: 50,
  /** Skipped catalogs the summary lists (all are counted). */
  skippedListed: 50,
  /** Catalogs in one page of the `progress` query. */
  pageSize: 1_000,
  /** Steering actions a rollout keeps (the last ones). */
  steeringKept: 50,
} as const;

export type CatalogRolloutState =
  | 'pending'
  | 'running'
  | 'updated'
  | 'imageAssigned'
  | 'alreadyCurrent'
  | 'failed'
  | 'notStarted'
  | 'watchStopped'
  | 'rollingBack'
  | 'rolledBack'
  | 'rollbackFailed';

/** Catalogs this rollout moved to its image (a rollback returns them), whether or not their machines restarted. */
export function movedByRollout(state: CatalogRolloutState): boolean {
  return state === 'updated' || state === 'imageAssigned';
}

export interface CatalogRolloutProgress {
  catalogId: string;
  catalogName?: string;
  wave: number;
  state: CatalogRolloutState;
  /** The image this catalog goes to, when it differs from the rollout's (a restore). */
  targetImageId?: string;
  /** The image the catalog ran before this rollout moved it: where a rollback returns it. */
  previousImageId?: string;
  workflowId?: string;
  startedAt?: string;
  finishedAt?: string;
  /** Failure type and message, with the sub-state and Citrix transaction id where known. */
  error?: { type?: string; message: string };
  transactionId?: string;
  /** The last health verdict on this catalog, with the machine counts it rests on. */
  health?: { verdict: HealthVerdict; figures?: HealthFigures };
  /** A dry run's blast radius: machines and users touched, and whether a rollback could return to today's image. */
  impact?: CatalogImpact;
}

export interface CatalogImpact {
  machines?: number;
  users?: number;
  /** The image the catalog runs now exists and is Ready; undefined: not known. */
  previousImageReady?: boolean;
}

/** What a dry run's plan would touch, all waves together. */
export interface BlastRadius {
  machines: number;
  users: number;
  /** When the machines restart onto the image, as `vdaUpdateDelay` says. */
  restarts: string;
  /** A rough duration of the whole rollout (see `ESTIMATED_UPDATE_MINUTES`). */
  etaMinutes: number;
  /** Catalogs whose image of today is gone or not Ready: a rollback could not return them. */
  noRollbackImage: number;
}

export type RolloutPhase =
  | 'resolving'
  | 'waitingForStart'
  | 'waitingForWindow'
  | 'awaitingApproval'
  | 'running'
  | 'paused'
  | 'baking'
  | 'checkingHealth'
  | 'rollingBack'
  | 'completed'
  | 'halted'
  | 'aborted'
  | 'planned';

export interface WaveProgress {
  index: number;
  state: 'pending' | 'running' | 'done' | 'halted' | 'skipped';
  catalogCount: number;
  startedAt?: string;
  finishedAt?: string;
  approvedBy?: string;
  approvedAt?: string;
  /** The last health verdict on the wave. */
  health?: { verdict: HealthVerdict; reason: string; checkedAt: string; counts: WaveHealth['counts'] };
}

/** A catalog that failed (or, in a dry run, would fail), as the summary lists it. */
export interface CatalogError {
  catalogId: string;
  catalogName?: string;
  type?: string;
  message: string;
  transactionId?: string;
}

/** Everything about a rollout but its per-catalog list: bounded whatever the rollout's size. */
export interface RolloutSummary {
  rolloutId: string;
  /** The rollout whose catalogs this one returns to their previous images. */
  restoreOf?: string;
  imageId?: string;
  imageName?: string;
  phase: RolloutPhase;
  dryRun: boolean;
  paused: boolean;
  currentWave: number;
  waves: WaveProgress[];
  catalogCount: number;
  /** Catalogs per state. */
  counts: Partial<Record<CatalogRolloutState, number>>;
  failures: number;
  /**
   * The first catalogs that failed, or in a dry run would fail, with what went wrong (`failures` counts the failed
   * ones; `counts` every state).
   */
  errors: CatalogError[];
  /** Catalogs that were asked for but are not part of the plan, and why (the first of them). */
  skipped: Array<{ catalogId: string; reason: string }>;
  skippedCount: number;
  startedAt: string;
  finishedAt?: string;
  /** Why the rollout halted or was aborted. */
  reason?: string;
  waitingUntil?: string;
  /** Who paused, resumed, aborted, approved or rolled the rollout back, when and why (the last ones). */
  steering?: SteeringRecord[];
  /** The last health gate's verdict, with the catalogs that did not pass. */
  lastHealth?: WaveHealth;
  /** A dry run's blast radius. */
  blastRadius?: BlastRadius;
}

export type SteeringAction = 'pause' | 'resume' | 'abort' | 'rollback' | 'approve';

export interface SteeringRecord {
  action: SteeringAction;
  by: string;
  at: string;
  reason?: string;
}

/** What the `progress` query answers: the summary and one page of catalogs. */
export interface RolloutProgress extends RolloutSummary {
  catalogs: CatalogRolloutProgress[];
  page: { offset: number; limit: number; total: number };
}

export interface ProgressPageRequest {
  /** @default 0 */
  offset?: number;
  /** @default ROLLOUT_LIMITS.pageSize */
  limit?: number;
  /** Only catalogs in these states. */
  states?: CatalogRolloutState[];
}

/**
 * Every catalog of a rollout, column by column (entry `i` of each column belongs to catalog `i`, in plan order), with
 * images written once in `images` and referred to by index (-1: none). 5,000 catalogs with long names take about
 * half a megabyte; per-catalog detail (times, transaction ids, messages) stays in each catalog's own workflow.
 */
export interface RolloutLedger {
  catalogIds: string[];
  catalogNames: string[];
  waves: number[];
  states: CatalogRolloutState[];
  previousImages: number[];
  targetImages: number[];
  images: string[];
  /**
   * Each catalog's last health verdict and figures, as `[verdict, total, onNewImage, pendingRestart,
   * poweredOnNewImage, registeredNewImage, faulted, inMaintenance]` with verdict 0 pass, 1 fail, 2 inconclusive;
   * 0 for none. Absent in results written before health gates.
   */
  health?: Array<number[] | 0>;
  /** A dry run's `[machines, users, previousImageReady (1, 0, -1 unknown)]` per catalog, -1 for unknown counts. */
  impact?: Array<number[] | 0>;
}

/** What a rollout returns, and what a halted one carries in its failure's details. */
export interface RolloutResult extends RolloutSummary {
  ledger: RolloutLedger;
}

/** A rollout's whole state while it runs: the summary's fields, every wave's catalogs and every catalog's entry. */
export interface RolloutState extends Omit<RolloutSummary, 'waves' | 'catalogCount' | 'counts'> {
  waves: WaveState[];
  catalogs: CatalogRolloutProgress[];
}

export type WaveState = Omit<WaveProgress, 'catalogCount'> & { catalogIds: string[] };

/** The client's own cut (`truncate`), under the name rollout code reads it by. */
export const truncateText = truncate;

/** A column of image ids written once each and referred to by index (-1: none), as ledgers and answers hold them. */
export function imageColumn() {
  const images: string[] = [];
  const indexOf = new Map<string, number>();
  return {
    images,
    index(id: string | undefined): number {
      if (!id) return -1;
      let index = indexOf.get(id);
      if (index === undefined) indexOf.set(id, (index = images.push(id) - 1));
      return index;
    },
  };
}

export function summarize(state: RolloutState): RolloutSummary {
  const counts: Partial<Record<CatalogRolloutState, number>> = {};
  for (const entry of state.catalogs) counts[entry.state] = (counts[entry.state] ?? 0) + 1;
  const { catalogs, waves, ...rest } = state;
  return {
    ...rest,
    waves: waves.map(({ catalogIds, ...wave }) => ({ ...wave, catalogCount: catalogIds.length })),
    catalogCount: catalogs.length,
    counts,
  };
}

export function progressPage(state: RolloutState, request: ProgressPageRequest = {}): RolloutProgress {
  const limit = Math.max(1, Math.min(Math.floor(request.limit ?? ROLLOUT_LIMITS.pageSize), ROLLOUT_LIMITS.pageSize));
  const offset = Math.max(0, Math.floor(request.offset ?? 0));
  const wanted = request.states?.length ? new Set(request.states) : undefined;
  const matching = wanted ? state.catalogs.filter((entry) => wanted.has(entry.state)) : state.catalogs;
  return {
    ...summarize(state),
    catalogs: matching.slice(offset, offset + limit),
    page: { offset, limit, total: matching.length },
  };
}

export function toLedger(catalogs: CatalogRolloutProgress[]): RolloutLedger {
  const { images, index: image } = imageColumn();
  return {
    catalogIds: catalogs.map((entry) => entry.catalogId),
    catalogNames: catalogs.map((entry) => entry.catalogName ?? ''),
    waves: catalogs.map((entry) => entry.wave),
    states: catalogs.map((entry) => entry.state),
    previousImages: catalogs.map((entry) => image(entry.previousImageId)),
    targetImages: catalogs.map((entry) => image(entry.targetImageId)),
    images,
    ...(catalogs.some((entry) => entry.health) && { health: catalogs.map((entry) => packHealth(entry.health)) }),
    ...(catalogs.some((entry) => entry.impact) && { impact: catalogs.map((entry) => packImpact(entry.impact)) }),
  };
}

const VERDICTS: HealthVerdict[] = ['pass', 'fail', 'inconclusive'];
const FIGURES: Array<keyof HealthFigures> = [
  'total',
  'onNewImage',
  'pendingRestart',
  'poweredOnNewImage',
  'registeredNewImage',
  'faulted',
  'inMaintenance',
];

function packImpact(impact: CatalogImpact | undefined): number[] | 0 {
  if (!impact) return 0;
  const ready = impact.previousImageReady;
  return [impact.machines ?? -1, impact.users ?? -1, ready === undefined ? -1 : Number(ready)];
}

function unpackImpact(packed: number[] | 0 | undefined): CatalogImpact | undefined {
  if (!packed) return undefined;
  const [machines = -1, users = -1, ready = -1] = packed;
  return {
    ...(machines >= 0 && { machines }),
    ...(users >= 0 && { users }),
    ...(ready >= 0 && { previousImageReady: ready === 1 }),
  };
}

function packHealth(health: CatalogRolloutProgress['health']): number[] | 0 {
  if (!health) return 0;
  return [VERDICTS.indexOf(health.verdict), ...FIGURES.map((key) => health.figures?.[key] ?? -1)];
}

function unpackHealth(packed: number[] | 0 | undefined): CatalogRolloutProgress['health'] {
  if (!packed) return undefined;
  const [verdict, ...figures] = packed;
  const health: NonNullable<CatalogRolloutProgress['health']> = { verdict: VERDICTS[verdict ?? 0] ?? 'inconclusive' };
  if (figures.every((value) => value >= 0)) {
    health.figures = Object.fromEntries(FIGURES.map((key, i) => [key, figures[i]!])) as unknown as HealthFigures;
  }
  return health;
}

export function fromLedger(ledger: RolloutLedger): CatalogRolloutProgress[] {
  const image = (index: number | undefined) => (index === undefined || index < 0 ? undefined : ledger.images[index]);
  return ledger.catalogIds.map((catalogId, i) => {
    const entry: CatalogRolloutProgress = { catalogId, wave: ledger.waves[i] ?? 0, state: ledger.states[i]! };
    if (ledger.catalogNames[i]) entry.catalogName = ledger.catalogNames[i];
    const previous = image(ledger.previousImages[i]);
    if (previous) entry.previousImageId = previous;
    const target = image(ledger.targetImages[i]);
    if (target) entry.targetImageId = target;
    const health = unpackHealth(ledger.health?.[i]);
    if (health) entry.health = health;
    const impact = unpackImpact(ledger.impact?.[i]);
    if (impact) entry.impact = impact;
    return entry;
  });
}

export function toResult(state: RolloutState): RolloutResult {
  return { ...summarize(state), ledger: toLedger(state.catalogs) };
}

/** A rollout's state rebuilt from its result (or checkpoint): the waves get their catalogs back from the ledger. */
export function stateFromResult(result: RolloutResult): RolloutState {
  const { ledger, catalogCount: _count, counts: _counts, ...summary } = result;
  const catalogs = fromLedger(ledger);
  return {
    ...summary,
    waves: summary.waves.map(({ catalogCount: _size, ...wave }) => ({
      ...wave,
      catalogIds: catalogs.filter((entry) => entry.wave === wave.index).map((entry) => entry.catalogId),
    })),
    catalogs,
  };
}

/**
 * The rollout results written before results were compact held every catalog in `catalogs` and every wave's ids in
 * `waves[].catalogIds`; both forms are read.
 */
interface LegacyRolloutProgress extends Omit<RolloutState, 'errors' | 'skippedCount'> {
  errors?: undefined;
  skippedCount?: number;
}

export function isLegacyProgress(value: RolloutResult | LegacyRolloutProgress): value is LegacyRolloutProgress {
  return !('ledger' in value) && Array.isArray((value as LegacyRolloutProgress).catalogs);
}

export function stateFromLegacy(legacy: LegacyRolloutProgress): RolloutState {
  const errors = legacy.catalogs
    .filter((entry) => entry.error)
    .slice(0, ROLLOUT_LIMITS.errorsListed)
    .map((entry) => ({ catalogId: entry.catalogId, catalogName: entry.catalogName, ...entry.error! }));
  return { ...legacy, errors, skippedCount: legacy.skippedCount ?? legacy.skipped.length };
}

/** Every catalog of a finished rollout's result, in plan order, whichever form the result has. */
export function catalogsOf(result: RolloutResult | LegacyRolloutProgress): CatalogRolloutProgress[] {
  return isLegacyProgress(result) ? result.catalogs : fromLedger(result.ledger);
}

export type { LegacyRolloutProgress };
