/**
 * Names, input and output types shared by workflows, activities, the worker and the starter. Workflow code imports
 * this module, so it must stay free of Node built-ins and I/O.
 */
import { isGuid, isImageId } from '../citrix/ids';
import { HOUR, MINUTE, SECOND } from './time';
import { type Fields, boolean, number, object, parseWith, required, text } from './validation';

export { InvalidInputError } from './validation';

export const DEFAULT_TASK_QUEUE = 'catalog-rollout';

/** One catalog is updated by at most one workflow at a time: its id is derived from the catalog alone. */
export function catalogUpdateWorkflowId(catalogId: string): string {
  return `catalog-update-${catalogId.toLowerCase()}`;
}

// Unconfirmed: Citrix publishes no length limits for the restart warning; these keep a mistyped file out of the call.
export const MAX_WARNING_TITLE_LENGTH = 256;
export const MAX_WARNING_MESSAGE_LENGTH = 2048;

/** How each catalog is updated: the same for a single update and for every catalog of a rollout. */
export interface CatalogUpdateOptions {
  /**
   * `true` for an image prepared by Citrix, `false` for a customer image. Citrix requires it to match the image, so
   * it is taken from the image at validation; given, it must agree with the image or the update is refused.
   */
  citrixPrepared?: boolean;
  /**
   * Citrix's `vdaUpdateDelay`, in minutes: -1 updates each machine at its next shutdown (no forced restart),
   * 0 restarts every machine now, N spreads restarts, with warnings, over N minutes.
   * @default -1
   */
  vdaUpdateDelayMinutes?: number;
  /** Title of the restart warning shown to users. */
  warningTitle?: string;
  /** Restart warning shown to users; `%m%` stands for the minutes left. */
  warningMessage?: string;
  /**
   * How often the catalog is read while it updates.
   * @default 30_000
   */
  pollIntervalMs?: number;
  /** Who asked for the update, for the record (a name or ticket, never a secret). */
  requestedBy?: string;
}

/** The options with their defaults filled in. */
export type CatalogUpdateSettings = CatalogUpdateOptions &
  Required<Pick<CatalogUpdateOptions, 'vdaUpdateDelayMinutes' | 'pollIntervalMs'>>;

const optionalText = (field: string, max: number) =>
  text({
    trim: true,
    min: 1,
    tooSmall: `${field} must not be empty: leave it out instead`,
    max,
    tooLarge: `${field} is longer than ${max} characters`,
  });

export const catalogUpdateOptions: Fields<CatalogUpdateSettings> = {
  citrixPrepared: boolean(),
  vdaUpdateDelayMinutes: number({
    integer: 'vdaUpdateDelayMinutes must be a whole number of minutes',
    min: -1,
    tooSmall: 'vdaUpdateDelayMinutes must be -1 (next shutdown), 0 (now) or a positive number of minutes',
    max: 7 * 24 * 60,
    tooLarge: 'vdaUpdateDelayMinutes must be at most a week (10080)',
    default: -1,
  }),
  warningTitle: optionalText('warningTitle', MAX_WARNING_TITLE_LENGTH),
  warningMessage: optionalText('warningMessage', MAX_WARNING_MESSAGE_LENGTH),
  pollIntervalMs: number({
    integer: true,
    min: SECOND,
    tooSmall: 'pollIntervalMs must be at least 1 second',
    max: HOUR,
    tooLarge: 'pollIntervalMs must be at most 1 hour',
    default: 30 * SECOND,
  }),
  requestedBy: text({ trim: true, max: 256 }),
};

/** What a caller passes to `updateCatalogImage`; every option has a default. */
export interface UpdateCatalogImageInput extends CatalogUpdateOptions {
  /** The catalog to update (a GUID). */
  catalogId: string;
  /** The template image to move the catalog to. */
  imageId: string;
  /**
   * The whole update, from start to the catalog being back to `Active`, must end within this.
   * @default 6 hours
   */
  deadlineMs?: number;
  /**
   * After the update was accepted, how long the catalog may still show its old image before anything has visibly
   * started; Citrix shows the old `Active` state for a while after the 202.
   * @default 10 minutes
   */
  startTimeoutMs?: number;
  /**
   * While nothing changes, the workflow still hears from the catalog at least this often (it bounds how stale
   * `status` can be, and how many history events a long update costs).
   * @default 30 minutes
   */
  checkInIntervalMs?: number;
}

/** The input with every default filled in. */
export type UpdateCatalogImageRequest = UpdateCatalogImageInput &
  CatalogUpdateSettings &
  Required<Pick<UpdateCatalogImageInput, 'deadlineMs' | 'startTimeoutMs' | 'checkInIntervalMs'>>;

const updateCatalogImageInput = object<UpdateCatalogImageRequest>(
  {
    catalogId: required(
      text({
        test: [
          isGuid,
          'catalogId must be a catalog GUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6 (the starter\'s "catalogs" command lists them)',
        ],
      }),
    ),
    imageId: required(text({ test: [isImageId, 'imageId must be a Citrix template image id'] })),
    ...catalogUpdateOptions,
    deadlineMs: number({
      integer: true,
      min: MINUTE,
      tooSmall: 'deadlineMs must be at least 1 minute',
      max: 7 * 24 * HOUR,
      tooLarge: 'deadlineMs must be at most 7 days',
      default: 6 * HOUR,
    }),
    startTimeoutMs: number({ integer: true, min: SECOND, max: 6 * HOUR, default: 10 * MINUTE }),
    checkInIntervalMs: number({ integer: true, min: SECOND, max: 24 * HOUR, default: 30 * MINUTE }),
  },
  (input, problem) => {
    if (input.deadlineMs <= input.pollIntervalMs)
      problem('deadlineMs', 'deadlineMs must be longer than pollIntervalMs');
  },
);

