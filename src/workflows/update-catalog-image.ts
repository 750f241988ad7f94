import { formatDuration } from '../shared/time';
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, CatalogSnapshot, PollReport, PostReport, ValidationReport } from '../activities';
import { truncateText } from '../shared/rollout-progress';
import { lastAttemptError, ranOutOfTime, unwrapActivityFailure } from './failures';
import { summaries } from './summaries';
import { handleAttach } from './update-attach';
import { declareVersioningBehavior } from './versioning';
import {
  type CatalogUpdateResult,
  type CatalogUpdateStatus,
  FailureType,
  InvalidInputError,
  NON_RETRYABLE_FAILURES,
  type UpdateCatalogImageInput,
  type UpdateCatalogImageRequest,
  parseUpdateCatalogImageInput,
} from '../shared';

export const statusQuery = defineQuery<CatalogUpdateStatus>('status');
export { attachUpdate } from './update-attach';
/** What a run hands to the next one when it continues as new in the middle of the wait. */
export interface WaitCheckpoint {
  deadlineAtMs: number;
  startedAtMs: number;
  validation: ValidationReport;
  post: PostReport;
  postedAt: string;
  polls: number;
  seenRunning: boolean;
  lastSeen: CatalogSnapshot;
}

/**
 * Activities heartbeat every few seconds (`HEARTBEAT_INTERVAL_MS`): an attempt lost with its worker is retried after
 * this, not after its start-to-close timeout. Changing activity options does not affect replay.
 */
const HEARTBEAT_TIMEOUT = '10 seconds';
/**
 * A waiting poll is lost with its worker for at most this long: nothing is lost meanwhile (the catalog keeps updating),
 * and each heartbeat that reaches the server is a write there. 30 s instead of 10 s cuts the Temporal server's CPU per
 * update by a sixth at a thousand concurrent updates (docs/performance.md).
 */
const POLL_HEARTBEAT_TIMEOUT = '30 seconds';

const { validateCatalogUpdate, postImageUpdate } = proxyActivities<Activities>({
  startToCloseTimeout: '4 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  scheduleToCloseTimeout: '15 minutes',
  cancellationType: ActivityCancellationType.TRY_CANCEL,
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: NON_RETRYABLE_FAILURES,
  },
});

/**
 * Moves one Quick Deploy catalog to a new image: validate, post `$updateImage` once, then wait until the catalog is
 * `Active` or `InputRequired` on the new image. Fails with the catalog's sub-state and Citrix's transaction id when
 * the update ends in `Error`, and with a clear message when the deadline passes.
 */
export async function updateCatalogImage(
  input: UpdateCatalogImageInput,
  checkpoint?: WaitCheckpoint,
): Promise<CatalogUpdateResult> {
  const status: CatalogUpdateStatus = {
    phase: checkpoint ? 'waiting' : 'validating',
    catalogId: String(input?.catalogId),
    imageId: String(input?.imageId),
    polls: checkpoint?.polls ?? 0,
  };
  setHandler(statusQuery, () => status);
  handleAttach(input, status);

  try {
    const request = parseRequest(input);
    const startedAtMs = checkpoint?.startedAtMs ?? Date.now();
    const deadlineAtMs = checkpoint?.deadlineAtMs ?? startedAtMs + request.deadlineMs;

    let validation = checkpoint?.validation;
    let post = checkpoint?.post;
    let postedAt = checkpoint?.postedAt;
    if (!validation || !post || !postedAt) {
      validation = await validateCatalogUpdate.executeWithOptions(
        { summary: summaries.validate(request.catalogId, request.imageId) },
        [
          {
            catalogId: request.catalogId,
            imageId: request.imageId,
            citrixPrepared: request.citrixPrepared,
            vdaUpdateDelayMinutes: request.vdaUpdateDelayMinutes,
            deadlineMs: request.deadlineMs,
          },
        ],
      );
      Object.assign(status, {
        catalogName: validation.catalogName,
        imageName: validation.imageName,
        previousImageId: validation.previousImageId,
        catalogState: validation.catalogState,
      });
      if (validation.alreadyCurrent) {
        status.phase = 'alreadyCurrent';
        return result(request, validation, status, 'alreadyCurrent', {
          message: `catalog ${validation.catalogName} already runs image ${validation.imageName}: nothing to do`,
        });
      }

      status.phase = 'posting';
      // Once the post is on its way its outcome must be recorded, cancelled or not: it is what makes a retry safe.
      const postRequest = {
        catalogId: request.catalogId,
        imageId: request.imageId,
        // Citrix requires the flag to match the image; validation read it from the image.
        citrixPrepared: validation.citrixPrepared ?? request.citrixPrepared ?? false,
        vdaUpdateDelayMinutes: request.vdaUpdateDelayMinutes,
        warningTitle: request.warningTitle,
        warningMessage: request.warningMessage,
        transactionId: uuid4(),
        lastModifiedTime: validation.lastModifiedTime,
      };
      const postSummary = summaries.post(validation.imageName, validation.catalogName);
      post = await CancellationScope.nonCancellable(() =>
        postImageUpdate.executeWithOptions({ summary: postSummary }, [postRequest]),
      );
      postedAt = new Date(Date.now()).toISOString();
      log.info('image update posted', { catalogId: request.catalogId, transactionId: post.transactionId });
    }
    Object.assign(status, {
      phase: 'waiting',
      catalogName: validation.catalogName,
      imageName: validation.imageName,
      previousImageId: validation.previousImageId,
      postedAt,
      transactionId: post.transactionId,
    });

    try {
      return await waitForCatalogUpdate(input, request, status, {
        deadlineAtMs,
        startedAtMs,
        validation,
        post,
        postedAt,
        polls: status.polls,
        seenRunning: checkpoint?.seenRunning ?? false,
        lastSeen: checkpoint?.lastSeen ?? { state: validation.catalogState, imageId: validation.previousImageId },
      });
    } catch (error) {
      if (!isCancellation(error)) throw error;
      status.phase = 'watchStopped';
      return result(request, validation, status, 'watchStopped', {
        message:
          `watch stopped on request. Citrix cannot abort an image update: catalog ${validation.catalogName} ` +
          `keeps updating to image ${validation.imageName} (citrix-transactionId ${post.transactionId}); ` +
          `follow it in Citrix Cloud`,
      });
    }
  } catch (error) {
    if (isCancellation(error)) {
      status.phase = 'cancelled';
      throw error;
    }
    status.phase = 'failed';
    const failure = unwrapActivityFailure(error);
    status.lastError = failure instanceof Error ? failure.message : String(failure);
    throw failure;
  }
}

