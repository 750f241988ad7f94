/** Starting, finding and cancelling the image update of one catalog. */
import { randomUUID } from 'node:crypto';
import {
  type Client,
  WithStartWorkflowOperation,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  type WorkflowHandle,
  WorkflowUpdateStage,
} from '@temporalio/client';
import { isGuid, sameId } from '../citrix/ids';
import {
  type AttachOutcome,
  FailureType,
  InvalidInputError,
  type UpdateCatalogImageInput,
  type UpdateCatalogImageRequest,
  catalogUpdateWorkflowId,
  deadlineProblem,
  optionsDiffering,
  parseUpdateCatalogImageInput,
} from '../shared';
import { SearchAttributes } from '../shared/rollout';
import { attachUpdate, type updateCatalogImage } from '../workflows';
import { updateRefusal } from './failures';
import { recordedInput } from './history';
import { SearchAttributesMissingError, isMissingSearchAttribute } from './search-attributes';

export class CatalogBusyError extends Error {
  override name = 'CatalogBusyError';
}

export type UpdateHandle = WorkflowHandle<typeof updateCatalogImage>;

export interface StartedUpdate {
  handle: UpdateHandle;
  /** An update of the same catalog to the same image was already running; this handle is that one. */
  attached: boolean;
  /**
   * Options of this request that differ from the running update's, which goes on with its own (input fields, such
   * as `deadlineMs`): attaching never changes an update in flight.
   */
  ignored: string[];
  /** What the update answered the start with: the post's transaction id, or how it ended without a post. */
  outcome?: AttachOutcome;
}

/** Validates an update's input as the workflow will, including whether its deadline leaves room for the restarts. */
export function parseUpdateRequest(input: unknown): UpdateCatalogImageRequest {
  const request = parseUpdateCatalogImageInput(input);
  const delayProblem = deadlineProblem(request);
  if (delayProblem) throw new InvalidInputError([delayProblem]);
  return request;
}

/** A catalog id stands for the catalog's update workflow; anything else is a workflow id. */
export function updateWorkflowIdFor(idOrCatalog: string): string {
  return isGuid(idOrCatalog) ? catalogUpdateWorkflowId(idOrCatalog) : idOrCatalog;
}

export function updateHandle(client: Client, idOrCatalog: string): UpdateHandle {
  return client.workflow.getHandle<typeof updateCatalogImage>(updateWorkflowIdFor(idOrCatalog));
}

function updateDetails(request: UpdateCatalogImageRequest): string {
  const restarts =
    request.vdaUpdateDelayMinutes === 0
      ? 'machines restart at once'
      : request.vdaUpdateDelayMinutes > 0
        ? `machines restart over ${request.vdaUpdateDelayMinutes} minutes`
        : 'machines take the image at their next restart';
  return [
    `Image update of catalog ${request.catalogId} to image ${request.imageId}: ${restarts}.`,
    `Deadline ${Math.round(request.deadlineMs / 60_000)} minutes, catalog read every ${request.pollIntervalMs / 1000} s.`,
    request.requestedBy ? `Requested by ${request.requestedBy}.` : '',
  ]
    .filter(Boolean)
    .join('\n');
}

/**
 * How long a start waits for a worker to take it. The server holds an unaccepted start for 20 s when no worker polls
 * the task queue; past this the start is known from the workflow's memo instead, so that it never hangs.
 */
const ACCEPT_WAIT_MS = 5_000;

/**
 * Starts the update of one catalog under the catalog's own workflow id, as one Update-with-Start: a second start for
 * a catalog that is already updating joins the running update when it targets the same image and is refused
 * otherwise, atomically, so a catalog is never posted to twice. With `postWaitMs` it answers once the update posted
 * (with the post's transaction id) or ended without posting, or when that time passed.
 */
