/**
 * Rollouts: one image to many catalogs in waves. Types, input schema and the wave planner, shared by the workflow,
 * the activities and the starter. Workflow code imports this module: no Node built-ins, no I/O.
 */
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';
import { isGuid, isImageId } from '../citrix/ids';
import { type CatalogUpdateOptions, type CatalogUpdateSettings, catalogUpdateOptions } from './index';
import { ROLLOUT_LIMITS } from './rollout-progress';
import { HEALTH_DEFAULTS } from './health';
import { DAY, HOUR, MINUTE } from './time';
import {
  InvalidInputError,
  boolean,
  list,
  number,
  object,
  oneOf,
  optional,
  parseWith,
  required,
  text,
} from './validation';

export * from './rollout-progress';

/** Custom search attributes; register them on the server (see README) so `list` can filter on them. */
export const SearchAttributes = {
  CatalogId: defineSearchAttributeKey('CatalogId', SearchAttributeType.KEYWORD),
  ImageId: defineSearchAttributeKey('ImageId', SearchAttributeType.KEYWORD),
  RolloutId: defineSearchAttributeKey('RolloutId', SearchAttributeType.KEYWORD),
  RolloutPhase: defineSearchAttributeKey('RolloutPhase', SearchAttributeType.KEYWORD),
} as const;

export function rolloutWorkflowId(rolloutId: string): string {
  return rolloutId.startsWith('rollout-') ? rolloutId : `rollout-${rolloutId}`;
}

export const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const clock = required(text({ test: [(t) => /^([01]\d|2[0-3]):[0-5]\d$/.test(t), 'times are HH:MM, 24-hour'] }));

/** A recurring maintenance window: waves start only inside it. */
export interface MaintenanceWindow {
  days: Weekday[];
  start: string;
  /** End time; a window that ends before it starts runs past midnight. */
  end: string;
  /** IANA time zone, such as Europe/Berlin. */
  timeZone: string;
}

const maintenanceWindow = object<MaintenanceWindow>(
  {
    days: required(
      list(required(oneOf(WEEKDAYS)), { min: 1, tooSmall: 'a maintenance window needs at least one day' }),
    ),
    start: clock,
    end: clock,
    timeZone: required(text({ min: 1 })),
  },
  (window, problem) => {
    if (window.start === window.end) problem('end', 'a maintenance window must not start and end at the same time');
  },
);

export const ROLLOUT_APPROVALS = ['none', 'afterCanary', 'everyWave'] as const;

/** ISO 8601 with a time zone offset, such as 2026-12-05T22:00:00+01:00 or 2026-12-05T21:00:00Z. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

export interface RolloutInput extends CatalogUpdateOptions {
  /** Names the rollout; defaults to the workflow id. Catalog updates carry it as a search attribute. */
  rolloutId?: string;
  /** The image to roll out, or `imageNamePattern` to pick the newest Ready image whose name matches at start. */
  imageId?: string;
  imageNamePattern?: string;
  /**
   * Instead of an image and targets: return every catalog that this earlier, finished rollout moved to the image
   * that catalog had before.
   */
  restoreRolloutId?: string;
  /** Explicit catalogs, in order. */
  catalogIds?: string[];
  /** Every catalog of the site (optionally filtered by `catalogNamePattern`), resolved at start. @default false */
  allCatalogs?: boolean;
  catalogNamePattern?: string;
  /** @default [] */
  excludeCatalogIds?: string[];
  /** Explicit waves of catalog ids; otherwise a canary wave, then waves of `batchSize`. */
  waves?: string[][];
  /** @default 1 */
  canaryCount?: number;
  canaryPercent?: number;
  /** Catalogs per wave after the canary. @default 10 */
  batchSize?: number;
  /** Catalogs updated at once within a wave. @default 5 */
  maxParallel?: number;
  /** Who must approve before a wave starts. @default 'none' */
  approval?: (typeof ROLLOUT_APPROVALS)[number];
  /** Pause after each wave before the next one starts. @default 0 */
  bakeTimeMs?: number;
  /** Failed catalogs tolerated; one more halts the rollout. @default 0 */
  failureBudget?: number;
  /** On halt, return the catalogs this rollout moved to the image each had before. @default false */
  rollbackOnHalt?: boolean;
  /** Resolve and validate everything, print the plan, post nothing. @default false */
  dryRun?: boolean;
  /** Do not start before this time (ISO 8601 with an offset). */
  startAt?: string;
  maintenanceWindow?: MaintenanceWindow;
  /** Send notifications to the webhook configured on the worker. @default true */
  notify?: boolean;
  /** Deadline of each catalog's update. @default 6 hours */
  catalogDeadlineMs?: number;
  /**
   * Judge each wave by its machines before the next one starts (and again after the bake time): a failing verdict
   * halts, an inconclusive one waits for a person. @default true
   */
  healthGate?: boolean;
  /** How long machines get to restart and register after a wave's catalogs finished. @default 10 minutes */
  healthWaitMs?: number;
  /** Share of powered-on machines on the new image that must be registered without a fault. @default 90 */
  minRegisteredPercent?: number;
  /** Powered-on machines on the new image a catalog needs before it can be judged. @default 1 */
  minMachinesOnImage?: number;
}