// Under Worker Versioning an update finishes on the build that started it, however long Citrix takes: a new worker
// never replays an update that an older one began.
declareVersioningBehavior('PINNED', updateCatalogImage);

async function waitForCatalogUpdate(
  input: UpdateCatalogImageInput,
  request: UpdateCatalogImageRequest,
  status: CatalogUpdateStatus,
  state: WaitCheckpoint,
): Promise<CatalogUpdateResult> {
  const { validation, post } = state;
  for (;;) {
    const remainingMs = state.deadlineAtMs - Date.now();
    if (remainingMs <= 0) throw deadlineExceeded(request, status);
    const { pollCatalogUpdate } = proxyActivities<Activities>({
      // Each retry of this activity is one poll; the retry policy is the poll loop, bounded by the deadline.
      scheduleToCloseTimeout: remainingMs,
      startToCloseTimeout: '2 minutes',
      heartbeatTimeout: POLL_HEARTBEAT_TIMEOUT,
      cancellationType: ActivityCancellationType.TRY_CANCEL,
      retry: {
        initialInterval: request.pollIntervalMs,
        backoffCoefficient: 1,
        maximumInterval: request.pollIntervalMs,
        nonRetryableErrorTypes: NON_RETRYABLE_FAILURES,
      },
    });

    let report: PollReport;
    try {
      report = await pollCatalogUpdate.executeWithOptions({ summary: summaries.poll(validation.catalogName) }, [
        {
          catalogId: request.catalogId,
          imageId: request.imageId,
          postedAt: state.postedAt,
          pollIntervalMs: request.pollIntervalMs,
          checkInIntervalMs: request.checkInIntervalMs,
          startTimeoutMs: request.startTimeoutMs,
          seenRunning: state.seenRunning,
          lastSeen: state.lastSeen,
          baseline: validation.snapshot,
        },
      ]);
    } catch (error) {
      if (ranOutOfTime(error)) throw deadlineExceeded(request, status, lastAttemptError(error)?.message);
      throw error;
    }

    state.polls += report.polls;
    state.seenRunning = report.seenRunning;
    state.lastSeen = report.snapshot;
    Object.assign(status, {
      polls: state.polls,
      lastPolledAt: report.polledAt,
      catalogState: report.snapshot.state,
      subState: report.snapshot.subState,
      percentComplete: report.snapshot.percentComplete,
      estimatedSecondsLeft: report.estimatedSecondsLeft,
    });

    switch (report.verdict) {
      case 'succeeded': {
        status.phase = 'succeeded';
        const took = `${formatDuration(Date.now() - state.startedAtMs)}, ${state.polls} polls`;
        const pending = machinesPending(request, validation, report.snapshot);
        if (pending) {
          return result(request, validation, status, 'imageAssigned', {
            message: `catalog ${validation.catalogName} has image ${validation.imageName} assigned: ${pending} (${took})`,
          });
        }
        return result(request, validation, status, 'updated', {
          message:
            `catalog ${validation.catalogName} is on image ${validation.imageName} and Citrix restarted its machines ` +
            `onto it (${took})`,
        });
      }
      case 'failed':
        throw updateFailed(request, validation, post, report.snapshot);
      case 'neverStarted':
        throw ApplicationFailure.nonRetryable(
          `Citrix accepted the image update of catalog ${validation.catalogName} (citrix-transactionId ` +
            `${post.transactionId}) but the catalog still shows image ${report.snapshot.imageId ?? 'unknown'} and ` +
            `never started updating within ${formatDuration(request.startTimeoutMs)}: check the catalog in Citrix ` +
            `Cloud before starting again`,
          FailureType.CatalogUpdateNeverStarted,
          report.snapshot,
        );
      case 'inProgress':
        break;
    }

    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof updateCatalogImage>(input, state);
    }
  }
}

