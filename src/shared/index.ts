/**
 * Names, input and output types shared by workflows, activities, the worker and the starter. Workflow code imports
 * this module, so it must stay free of Node built-ins and I/O.
 */
import { z } from 'zod';
import { isGuid, isImageId } from '../citrix/ids';

export const DEFAULT_TASK_QUEUE = 'catalog-rollout';

/** One catalog is updated by at most one workflow at a time: its id is derived from the catalog alone. */
export function catalogUpdateWorkflowId(catalogId: string): string {
  return `catalog-update-${catalogId.toLowerCase()}`;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

// Unconfirmed: Citrix publishes no length limits for the restart warning; these keep a mistyped file out of the call.
export const MAX_WARNING_TITLE_LENGTH = 256;
export const MAX_WARNING_MESSAGE_LENGTH = 2048;

const optionalText = (field: string, max: number) =>
  z
    .string()
    .trim()
    .min(1, `${field} must not be empty: leave it out instead`)
    .max(max, `${field} is longer than ${max} characters`)
    .optional();

/** How each catalog is updated: the same for a single update and for every catalog of a rollout. */
export const catalogUpdateOptions = {
  /**
   * `false` for a customer image, `true` for one prepared by Citrix.
   * @default false
   */
  citrixPrepared: z.boolean().default(false),
  /**
   * Citrix's `vdaUpdateDelay`, in minutes: -1 updates each machine at its next shutdown (no forced restart),
   * 0 restarts every machine now, N spreads restarts, with warnings, over N minutes.
   * @default -1
   */
  vdaUpdateDelayMinutes: z
    .number()
    .int('vdaUpdateDelayMinutes must be a whole number of minutes')
    .min(-1, 'vdaUpdateDelayMinutes must be -1 (next shutdown), 0 (now) or a positive number of minutes')
    .max(7 * 24 * 60, 'vdaUpdateDelayMinutes must be at most a week (10080)')
    .default(-1),
  /** Title of the restart warning shown to users. */
  warningTitle: optionalText('warningTitle', MAX_WARNING_TITLE_LENGTH),
  /** Restart warning shown to users; `%m%` stands for the minutes left. */
  warningMessage: optionalText('warningMessage', MAX_WARNING_MESSAGE_LENGTH),
  /**
   * How often the catalog is read while it updates.
   * @default 30_000
   */
  pollIntervalMs: z
    .number()
    .int()
    .min(SECOND, 'pollIntervalMs must be at least 1 second')
    .max(HOUR, 'pollIntervalMs must be at most 1 hour')
    .default(30 * SECOND),
  /** Who asked for the update, for the record (a name or ticket, never a secret). */
  requestedBy: z.string().trim().max(256).optional(),
};

export const updateCatalogImageInputSchema = z
  .object({
    /** The catalog to update (a GUID). */
    catalogId: z
      .string()
      .refine(
        isGuid,
        'catalogId must be a catalog GUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6 (the starter\'s "catalogs" command lists them)',
      ),
    /** The template image to move the catalog to. */
    imageId: z.string().refine(isImageId, 'imageId must be a Citrix template image id'),
    ...catalogUpdateOptions,
    /**
     * The whole update, from start to the catalog being back to `Active`, must end within this.
     * @default 6 hours
     */
    deadlineMs: z
      .number()
      .int()
      .min(MINUTE, 'deadlineMs must be at least 1 minute')
      .max(7 * 24 * HOUR, 'deadlineMs must be at most 7 days')
      .default(6 * HOUR),
    /**
     * After the update was accepted, how long the catalog may still show its old image before anything has visibly
     * started; Citrix shows the old `Active` state for a while after the 202.
     * @default 10 minutes
     */
    startTimeoutMs: z
      .number()
      .int()
      .min(SECOND)
      .max(6 * HOUR)
      .default(10 * MINUTE),
    /**
     * While nothing changes, the workflow still hears from the catalog at least this often (it bounds how stale
     * `status` can be, and how many history events a long update costs).
     * @default 30 minutes
     */
    checkInIntervalMs: z
      .number()
      .int()
      .min(SECOND)
      .max(24 * HOUR)
      .default(30 * MINUTE),
  })
  .strict()
  .superRefine((input, ctx) => {
    if (input.deadlineMs <= input.pollIntervalMs) {
      ctx.addIssue({ code: 'custom', path: ['deadlineMs'], message: 'deadlineMs must be longer than pollIntervalMs' });
    }
  });

/** What a caller passes to `updateCatalogImage`; every option has a default. */
export type UpdateCatalogImageInput = z.input<typeof updateCatalogImageInputSchema>;
/** The input with every default filled in. */
export type UpdateCatalogImageRequest = z.output<typeof updateCatalogImageInputSchema>;

export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
  constructor(readonly problems: string[]) {
    super(`invalid input: ${problems.join('; ')}`);
  }
}

