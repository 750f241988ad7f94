import { activityInfo, log, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { type CitrixClient, CitrixError } from '../citrix';
import { FailureType } from '../shared';
import { adviceForState, decidePost, describeCatalog, describeState } from './catalog-rules';
import { errorDetails, toApplicationFailure } from './citrix-failures';
import { readCatalog } from './read-catalog';

export interface PostActivityDependencies {
  citrix: CitrixClient;
  /**
   * When a post is retried after an unknown outcome and the catalog still looks untouched, wait this long and read it
   * again before posting: Citrix keeps showing the old state for a while after it accepted an update.
   * @default 30_000
   */
  postRetrySettleMs?: number;
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

export function createPostActivity({ citrix, postRetrySettleMs = 30_000 }: PostActivityDependencies) {
  return {
    /**
     * Posts `$updateImage` at most once per update: every attempt reads the catalog first and treats a running update
     * (or the target image already in place) as already posted. A retry after an unknown outcome also waits out
     * Citrix's lag before it concludes that nothing was sent.
     */
    async postImageUpdate(request: PostRequest): Promise<PostReport> {
      const { attempt } = activityInfo();
      const posted = (alreadyPosted: boolean): PostReport => ({ transactionId: request.transactionId, alreadyPosted });
      const post = { imageId: request.imageId, transactionId: request.transactionId, attempt };

      let catalog = await readCatalog(citrix, request.catalogId);
      let decision = decidePost({ ...post, catalog, afterSettle: false });
      if (decision === 'settleFirst') {
        log.info('post retried after an unknown outcome; waiting for Citrix to show an accepted update', {
          catalogId: request.catalogId,
          attempt,
          settleMs: postRetrySettleMs,
        });
        await sleep(postRetrySettleMs);
        catalog = await readCatalog(citrix, request.catalogId);
        decision = decidePost({ ...post, catalog, afterSettle: true });
      }
      if (decision === 'alreadyPosted') return posted(true);
      if (decision === 'catalogNotReady') {
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
  };
}
