/** Starting, finding and cancelling the image update of one catalog. */
import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  type WorkflowHandle,
} from '@temporalio/client';
import { isGuid, sameId } from '../citrix/ids';
import {
  InvalidInputError,
  type UpdateCatalogImageInput,
  type UpdateCatalogImageRequest,
  catalogUpdateWorkflowId,
  deadlineProblem,
  parseUpdateCatalogImageInput,
} from '../shared';
import { SearchAttributes } from '../shared/rollout';
import type { updateCatalogImage } from '../workflows';
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

/** The fields whose values differ, `requestedBy` aside (who asks does not change what happens). */
function differences(asked: UpdateCatalogImageRequest, running: Partial<UpdateCatalogImageRequest>): string[] {
  return (Object.keys(asked) as Array<keyof UpdateCatalogImageRequest>).filter(
    (key) =>
      key !== 'requestedBy' &&
      key !== 'catalogId' &&
      key !== 'imageId' &&
      running[key] !== undefined &&
      JSON.stringify(running[key]) !== JSON.stringify(asked[key]),
  );
}

/**
 * Starts the update of one catalog under the catalog's own workflow id. A second start for a catalog that is already
 * updating attaches to the running update when it targets the same image, and is refused otherwise: a catalog is
 * never posted to twice.
 */
export async function startCatalogUpdate(
  client: Client,
  taskQueue: string,
  input: UpdateCatalogImageInput,
): Promise<StartedUpdate> {
  const request = parseUpdateRequest(input);
  const workflowId = catalogUpdateWorkflowId(request.catalogId);
  try {
    const handle = await client.workflow.start<typeof updateCatalogImage>('updateCatalogImage', {
      taskQueue,
      workflowId,
      args: [request],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      // What `list --catalog` and `--image` (and the Temporal UI's queries) find an update by.
      typedSearchAttributes: [
        { key: SearchAttributes.CatalogId, value: request.catalogId },
        { key: SearchAttributes.ImageId, value: request.imageId },
      ],
      memo: { catalogId: request.catalogId, imageId: request.imageId },
      // What the Temporal UI and `temporal workflow describe` show for the update.
      staticSummary: `catalog ${request.catalogId} → image ${request.imageId}`,
      staticDetails: updateDetails(request),
    });
    return { handle, attached: false, ignored: [] };
  } catch (error) {
    if (isMissingSearchAttribute(error)) {
      throw new SearchAttributesMissingError(client.options.namespace, undefined, error);
    }
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    const handle = client.workflow.getHandle<typeof updateCatalogImage>(workflowId);
    const running = await handle.describe();
    const runningImage = (running.memo as { imageId?: string } | undefined)?.imageId;
    if (!sameId(runningImage, request.imageId)) {
      throw new CatalogBusyError(
        `catalog ${request.catalogId} is already being updated to image ${runningImage ?? 'unknown'} by workflow ` +
          `${workflowId}: wait for it to finish ("status ${workflowId}") or cancel it ("cancel ${workflowId}") first`,
      );
    }
    const runningInput = (await recordedInput(client, workflowId, running.runId).catch(() => undefined)) as
      Partial<UpdateCatalogImageRequest> | undefined;
    return { handle, attached: true, ignored: runningInput ? differences(request, runningInput) : [] };
  }
}