export async function startCatalogUpdate(
  client: Client,
  taskQueue: string,
  input: UpdateCatalogImageInput,
  options: {
    /** How long to wait for the post's transaction id; 0 answers as soon as the update took the start. @default 0 */
    postWaitMs?: number;
  } = {},
): Promise<StartedUpdate> {
  const request = parseUpdateRequest(input);
  const workflowId = catalogUpdateWorkflowId(request.catalogId);
  const startRequestId = randomUUID();
  const postWaitMs = options.postWaitMs ?? 0;
  const startOperation = new WithStartWorkflowOperation<typeof updateCatalogImage>('updateCatalogImage', {
    taskQueue,
    workflowId,
    args: [request],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    // What `list --catalog` and `--image` (and the Temporal UI's queries) find an update by.
    typedSearchAttributes: [
      { key: SearchAttributes.CatalogId, value: request.catalogId },
      { key: SearchAttributes.ImageId, value: request.imageId },
    ],
    memo: { catalogId: request.catalogId, imageId: request.imageId, startRequestId },
    // What the Temporal UI and `temporal workflow describe` show for the update.
    staticSummary: `catalog ${request.catalogId} → image ${request.imageId}`,
    staticDetails: updateDetails(request),
  });
  const notAccepted = new AbortController();
  const acceptTimer = setTimeout(() => notAccepted.abort(), ACCEPT_WAIT_MS);
  let outcome: AttachOutcome | undefined;
  try {
    const accepted = await client.withAbortSignal(notAccepted.signal, () =>
      client.workflow.startUpdateWithStart(attachUpdate, {
        args: [{ imageId: request.imageId, startRequestId, request, waitForPost: postWaitMs > 0 }],
        waitForStage: WorkflowUpdateStage.ACCEPTED,
        startWorkflowOperation: startOperation,
      }),
    );
    clearTimeout(acceptTimer);
    outcome = await withTimeout(accepted.result(), Math.max(postWaitMs, ACCEPT_WAIT_MS));
  } catch (error) {
    if (isMissingSearchAttribute(error)) {
      throw new SearchAttributesMissingError(client.options.namespace, undefined, error);
    }
    const refusal = updateRefusal(error);
    if (refusal?.type === FailureType.CatalogBusy) throw new CatalogBusyError(refusal.message, { cause: error });
    // Else no worker took the start in time, the running update is of a release without the attach handler, or the
    // update ended before it answered: the workflow's memo tells whether this start made it, or whom it joins.
    if (!refusal && !notAccepted.signal.aborted) throw error;
  } finally {
    clearTimeout(acceptTimer);
  }
  if (!outcome) return startedByMemo(client, workflowId, request, startRequestId);
  return {
    handle: await startOperation.workflowHandle(),
    attached: outcome.attached,
    ignored: outcome.ignored,
    outcome,
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** What the workflow's memo says of a start whose update did not answer: made by it, joined, or refused. */
async function startedByMemo(
  client: Client,
  workflowId: string,
  request: UpdateCatalogImageRequest,
  startRequestId: string,
): Promise<StartedUpdate> {
  const handle = client.workflow.getHandle<typeof updateCatalogImage>(workflowId);
  const running = await handle.describe();
  const memo = running.memo as { imageId?: string; startRequestId?: string } | undefined;
  if (memo?.startRequestId === startRequestId) return { handle, attached: false, ignored: [] };
  if (!sameId(memo?.imageId, request.imageId)) {
    throw new CatalogBusyError(
      `catalog ${request.catalogId} is already being updated to image ${memo?.imageId ?? 'unknown'} by workflow ` +
        `${workflowId}: wait for it to finish ("status ${workflowId}") or cancel it ("cancel ${workflowId}") first`,
    );
  }
  const runningInput = (await recordedInput(client, workflowId, running.runId).catch(() => undefined)) as
    Partial<UpdateCatalogImageRequest> | undefined;
  return { handle, attached: true, ignored: runningInput ? optionsDiffering(request, runningInput) : [] };
}