function parseRequest(input: UpdateCatalogImageInput): UpdateCatalogImageRequest {
  try {
    return parseUpdateCatalogImageInput(input);
  } catch (error) {
    if (error instanceof InvalidInputError) {
      throw ApplicationFailure.nonRetryable(error.message, FailureType.InvalidInput, error.problems);
    }
    throw error;
  }
}

function result(
  request: UpdateCatalogImageRequest,
  validation: ValidationReport,
  status: CatalogUpdateStatus,
  outcome: CatalogUpdateResult['outcome'],
  { message }: { message: string },
): CatalogUpdateResult {
  log.info(message, { catalogId: request.catalogId, outcome });
  return {
    outcome,
    catalogId: request.catalogId,
    catalogName: validation.catalogName,
    imageId: request.imageId,
    previousImageId: validation.previousImageId,
    transactionId: status.transactionId,
    postedAt: status.postedAt,
    finishedAt: new Date(Date.now()).toISOString(),
    polls: status.polls,
    message,
  };
}

/**
 * Why the catalog's machines do not all run the new image yet, or `undefined` when Citrix restarted them onto it:
 * `vdaUpdateDelay -1` updates each machine at its next shutdown, restarts spread over a delay may still be going on
 * (Citrix shows `PendingVdaUpdate`), and the machines of a persistent catalog keep their old disks.
 */
function machinesPending(
  request: UpdateCatalogImageRequest,
  validation: ValidationReport,
  snapshot: CatalogSnapshot,
): string | undefined {
  if (validation.persistent) {
    return "the catalog keeps its machines' disks, so existing machines stay on their image; new machines get this one";
  }
  if (request.vdaUpdateDelayMinutes === -1) return 'its machines take it at their next restart (vdaUpdateDelay -1)';
  if (snapshot.pendingVdaUpdate) {
    return `its machines restart onto it over ${request.vdaUpdateDelayMinutes} minutes (Citrix shows PendingVdaUpdate)`;
  }
  return undefined;
}

function updateFailed(
  request: UpdateCatalogImageRequest,
  validation: ValidationReport,
  post: PostReport,
  snapshot: CatalogSnapshot,
): ApplicationFailure {
  const state = `${snapshot.state}${snapshot.subState ? ` (SubState ${snapshot.subState})` : ''}`;
  // Each part is bounded by the client already; together they are bounded again, for the failure's message.
  const said = truncateText([snapshot.statusMessage, ...(snapshot.warnings ?? [])].filter(Boolean).join('; '), 1_000);
  const what =
    snapshot.state === 'Error'
      ? `the image update of catalog ${validation.catalogName} failed: state ${state}`
      : snapshot.state === 'Deleting' || snapshot.state === 'NotFound'
        ? `catalog ${validation.catalogName} is being deleted (state ${state}) while its image was updating`
        : `the image update of catalog ${validation.catalogName} failed and Citrix returned it to image ` +
          `${snapshot.imageName ?? snapshot.imageId ?? 'unknown'}, not ${validation.imageName} (state ${state})`;
  // Support traces the post by the id this update sent; the catalog's own id may belong to another deployment.
  const catalogTransaction =
    snapshot.transactionId && snapshot.transactionId !== post.transactionId
      ? `; the catalog's own transactionId is ${snapshot.transactionId}`
      : '';
  return ApplicationFailure.nonRetryable(
    `${what}${said ? `: ${said}` : ''} (citrix-transactionId of the update ${post.transactionId}` +
      `${catalogTransaction}). Fix the cause in Citrix Cloud (for example the image) and start the update again`,
    FailureType.CatalogUpdateFailed,
    { ...snapshot, transactionId: post.transactionId, catalogTransactionId: snapshot.transactionId },
  );
}

function deadlineExceeded(
  request: UpdateCatalogImageRequest,
  status: CatalogUpdateStatus,
  lastError?: string,
): ApplicationFailure {
  const last = status.catalogState
    ? `last seen ${status.catalogState}${status.subState ? ` (${status.subState})` : ''}` +
      `${status.percentComplete !== undefined ? ` at ${status.percentComplete}%` : ''}`
    : 'never read';
  return ApplicationFailure.nonRetryable(
    `catalog ${status.catalogName ?? request.catalogId} did not finish updating within the deadline of ` +
      `${formatDuration(request.deadlineMs)} (${last}${lastError ? `; last error: ${lastError}` : ''}). Citrix may ` +
      `still be updating it: check it in Citrix Cloud, and start again with a longer deadline if needed`,
    FailureType.DeadlineExceeded,
    { ...status },
  );
}
