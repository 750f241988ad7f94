/**
 * Rollouts: one image to many catalogs in waves. Types, input schema and the wave planner, shared by the workflow,
 * the activities and the starter. Workflow code imports this module: no Node built-ins, no I/O.
 */
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';
import { z } from 'zod';
import { isGuid, isImageId } from '../citrix/ids';
import { catalogUpdateOptions } from './index';

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

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'times are HH:MM, 24-hour');

/** A recurring maintenance window: waves start only inside it. */
export const maintenanceWindowSchema = z
  .object({
    days: z.array(z.enum(WEEKDAYS)).min(1, 'a maintenance window needs at least one day'),
    start: clock,
    /** End time; a window that ends before it starts runs past midnight. */
    end: clock,
    /** IANA time zone, such as Europe/Berlin. */
    timeZone: z.string().min(1),
  })
  .strict()
  .refine((w) => w.start !== w.end, 'a maintenance window must not start and end at the same time');
export type MaintenanceWindow = z.infer<typeof maintenanceWindowSchema>;

export const rolloutInputSchema = z
  .object({
    /** Names the rollout; defaults to the workflow id. Catalog updates carry it as a search attribute. */
    rolloutId: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/, 'rolloutId may hold letters, digits and . _ : - (at most 100)')
      .optional(),
    /** The image to roll out, or `imageNamePattern` to pick the newest Ready image whose name matches at start. */
    imageId: z.string().refine(isImageId, 'imageId must be a Citrix template image id').optional(),
    imageNamePattern: z.string().min(1).max(200).optional(),
    /**
     * Instead of an image and targets: return every catalog that this earlier, finished rollout moved to the image
     * that catalog had before.
     */
    restoreRolloutId: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,107}$/, 'restoreRolloutId is a rollout id')
      .optional(),
    /** Explicit catalogs, in order. */
    catalogIds: z.array(z.string().refine(isGuid, 'catalogIds must be catalog GUIDs')).max(5000).optional(),
    /** Every catalog of the site (optionally filtered by `catalogNamePattern`), resolved at start. */
    allCatalogs: z.boolean().default(false),
    catalogNamePattern: z.string().min(1).max(200).optional(),
    excludeCatalogIds: z.array(z.string().refine(isGuid)).default([]),
    /** Explicit waves of catalog ids; otherwise a canary wave, then waves of `batchSize`. */
    waves: z.array(z.array(z.string().refine(isGuid)).min(1)).optional(),
    /** @default 1 */
    canaryCount: z.number().int().min(0).max(1000).optional(),
    canaryPercent: z.number().min(0).max(100).optional(),
    /** Catalogs per wave after the canary. @default 10 */
    batchSize: z.number().int().min(1).max(5000).default(10),
    /** Catalogs updated at once within a wave. @default 5 */
    maxParallel: z.number().int().min(1).max(500).default(5),
    /** Who must approve before a wave starts. @default 'none' */
    approval: z.enum(['none', 'afterCanary', 'everyWave']).default('none'),
    /** Pause after each wave before the next one starts. @default 0 */
    bakeTimeMs: z
      .number()
      .int()
      .min(0)
      .max(7 * DAY)
      .default(0),
    /** Failed catalogs tolerated; one more halts the rollout. @default 0 */
    failureBudget: z.number().int().min(0).max(5000).default(0),
    /** On halt, return the catalogs this rollout moved to the image each had before. @default false */
    rollbackOnHalt: z.boolean().default(false),
    /** Resolve and validate everything, print the plan, post nothing. @default false */
    dryRun: z.boolean().default(false),
    /** Do not start before this time (ISO 8601). */
    startAt: z.iso.datetime({ offset: true }).optional(),
    maintenanceWindow: maintenanceWindowSchema.optional(),
    /** Send notifications to the webhook configured on the worker. @default true */
    notify: z.boolean().default(true),
    ...catalogUpdateOptions,
    /** Deadline of each catalog's update. @default 6 hours */
    catalogDeadlineMs: z
      .number()
      .int()
      .min(MINUTE)
      .max(7 * DAY)
      .default(6 * HOUR),
  })
  .strict()
  .superRefine(
    (input, ctx) => {
      const issue = (message: string, path: string) => ctx.addIssue({ code: 'custom', message, path: [path] });
      const sources = [input.catalogIds !== undefined, input.allCatalogs, input.waves !== undefined].filter(Boolean);
      if (input.restoreRolloutId !== undefined) {
        if (input.imageId || input.imageNamePattern || sources.length > 0) {
          issue(
            'restoreRolloutId brings its own catalogs and images: give no image and no targets',
            'restoreRolloutId',
          );
        }
      } else {
        if (!input.imageId === !input.imageNamePattern)
          issue('give exactly one of imageId and imageNamePattern', 'imageId');
        if (sources.length !== 1) issue('give exactly one of catalogIds, allCatalogs and waves', 'catalogIds');
      }
      if (input.catalogNamePattern && !input.allCatalogs)
        issue('catalogNamePattern goes with allCatalogs', 'catalogNamePattern');
      for (const [field, pattern] of [
        ['imageNamePattern', input.imageNamePattern],
        ['catalogNamePattern', input.catalogNamePattern],
      ] as const) {
        if (pattern === undefined) continue;
        try {
          new RegExp(pattern, 'i');
        } catch {
          issue(`${field} is not a valid regular expression`, field);
        }
      }
      if (input.canaryCount !== undefined && input.canaryPercent !== undefined) {
        issue('give canaryCount or canaryPercent, not both', 'canaryCount');
      }
      if (input.startAt !== undefined && Number.isNaN(Date.parse(input.startAt)))
        issue('startAt is not a date', 'startAt');
    },
    // Run these checks even when a field is malformed, so that one message names every problem.
    { when: ({ value }: { value: unknown }) => typeof value === 'object' && value !== null } as never,
  );