/** The input with every default filled in. */
export type RolloutRequest = RolloutInput &
  CatalogUpdateSettings &
  Required<
    Pick<
      RolloutInput,
      | 'allCatalogs'
      | 'excludeCatalogIds'
      | 'batchSize'
      | 'maxParallel'
      | 'approval'
      | 'bakeTimeMs'
      | 'failureBudget'
      | 'rollbackOnHalt'
      | 'dryRun'
      | 'notify'
      | 'catalogDeadlineMs'
      | 'healthGate'
      | 'healthWaitMs'
      | 'minRegisteredPercent'
      | 'minMachinesOnImage'
    >
  >;

const guid = (message: string) => required(text({ test: [isGuid, message] }));

const rolloutInput = object<RolloutRequest>(
  {
    rolloutId: text({
      test: [
        (t) => /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/.test(t),
        'rolloutId may hold letters, digits and . _ : - (at most 100)',
      ],
    }),
    imageId: text({ test: [isImageId, 'imageId must be a Citrix template image id'] }),
    imageNamePattern: text({ min: 1, max: 200 }),
    restoreRolloutId: text({
      test: [(t) => /^[A-Za-z0-9][A-Za-z0-9._:-]{0,107}$/.test(t), 'restoreRolloutId is a rollout id'],
    }),
    catalogIds: list(guid('catalogIds must be catalog GUIDs'), { max: ROLLOUT_LIMITS.targets }),
    allCatalogs: boolean(false),
    catalogNamePattern: text({ min: 1, max: 200 }),
    excludeCatalogIds: list(guid('excludeCatalogIds must be catalog GUIDs'), { default: [] }),
    waves: list(required(list(guid('waves must hold catalog GUIDs'), { min: 1 }))),
    canaryCount: number({ integer: true, min: 0, max: 1000 }),
    canaryPercent: number({ min: 0, max: 100 }),
    batchSize: number({ integer: true, min: 1, max: 5000, default: 10 }),
    maxParallel: number({ integer: true, min: 1, max: 500, default: 5 }),
    approval: oneOf(ROLLOUT_APPROVALS, 'none'),
    bakeTimeMs: number({ integer: true, min: 0, max: 7 * DAY, default: 0 }),
    failureBudget: number({ integer: true, min: 0, max: 5000, default: 0 }),
    rollbackOnHalt: boolean(false),
    dryRun: boolean(false),
    startAt: text({
      test: [
        (t) => ISO_DATE_TIME.test(t) && !Number.isNaN(Date.parse(t)),
        'startAt must be an ISO 8601 time with an offset, such as 2026-12-05T22:00:00+01:00',
      ],
    }),
    maintenanceWindow: optional(maintenanceWindow),
    notify: boolean(true),
    ...catalogUpdateOptions,
    catalogDeadlineMs: number({ integer: true, min: MINUTE, max: 7 * DAY, default: 6 * HOUR }),
    healthGate: boolean(true),
    healthWaitMs: number({ integer: true, min: 0, max: DAY, default: HEALTH_DEFAULTS.healthWaitMs }),
    minRegisteredPercent: number({ min: 0, max: 100, default: HEALTH_DEFAULTS.minRegisteredPercent }),
    minMachinesOnImage: number({ integer: true, min: 1, max: 10_000, default: HEALTH_DEFAULTS.minMachinesOnImage }),
  },
  (input, problem) => {
    const sources = [input.catalogIds !== undefined, input.allCatalogs, input.waves !== undefined].filter(Boolean);
    if (input.restoreRolloutId !== undefined) {
      if (input.imageId || input.imageNamePattern || sources.length > 0) {
        problem(
          'restoreRolloutId',
          'restoreRolloutId brings its own catalogs and images: give no image and no targets',
        );
      }
    } else {
      if (!input.imageId === !input.imageNamePattern)
        problem('imageId', 'give exactly one of imageId and imageNamePattern');
      if (sources.length !== 1) problem('catalogIds', 'give exactly one of catalogIds, allCatalogs and waves');
    }
    if (input.catalogNamePattern && !input.allCatalogs) {
      problem('catalogNamePattern', 'catalogNamePattern goes with allCatalogs');
    }
    for (const field of ['imageNamePattern', 'catalogNamePattern'] as const) {
      const pattern = input[field];
      if (pattern === undefined) continue;
      try {
        new RegExp(pattern, 'i');
      } catch {
        problem(field, `${field} is not a valid regular expression`);
      }
    }
    if (input.canaryCount !== undefined && input.canaryPercent !== undefined) {
      problem('canaryCount', 'give canaryCount or canaryPercent, not both');
    }
  },
);