/** Validates against `schema` and fills in defaults; throws `InvalidInputError` listing every problem at once. */
export function parseInput<Schema extends z.ZodType>(schema: Schema, input: unknown): z.output<Schema> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new InvalidInputError(
    result.error.issues.map((issue) =>
      issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message,
    ),
  );
}

export function parseUpdateCatalogImageInput(input: unknown): UpdateCatalogImageRequest {
  return parseInput(updateCatalogImageInputSchema, input);
}

export type CatalogUpdatePhase =
  'validating' | 'posting' | 'waiting' | 'succeeded' | 'alreadyCurrent' | 'failed' | 'cancelled' | 'watchStopped';

/** What the `status` query answers. */
export interface CatalogUpdateStatus {
  phase: CatalogUpdatePhase;
  catalogId: string;
  imageId: string;
  catalogName?: string;
  imageName?: string;
  /** The image the catalog ran before; what a rollback returns to. */
  previousImageId?: string;
  catalogState?: string;
  subState?: string;
  percentComplete?: number;
  estimatedSecondsLeft?: number;
  /** Catalog reads made while waiting. */
  polls: number;
  lastPolledAt?: string;
  postedAt?: string;
  /** The `citrix-transactionId` of the update request: quote it to Citrix support. */
  transactionId?: string;
  lastError?: string;
}

export type CatalogUpdateOutcome = 'updated' | 'alreadyCurrent' | 'watchStopped';

export interface CatalogUpdateResult {
  outcome: CatalogUpdateOutcome;
  catalogId: string;
  catalogName: string;
  imageId: string;
  previousImageId?: string;
  transactionId?: string;
  postedAt?: string;
  finishedAt: string;
  polls: number;
  message: string;
}

/**
 * `ApplicationFailure` types raised by activities and the workflow. The non-retryable ones describe problems that no
 * retry can fix: the worker lists them in its retry policies so they fail at once.
 */
export const FailureType = {
  InvalidInput: 'InvalidInput',
  CatalogNotFound: 'CatalogNotFound',
  ImageNotFound: 'ImageNotFound',
  ImageNotUsable: 'ImageNotUsable',
  CatalogNotReady: 'CatalogNotReady',
  CitrixAuthFailed: 'CitrixAuthFailed',
  CitrixForbidden: 'CitrixForbidden',
  CitrixRejected: 'CitrixRejected',
  CatalogUpdateFailed: 'CatalogUpdateFailed',
  CatalogUpdateNeverStarted: 'CatalogUpdateNeverStarted',
  DeadlineExceeded: 'DeadlineExceeded',
  CitrixUnavailable: 'CitrixUnavailable',
  CatalogStillUpdating: 'CatalogStillUpdating',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

export const NON_RETRYABLE_FAILURES: FailureType[] = [
  FailureType.InvalidInput,
  FailureType.CatalogNotFound,
  FailureType.ImageNotFound,
  FailureType.ImageNotUsable,
  FailureType.CatalogNotReady,
  FailureType.CitrixAuthFailed,
  FailureType.CitrixForbidden,
  FailureType.CitrixRejected,
  FailureType.CatalogUpdateFailed,
  FailureType.CatalogUpdateNeverStarted,
];