export type RolloutInput = z.input<typeof rolloutInputSchema>;
export type RolloutRequest = z.output<typeof rolloutInputSchema>;

/**
 * Splits the targets into waves: explicit waves as given, else a canary wave (count or percent, at least one catalog
 * when there is any), then waves of `batchSize`.
 */
export function planWaves(
  catalogIds: string[],
  options: Pick<RolloutRequest, 'waves' | 'canaryCount' | 'canaryPercent' | 'batchSize'>,
): string[][] {
  if (options.waves) {
    const wanted = new Set(catalogIds);
    return options.waves.map((wave) => wave.filter((id) => wanted.has(id))).filter((wave) => wave.length > 0);
  }
  if (catalogIds.length === 0) return [];
  const canary =
    options.canaryPercent !== undefined
      ? Math.max(1, Math.ceil((catalogIds.length * options.canaryPercent) / 100))
      : (options.canaryCount ?? 1);
  const waves: string[][] = [];
  if (canary > 0) waves.push(catalogIds.slice(0, canary));
  for (let i = Math.min(canary, catalogIds.length); i < catalogIds.length; i += options.batchSize) {
    waves.push(catalogIds.slice(i, i + options.batchSize));
  }
  return waves;
}

export type CatalogRolloutState =
  | 'pending'
  | 'running'
  | 'updated'
  | 'alreadyCurrent'
  | 'failed'
  | 'notStarted'
  | 'watchStopped'
  | 'rollingBack'
  | 'rolledBack'
  | 'rollbackFailed';

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
}

export type RolloutPhase =
  | 'resolving'
  | 'waitingForStart'
  | 'waitingForWindow'
  | 'awaitingApproval'
  | 'running'
  | 'paused'
  | 'baking'
  | 'rollingBack'
  | 'completed'
  | 'halted'
  | 'aborted'
  | 'planned';

export interface WaveProgress {
  index: number;
  catalogIds: string[];
  state: 'pending' | 'running' | 'done' | 'halted' | 'skipped';
  startedAt?: string;
  finishedAt?: string;
  approvedBy?: string;
  approvedAt?: string;
}

/** What the `progress` query answers, and what the rollout returns. */
export interface RolloutProgress {
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
  catalogs: CatalogRolloutProgress[];
  failures: number;
  /** Catalogs that were asked for but are not part of the plan, and why (for example excluded, or not found). */
  skipped: Array<{ catalogId: string; reason: string }>;
  startedAt: string;
  finishedAt?: string;
  /** Why the rollout halted or was aborted. */
  reason?: string;
  waitingUntil?: string;
}