/** Time an image update itself takes before Citrix starts the restarts that `vdaUpdateDelay` spreads. */
const UPDATE_ALLOWANCE_MS = 30 * MINUTE;

/**
 * Why the deadline cannot hold the restarts `vdaUpdateDelayMinutes` asks for, or `undefined`. Checked by validation
 * and by the starter (not by the workflow's own input rules, which released histories replay).
 */
export function deadlineProblem(request: { vdaUpdateDelayMinutes?: number; deadlineMs?: number }): string | undefined {
  const delay = request.vdaUpdateDelayMinutes ?? -1;
  if (delay <= 0 || request.deadlineMs === undefined) return undefined;
  const needed = delay * MINUTE + UPDATE_ALLOWANCE_MS;
  if (request.deadlineMs >= needed) return undefined;
  return (
    `a deadline of ${Math.round(request.deadlineMs / MINUTE)} minutes cannot hold a vdaUpdateDelay of ${delay} ` +
    `minutes (restarts are spread over it after the update itself): give a deadline of at least ` +
    `${Math.ceil(needed / MINUTE)} minutes, or a shorter delay`
  );
}

/** Validates an update's input and fills in defaults; throws `InvalidInputError` listing every problem at once. */
export function parseUpdateCatalogImageInput(input: unknown): UpdateCatalogImageRequest {
  return parseWith(updateCatalogImageInput, input);
}

/** A start request for a catalog whose update may already run: sent with the start (Update-with-Start). */
export interface AttachRequest {
  /** The image the caller wants; a running update to another image refuses the request. */
  imageId: string;
  /** Set by the caller in the start's memo too: the workflow tells a start it made from an attach by it. */
  startRequestId: string;
  /** The caller's options, to name those a running update keeps as its own. */
  request?: Partial<UpdateCatalogImageRequest>;
  /** Answer once the update posted (or ended without posting), not at once. */
  waitForPost?: boolean;
}

/** What a start learns once the update posted, or ended without posting. */
export interface AttachOutcome {
  /** An update of this catalog to this image was already running; the request joined it. */
  attached: boolean;
  /** Options of the request that the running update does not share (it keeps its own). */
  ignored: string[];
  phase: CatalogUpdatePhase;
  /** The `citrix-transactionId` the post was sent with. */
  transactionId?: string;
  catalogName?: string;
  imageName?: string;
}

/** The options of `asked` that differ from `running`'s, leaving out who asks and what (the same by construction). */
export function optionsDiffering(
  asked: Partial<UpdateCatalogImageRequest>,
  running: Partial<UpdateCatalogImageRequest>,
): string[] {
  return (Object.keys(asked) as Array<keyof UpdateCatalogImageRequest>).filter(
    (key) =>
      key !== 'requestedBy' &&
      key !== 'catalogId' &&
      key !== 'imageId' &&
      running[key] !== undefined &&
      JSON.stringify(running[key]) !== JSON.stringify(asked[key]),
  );
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

/**
 * How far an update got. `updated`: the catalog is on the new image and Citrix restarted its machines onto it.
 * `imageAssigned`: the catalog is on the new image, but its machines take it only when they restart
 * (`vdaUpdateDelay -1`, restarts still spread over the delay, or a persistent catalog whose machines keep their
 * disks). `alreadyCurrent`: nothing to do. `watchStopped`: cancelled after the post; Citrix goes on.
 */
export type CatalogUpdateOutcome = 'updated' | 'imageAssigned' | 'alreadyCurrent' | 'watchStopped';

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
  /** Citrix answered 404 to a call that names no catalog or image of the request (a wrong site id, for example). */
  CitrixNotFound: 'CitrixNotFound',
  CitrixRejected: 'CitrixRejected',
  CatalogUpdateFailed: 'CatalogUpdateFailed',
  CatalogUpdateNeverStarted: 'CatalogUpdateNeverStarted',
  DeadlineExceeded: 'DeadlineExceeded',
  CitrixUnavailable: 'CitrixUnavailable',
  /** Citrix (or something in its place) answered in a shape or size the client does not accept, several times. */
  CitrixInvalidResponse: 'CitrixInvalidResponse',
  CatalogStillUpdating: 'CatalogStillUpdating',
  /** A rollout stopped because more catalogs failed than its failure budget allows; its details hold its result. */
  RolloutHalted: 'RolloutHalted',
  /** A rollout found the catalog updated by another workflow and left it alone. */
  CatalogBusy: 'CatalogBusy',
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
  FailureType.CitrixNotFound,
  FailureType.CitrixRejected,
  FailureType.CatalogUpdateFailed,
  FailureType.CatalogUpdateNeverStarted,
  FailureType.CitrixInvalidResponse,
];