/**
 * The size limits of `ROLLOUT_LIMITS` that the input can break before anything is resolved. Rollouts started before
 * these limits existed are replayed without them (the workflow passes `limits: false` to their runs).
 */
function limitProblems(input: RolloutRequest): string[] {
  const problems: string[] = [];
  const { targets, waves, catalogsPerWave, exclusions } = ROLLOUT_LIMITS;
  const split = 'split the catalogs over several rollouts';
  if (input.excludeCatalogIds.length > exclusions) {
    problems.push(`excludeCatalogIds: at most ${exclusions} catalogs can be excluded`);
  }
  if (input.waves) {
    const total = input.waves.reduce((sum, wave) => sum + wave.length, 0);
    if (input.waves.length > waves) problems.push(`waves: at most ${waves} waves, ${input.waves.length} given`);
    if (total > targets) problems.push(`waves: at most ${targets} catalogs in one rollout, ${total} given: ${split}`);
    if (input.waves.some((wave) => wave.length > catalogsPerWave)) {
      problems.push(`waves: at most ${catalogsPerWave} catalogs in one wave`);
    }
  }
  if (input.batchSize > catalogsPerWave) problems.push(`batchSize: at most ${catalogsPerWave} catalogs in one wave`);
  if ((input.canaryCount ?? 0) > catalogsPerWave) {
    problems.push(`canaryCount: at most ${catalogsPerWave} catalogs in one wave`);
  }
  return problems;
}

/**
 * Validates a rollout's input and fills in defaults; throws `InvalidInputError` listing every problem at once.
 * `limits: false` leaves out the size limits, for replaying rollouts started before them.
 */
export function parseRolloutInput(input: unknown, options: { limits?: boolean } = {}): RolloutRequest {
  const request = parseWith(rolloutInput, input);
  if (options.limits === false) return request;
  const problems = limitProblems(request);
  if (problems.length > 0) throw new InvalidInputError(problems);
  return request;
}

/**
 * Splits the targets into waves: explicit waves as given, else a canary wave (count or percent, at least one catalog
 * when there is any, at most `maxWave`), then waves of `batchSize`.
 */
export function planWaves(
  catalogIds: string[],
  options: Pick<RolloutRequest, 'waves' | 'canaryCount' | 'canaryPercent' | 'batchSize'>,
  maxWave = Infinity,
): string[][] {
  if (options.waves) {
    const wanted = new Set(catalogIds);
    return options.waves.map((wave) => wave.filter((id) => wanted.has(id))).filter((wave) => wave.length > 0);
  }
  if (catalogIds.length === 0) return [];
  const canary = Math.min(
    options.canaryPercent !== undefined
      ? Math.max(1, Math.ceil((catalogIds.length * options.canaryPercent) / 100))
      : (options.canaryCount ?? 1),
    maxWave,
  );
  const waves: string[][] = [];
  if (canary > 0) waves.push(catalogIds.slice(0, canary));
  for (let i = Math.min(canary, catalogIds.length); i < catalogIds.length; i += options.batchSize) {
    waves.push(catalogIds.slice(i, i + options.batchSize));
  }
  return waves;
}
