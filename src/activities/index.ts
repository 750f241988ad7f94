import { Context, activityInfo, log, sleep } from '@temporalio/activity';
import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import { type Catalog, type CitrixClient, CitrixError, CitrixNotFoundError, type TemplateImage } from '../citrix';
import { FailureType, deadlineProblem } from '../shared';
import {
  type CatalogSnapshot,
  RUNNING_STATES,
  SETTLED_STATES,
  adviceForState,
  changedMeaningfully,
  compatibilityProblems,
  decidePoll,
  describeCatalog,
  describeState,
  estimateSecondsLeft,
  isPersistent,
  sameId,
  snapshotOf,
} from './catalog-rules';
import { citrixCall, errorDetails, toApplicationFailure } from './citrix-failures';
import { createRolloutActivities } from './rollout';

export { toApplicationFailure };
export type { CatalogSnapshot };

export interface ActivityDependencies {
  citrix: CitrixClient;
  /**
   * When a post is retried after an unknown outcome and the catalog still looks untouched, wait this long and read it
   * again before posting: Citrix keeps showing the old state for a while after it accepted an update.
   * @default 30_000
   */
  postRetrySettleMs?: number;
  /** Incoming webhook (Slack or Teams) for rollout notifications; a secret, so worker configuration only. */
  webhookUrl?: string;
  /**
   * Poll intervals up to this long are waited out inside one heartbeating attempt of `pollCatalogUpdate` (sleep, read,
   * repeat); longer ones by Temporal's retry policy, one attempt per read. Measured in docs/performance.md: at 5-second
   * polls the loop costs the Temporal server far less per read than a retry; from about 30 seconds, a retry costs less
   * than the heartbeats of a waiting attempt. 0 turns the loop off.
   * @default 15_000
   */
  inActivityPollMaxIntervalMs?: number;
  /**
   * At most this many polls loop at once (each holds an activity slot while it waits); the others fall back to one
   * read per attempt. The worker passes half its activity slots.
   * @default 100
   */
  maxLoopingPolls?: number;
  /**
   * A poll reports a new state, or the end of the update, at once; another sub-state or 10 % more progress only once
   * this long has passed since its last report. Each report costs the workflow a task and six history events, so this
   * bounds what a thousand concurrent updates cost Temporal, and how stale `status` progress may be.
   * @default 60_000
   */
  progressReportIntervalMs?: number;
}

/** How long one read of an image serves the validations that need it. */
const IMAGE_READ_REUSE_MS = 15_000;
/**
 * How often a running activity tells Temporal that its worker is alive. The workflow's heartbeat timeout is a few times
 * this, so an activity lost with its worker (crash, SIGKILL, lost host) is retried within seconds instead of at its
 * start-to-close timeout. The SDK throttles what reaches the server, and a short activity sends nothing.
 */
export const HEARTBEAT_INTERVAL_MS = 2_000;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AsyncFunctions = Record<string, (...args: any[]) => Promise<unknown>>;

/** The same activities, each heartbeating while it runs. */
function heartbeating<T extends AsyncFunctions>(activities: T): T {
  const wrapped: AsyncFunctions = {};
  for (const [name, activity] of Object.entries(activities)) {
    wrapped[name] = async (...args) => {
      const context = Context.current();
      const timer = setInterval(() => context.heartbeat(), HEARTBEAT_INTERVAL_MS);
      try {
        return await activity(...args);
      } finally {
        clearInterval(timer);
      }
    };
  }
  return wrapped as T;
}

export interface ValidateRequest {
  catalogId: string;
  imageId: string;
  /** What the caller said; it must match the image (absent: the image decides). */
  citrixPrepared?: boolean;
  vdaUpdateDelayMinutes?: number;
  deadlineMs?: number;
}

