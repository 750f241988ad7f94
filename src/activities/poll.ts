import { activityInfo, sleep } from '@temporalio/activity';
import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import { type Catalog, type CitrixClient, CitrixNotFoundError } from '../citrix';
import { FailureType } from '../shared';
import {
  type CatalogSnapshot,
  RUNNING_STATES,
  changedMeaningfully,
  decidePoll,
  describeState,
  estimateSecondsLeft,
  snapshotOf,
} from './catalog-rules';
import { citrixCall, errorDetails } from './citrix-failures';

export interface PollActivityDependencies {
  citrix: CitrixClient;
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

export function createPollActivity({
  citrix,
  inActivityPollMaxIntervalMs = 15_000,
  maxLoopingPolls = 100,
  progressReportIntervalMs = 60_000,
}: PollActivityDependencies) {
  let loopingPolls = 0;

  /**
   * One read of a catalog whose update is in flight. A retryable failure waits at least a poll interval, so that a
   * Citrix outage does not turn the poll into a faster loop.
   */
  async function readUpdatingCatalog(request: PollRequest): Promise<Catalog> {
    try {
      return await citrixCall(
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
  }

  return {
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
          const catalog = await readUpdatingCatalog(request);
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
  };
}
