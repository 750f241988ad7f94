import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ChildWorkflowFailure, ParentClosePolicy, condition, executeChild } from '@temporalio/workflow';
import { type CatalogUpdateResult, FailureType, catalogUpdateWorkflowId } from '../shared';
import {
  type CatalogRolloutProgress,
  ROLLOUT_LIMITS,
  SearchAttributes,
  movedByRollout,
  truncateText,
} from '../shared/rollout';
import type { RolloutNotifier } from './rollout-notifications';
import { type RolloutRun, now } from './rollout-run';
import { updateCatalogImage } from './update-catalog-image';

const { nameChars, messageChars } = ROLLOUT_LIMITS;

/** Updates the catalogs of one wave, until they are done or the rollout stops starting new ones. */
export async function runWave(run: RolloutRun, notifier: RolloutNotifier, index: number): Promise<void> {
  const { progress, request } = run;
  const wave = progress.waves[index]!;
  await inParallel(
    run,
    wave.catalogIds,
    () => !run.stopStarting(),
    async (catalogId) => {
      const entry = run.catalogById.get(catalogId)!;
      entry.state = 'running';
      entry.startedAt = now();
      run.refreshDetails();
      const { result, error } = await updateCatalog(run, entry, entry.targetImageId ?? progress.imageId!);
      entry.finishedAt = now();
      if (result) {
        entry.state = result.outcome;
        entry.catalogName = truncateText(result.catalogName, nameChars);
        entry.previousImageId = result.previousImageId;
        entry.transactionId = result.transactionId;
        run.refreshDetails();
        return;
      }
      entry.state = 'failed';
      entry.error = error;
      progress.failures += 1;
      run.listError(entry);
      run.refreshDetails();
      await notifier.notify('catalogFailed', `catalog ${entry.catalogName ?? catalogId} failed: ${error?.message}`);
      if (run.halted() && !progress.reason) {
        progress.reason =
          `${progress.failures} catalog(s) failed, more than the failure budget of ${request.failureBudget} ` +
          `(last: ${entry.catalogName ?? catalogId}: ${error?.message})`;
      }
    },
  );
}

/** Returns every catalog this rollout moved to the image it had before. */
export async function rollBack(run: RolloutRun): Promise<void> {
  const moved = run.progress.catalogs.filter((c) => movedByRollout(c.state) && c.previousImageId);
  if (moved.length === 0) return;
  run.setPhase('rollingBack');
  await inParallel(
    run,
    moved.map((c) => c.catalogId),
    () => true,
    async (catalogId) => {
      const entry = run.catalogById.get(catalogId)!;
      entry.state = 'rollingBack';
      const { result, error } = await updateCatalog(run, entry, entry.previousImageId!);
      entry.state = result ? 'rolledBack' : 'rollbackFailed';
      entry.finishedAt = now();
      if (!error) return;
      entry.error = error;
      run.listError(entry);
    },
  );
}

/** Runs `work` for each id, at most `maxParallel` at a time, while `keepGoing` holds and the rollout is not paused. */
async function inParallel(
  run: RolloutRun,
  ids: string[],
  keepGoing: () => boolean,
  work: (id: string) => Promise<void>,
): Promise<void> {
  const running = new Set<Promise<void>>();
  for (const id of ids) {
    await condition(() => !keepGoing() || (!run.progress.paused && running.size < run.request.maxParallel));
    if (!keepGoing()) break;
    const task: Promise<void> = work(id).finally(() => running.delete(task));
    running.add(task);
  }
  await Promise.all(running);
}

/** Runs one catalog update as a child; resolves with its result, or with the reason it did not succeed. */
async function updateCatalog(
  run: RolloutRun,
  entry: CatalogRolloutProgress,
  imageId: string,
): Promise<{ result?: CatalogUpdateResult; error?: CatalogRolloutProgress['error'] }> {
  const { rolloutId } = run;
  entry.workflowId = catalogUpdateWorkflowId(entry.catalogId);
  try {
    const result = await executeChild(updateCatalogImage, {
      workflowId: entry.workflowId,
      args: [childInput(run, entry.catalogId, imageId)],
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      typedSearchAttributes: [
        { key: SearchAttributes.CatalogId, value: entry.catalogId },
        { key: SearchAttributes.ImageId, value: imageId },
        { key: SearchAttributes.RolloutId, value: rolloutId },
      ],
      memo: { catalogId: entry.catalogId, imageId, rolloutId },
    });
    return { result };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      return {
        error: {
          type: FailureType.CatalogBusy,
          message: `another update of this catalog is running (${entry.workflowId}); this rollout left it alone`,
        },
      };
    }
    if (error instanceof ChildWorkflowFailure && error.cause) {
      const cause = error.cause as Error & { type?: string };
      return { error: { type: cause.type ?? cause.name, message: truncateText(cause.message, messageChars) } };
    }
    throw error;
  }
}

function childInput({ request, rolloutId }: RolloutRun, catalogId: string, imageId: string) {
  return {
    catalogId,
    imageId,
    citrixPrepared: request.citrixPrepared,
    vdaUpdateDelayMinutes: request.vdaUpdateDelayMinutes,
    warningTitle: request.warningTitle,
    warningMessage: request.warningMessage,
    pollIntervalMs: request.pollIntervalMs,
    deadlineMs: request.catalogDeadlineMs,
    requestedBy: request.requestedBy ?? `rollout ${rolloutId}`,
  };
}