export interface ValidationReport {
  catalogName: string;
  catalogState: string;
  imageName: string;
  previousImageId?: string;
  previousImageName?: string;
  lastModifiedTime?: string;
  /** The catalog already runs the requested image: nothing to post. */
  alreadyCurrent: boolean;
  /** Whether the image is Citrix-prepared: what `$updateImage` must say (Citrix refuses a mismatch). */
  citrixPrepared?: boolean;
  /** A static catalog that keeps its disks: existing machines keep the old image. */
  persistent?: boolean;
  /** The catalog as validation read it: warnings already there are no evidence against the update. */
  snapshot?: CatalogSnapshot;
}

export interface PostRequest {
  catalogId: string;
  imageId: string;
  citrixPrepared: boolean;
  vdaUpdateDelayMinutes: number;
  warningTitle?: string;
  warningMessage?: string;
  /** Sent as `Citrix-TransactionId`, so that Citrix support can find the request. */
  transactionId: string;
  /** The catalog's `lastModifiedTime` at validation; a change means something already happened to it. */
  lastModifiedTime?: string;
}

export interface PostReport {
  transactionId: string;
  /** An earlier attempt's post had already been accepted, so nothing was sent this time. */
  alreadyPosted: boolean;
}

export interface PollRequest {
  catalogId: string;
  imageId: string;
  postedAt: string;
  pollIntervalMs: number;
  checkInIntervalMs: number;
  startTimeoutMs: number;
  /** Whether any earlier read showed the update running. */
  seenRunning: boolean;
  /** The last snapshot the workflow knows; a meaningful change from it reports back at once. */
  lastSeen: CatalogSnapshot;
  /** The catalog as validation read it: its error warnings are no evidence against this update. */
  baseline?: CatalogSnapshot;
}

export type PollVerdict = 'inProgress' | 'succeeded' | 'failed' | 'neverStarted';

export interface PollReport {
  verdict: PollVerdict;
  snapshot: CatalogSnapshot;
  /** Reads made by this activity (one per attempt). */
  polls: number;
  polledAt: string;
  seenRunning: boolean;
  estimatedSecondsLeft?: number;
}

