/** The `attach` update: how a start joins, or is refused by, the update already running for its catalog. */
import { ApplicationFailure, condition, defineUpdate, setHandler, workflowInfo } from '@temporalio/workflow';
import { sameId } from '../citrix/ids';
import {
  type AttachOutcome,
  type AttachRequest,
  type CatalogUpdatePhase,
  type CatalogUpdateStatus,
  FailureType,
  type UpdateCatalogImageInput,
  type UpdateCatalogImageRequest,
  optionsDiffering,
} from '../shared';

/**
 * A start of this catalog's update, sent with the start itself (Update-with-Start): refused when the update runs to
 * another image, else answered once the update is posted (with the post's transaction id) or ended without a post.
 */
export const attachUpdate = defineUpdate<AttachOutcome, [AttachRequest]>('attach');

/** Phases after which the update posts nothing more: an attach waiting for the post answers then. */
const POSTLESS_ENDS: ReadonlySet<CatalogUpdatePhase> = new Set([
  'alreadyCurrent',
  'failed',
  'cancelled',
  'watchStopped',
  'succeeded',
]);

export function handleAttach(input: UpdateCatalogImageInput, status: CatalogUpdateStatus): void {
  setHandler(
    attachUpdate,
    async ({ startRequestId, request, waitForPost }) => {
      if (waitForPost) await condition(() => status.transactionId !== undefined || POSTLESS_ENDS.has(status.phase));
      const memo = workflowInfo().memo as { startRequestId?: unknown } | undefined;
      return {
        attached: memo?.startRequestId !== startRequestId,
        ignored: request ? optionsDiffering(request, input as Partial<UpdateCatalogImageRequest>) : [],
        phase: status.phase,
        transactionId: status.transactionId,
        catalogName: status.catalogName,
        imageName: status.imageName,
      };
    },
    {
      validator: ({ imageId, startRequestId }) => {
        if (typeof startRequestId !== 'string' || startRequestId.length > 64)
          throw new Error('startRequestId must be a string of at most 64 characters');
        if (!sameId(imageId, status.imageId)) {
          throw ApplicationFailure.nonRetryable(
            `catalog ${status.catalogName ?? status.catalogId} is already being updated to image ` +
              `${status.imageName ?? status.imageId} by workflow ${workflowInfo().workflowId}: wait for it to ` +
              `finish ("status ${workflowInfo().workflowId}") or cancel it ("cancel ${workflowInfo().workflowId}") first`,
            FailureType.CatalogBusy,
          );
        }
      },
    },
  );
}