export function createActivities({
  citrix,
  postRetrySettleMs = 30_000,
  webhookUrl,
  inActivityPollMaxIntervalMs = 15_000,
  maxLoopingPolls = 100,
  progressReportIntervalMs = 60_000,
}: ActivityDependencies) {
  let loopingPolls = 0;
  function readCatalog(catalogId: string): Promise<Catalog> {
    return citrixCall(
      () => citrix.getCatalog(catalogId),
      async (error) =>
        error instanceof CitrixNotFoundError
          ? ApplicationFailure.nonRetryable(
              `catalog ${catalogId} was not found in site ${await citrix.getSiteId()}: check the catalog id ` +
                `(the starter's "catalogs" command lists them) and the site`,
              FailureType.CatalogNotFound,
              errorDetails(error),
            )
          : undefined,
    );
  }

  /**
   * Every catalog of a rollout validates the same image, and an image's details list every catalog that uses it (a
   * megabyte for a few thousand catalogs): one read serves the validations of `IMAGE_READ_REUSE_MS`. Citrix checks
   * the image again when the update is posted.
   */
  const imageReads = new Map<string, { at: number; image: Promise<TemplateImage> }>();
  function readImage(imageId: string): Promise<TemplateImage> {
    const key = imageId.toLowerCase();
    const cached = imageReads.get(key);
    if (cached && Date.now() - cached.at < IMAGE_READ_REUSE_MS) return cached.image;
    const image = readImageNow(imageId);
    imageReads.set(key, { at: Date.now(), image });
    image.catch(() => imageReads.delete(key));
    if (imageReads.size > 100) imageReads.delete(imageReads.keys().next().value!);
    return image;
  }

  function readImageNow(imageId: string): Promise<TemplateImage> {
    return citrixCall(
      () => citrix.getImage(imageId),
      (error) =>
        error instanceof CitrixNotFoundError
          ? ApplicationFailure.nonRetryable(
              `image ${imageId} was not found: check the image id (the starter's "images" command lists them)`,
              FailureType.ImageNotFound,
              errorDetails(error),
            )
          : undefined,
    );
  }

  return heartbeating({
    ...createRolloutActivities({ citrix, webhookUrl }),

    /** Reads the catalog and the image and checks that the update may start. Posts nothing. */
    async validateCatalogUpdate(request: ValidateRequest): Promise<ValidationReport> {
      const { catalogId, imageId } = request;
      const catalog = await readCatalog(catalogId);
      const report: ValidationReport = {
        catalogName: catalog.name,
        catalogState: catalog.state,
        imageName: catalog.templateImageName ?? imageId,
        previousImageId: catalog.imageId,
        previousImageName: catalog.templateImageName,
        lastModifiedTime: catalog.lastModifiedTime,
        alreadyCurrent: false,
        persistent: isPersistent(catalog),
        snapshot: snapshotOf(catalog),
      };
      if (SETTLED_STATES.has(catalog.state) && sameId(catalog.imageId, imageId)) {
        return { ...report, alreadyCurrent: true };
      }
      if (!SETTLED_STATES.has(catalog.state)) {
        throw ApplicationFailure.nonRetryable(
          `catalog ${describeCatalog(catalog)} is in state ${describeState(catalog)}; an image update needs it ` +
            `Active or InputRequired: ${adviceForState(catalog.state)}`,
          FailureType.CatalogNotReady,
          [{ catalogId, state: catalog.state, subState: catalog.subState, transactionId: catalog.transactionId }],
        );
      }
      const image = await readImage(imageId);
      if (image.state !== 'Ready') {
        throw ApplicationFailure.nonRetryable(
          `image ${image.name} (${image.id}) is in state ${image.state}${image.subState ? ` (${image.subState})` : ''}` +
            ` and cannot be used yet: ${
              ['Failed', 'AzureResourcesNotFound'].includes(image.state)
                ? 'it will never become usable, pick another image'
                : 'wait until Citrix shows it Ready, then start again'
            }`,
          FailureType.ImageNotUsable,
          [{ imageId, state: image.state, subState: image.subState }],
        );
      }
      if (image.isDeprecated) {
        throw ApplicationFailure.nonRetryable(
          `image ${image.name} (${image.id}) is deprecated: pick a current image`,
          FailureType.ImageNotUsable,
          [{ imageId, isDeprecated: true }],
        );
      }
      const citrixPrepared = image.citrixPrepared ?? false;
      if (request.citrixPrepared !== undefined && request.citrixPrepared !== citrixPrepared) {
        throw ApplicationFailure.nonRetryable(
          `image ${image.name} (${image.id}) is ${citrixPrepared ? 'a Citrix-prepared image' : 'a customer image'}, ` +
            `but the update says citrixPrepared ${request.citrixPrepared}: leave --citrix-prepared out, the image ` +
            `decides it`,
          FailureType.InvalidInput,
          [{ imageId, citrixPrepared, requested: request.citrixPrepared }],
        );
      }
      const misfits = compatibilityProblems(catalog, image);
      if (misfits.length > 0) {
        throw ApplicationFailure.nonRetryable(
          `image ${image.name} (${image.id}) does not fit catalog ${describeCatalog(catalog)}: ${misfits.join('; ')}: ` +
            `pick an image made for this catalog`,
          FailureType.ImageNotUsable,
          [{ imageId, catalogId, misfits }],
        );
      }
      const delayProblem = deadlineProblem(request);
      if (delayProblem) throw ApplicationFailure.nonRetryable(delayProblem, FailureType.InvalidInput);
      return { ...report, imageName: image.name, citrixPrepared };
    },

    /**
     * Posts `$updateImage` at most once per update: every attempt reads the catalog first and treats a running update
     * (or the target image already in place) as already posted. A retry after an unknown outcome also waits out
     * Citrix's lag before it concludes that nothing was sent.
     */
    async postImageUpdate(request: PostRequest): Promise<PostReport> {
      const { attempt } = activityInfo();
      const posted = (alreadyPosted: boolean): PostReport => ({ transactionId: request.transactionId, alreadyPosted });

      let catalog = await readCatalog(request.catalogId);
      const ours = catalog.transactionId === request.transactionId;
      if (RUNNING_STATES.has(catalog.state) && (ours || attempt > 1)) return posted(true);
      if (SETTLED_STATES.has(catalog.state) && sameId(catalog.imageId, request.imageId)) return posted(true);
      if (attempt > 1 && SETTLED_STATES.has(catalog.state)) {
        log.info('post retried after an unknown outcome; waiting for Citrix to show an accepted update', {
          catalogId: request.catalogId,
          attempt,
          settleMs: postRetrySettleMs,
        });
        await sleep(postRetrySettleMs);
        catalog = await readCatalog(request.catalogId);
        // Not `lastModifiedTime` alone: any change to the catalog moves it, not only an accepted update.
        const touched =
          RUNNING_STATES.has(catalog.state) ||
          sameId(catalog.imageId, request.imageId) ||
          catalog.transactionId === request.transactionId;
        if (touched) return posted(true);
      }
      if (!SETTLED_STATES.has(catalog.state)) {
        throw ApplicationFailure.nonRetryable(
          `catalog ${describeCatalog(catalog)} changed to state ${describeState(catalog)} before the update was sent: ` +
            `${adviceForState(catalog.state)}`,
          FailureType.CatalogNotReady,
          [{ catalogId: request.catalogId, state: catalog.state, subState: catalog.subState }],
        );
      }

      try {
        const accepted = await citrix.updateImage(
          request.catalogId,
          {
            templateId: request.imageId,
            citrixPrepared: request.citrixPrepared,
            vdaUpdateDelay: request.vdaUpdateDelayMinutes,
            ...(request.warningTitle !== undefined && { warningTitle: request.warningTitle }),
            ...(request.warningMessage !== undefined && { warningMessage: request.warningMessage }),
          },
          { transactionId: request.transactionId },
        );
        log.info('image update accepted by Citrix', {
          catalogId: request.catalogId,
          imageId: request.imageId,
          transactionId: accepted.transactionId ?? request.transactionId,
        });
        return { ...posted(false), transactionId: accepted.transactionId ?? request.transactionId };
      } catch (error) {
        if (
          error instanceof CitrixError &&
          (error.code === 'CITRIX_BAD_REQUEST' || error.code === 'CITRIX_NOT_FOUND')
        ) {
          throw ApplicationFailure.nonRetryable(
            `Citrix refused the image update of catalog ${describeCatalog(catalog)} to image ${request.imageId}: ` +
              `${error.message}. Nothing was changed; correct the request and start again`,
            FailureType.CitrixRejected,
            errorDetails(error),
          );
        }
        throw toApplicationFailure(error);
      }
    },

    /**
     * Reads the catalog every poll interval, never sooner than one interval after the previous read (or the post).
     * Short intervals loop inside one heartbeating attempt; long ones make one read per attempt. While nothing worth
     * reporting has changed the attempt fails with a benign `CatalogStillUpdating`, and Temporal's retry policy
     * (interval = poll interval) schedules the next read: retries add no history events, so a long update keeps a
     * short history. It returns when the update ended, when the catalog visibly moved on, or when the check-in
     * interval has passed.
     */
    async pollCatalogUpdate(request: PollRequest): Promise<PollReport> {
      // Elapsed times come from the server's clock (the attempt's schedule time, and `postedAt` set by the
      // workflow), so that they hold under a time-skipping test server and when the worker's clock drifts.
      const { attempt, scheduledTimestampMs, currentAttemptScheduledTimestampMs, startToCloseTimeoutMs } =
        activityInfo();
      const attemptStartedMs = Date.now();
      const serverNow = () => currentAttemptScheduledTimestampMs + (Date.now() - attemptStartedMs);
      const loop = request.pollIntervalMs <= inActivityPollMaxIntervalMs && loopingPolls < maxLoopingPolls;
      const stillUpdating = (message: string) =>
        ApplicationFailure.create({
          type: FailureType.CatalogStillUpdating,
          message,
          nextRetryDelay: request.pollIntervalMs,
          category: ApplicationFailureCategory.BENIGN,
        });
      // The workflow schedules a poll right after the post or right after the previous poll reported: a read now
      // would repeat the one just made (or see Citrix's lag), so the first read waits one poll interval. A retry has
      // waited its interval already.
      if (attempt === 1 && !loop) {
        throw stillUpdating(`catalog ${request.catalogId}: first read in ${request.pollIntervalMs} ms`);
      }
      let reads = 0;
      if (loop) loopingPolls += 1;
      try {
        for (;;) {
          if (loop && (attempt === 1 || reads > 0)) await sleep(request.pollIntervalMs);
          let catalog: Catalog;
          try {
            catalog = await citrixCall(
              () => citrix.getCatalog(request.catalogId),
              (error) =>
                error instanceof CitrixNotFoundError
                  ? ApplicationFailure.nonRetryable(
                      `catalog ${request.catalogId} disappeared while its image was updating (it was deleted)`,
                      FailureType.CatalogUpdateFailed,
                      errorDetails(error),
                    )
                  : undefined,
            );
          } catch (error) {
            const failure = error as ApplicationFailure;
            if (failure.nonRetryable) throw failure;
            throw ApplicationFailure.create({
              message: failure.message,
              type: failure.type ?? undefined,
              details: failure.details as unknown[],
              nextRetryDelay: Math.max(
                typeof failure.nextRetryDelay === 'number' ? failure.nextRetryDelay : 0,
                request.pollIntervalMs,
              ),
            });
          }
          reads += 1;

          const now = serverNow();
          const snapshot = snapshotOf(catalog);
          const seenRunning = request.seenRunning || RUNNING_STATES.has(catalog.state);
          const report = (verdict: PollVerdict): PollReport => ({
            verdict,
            snapshot,
            // Earlier attempts made one read each (the first one none, outside the loop).
            polls: attempt - 1 + (loop ? reads : 0),
            polledAt: new Date().toISOString(),
            seenRunning,
            estimatedSecondsLeft: estimateSecondsLeft(snapshot, request.postedAt, now),
          });

          const decision = decidePoll({
            snapshot,
            before: request.baseline ?? request.lastSeen,
            imageId: request.imageId,
            seenRunning: request.seenRunning,
            nowMs: now,
            postedAtMs: Date.parse(request.postedAt),
            startTimeoutMs: request.startTimeoutMs,
          });
          if (decision) return report(decision);

          const sinceReportMs = now - scheduledTimestampMs;
          const checkInDue = sinceReportMs >= request.checkInIntervalMs;
          const moved =
            request.lastSeen.state !== snapshot.state ||
            (sinceReportMs >= progressReportIntervalMs && changedMeaningfully(request.lastSeen, snapshot));
          if (checkInDue || moved) return report('inProgress');
          const message = `catalog ${request.catalogId} is ${describeState(catalog)}${
            snapshot.percentComplete !== undefined ? ` at ${snapshot.percentComplete}%` : ''
          }`;
          // Within the attempt's start-to-close timeout (with room for a slow read), the loop sleeps and reads again;
          // past it, or without the loop, the retry policy schedules the next read.
          const roomMs = startToCloseTimeoutMs - (Date.now() - attemptStartedMs) - request.pollIntervalMs;
          if (!loop || roomMs < 30_000) throw stillUpdating(message);
        }
      } finally {
        if (loop) loopingPolls -= 1;
      }
    },
  });
}

export type Activities = ReturnType<typeof createActivities>;
