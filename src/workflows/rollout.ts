import { ApplicationFailure, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  ChildWorkflowFailure,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  executeChild,
  log,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { RolloutEvent } from '../activities/rollout';
import {
  type CatalogUpdateResult,
  FailureType,
  InvalidInputError,
  NON_RETRYABLE_FAILURES,
  catalogUpdateWorkflowId,
} from '../shared';
import {
  type CatalogRolloutProgress,
  type RolloutInput,
  type RolloutPhase,
  type RolloutProgress,
  type RolloutRequest,
  SearchAttributes,
  planWaves,
  parseRolloutInput,
} from '../shared/rollout';
import { updateCatalogImage } from './update-catalog-image';

export const progressQuery = defineQuery<RolloutProgress>('progress');
/** Finish the catalogs in flight, start no new ones until `resume`. */
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
/** Start no more catalogs; those in flight are watched to the end and reported. */
export const abortSignal = defineSignal<[{ reason?: string; by?: string }?]>('abort');
/** Abort, then return the catalogs this rollout moved to the image each had before. */
export const rollbackSignal = defineSignal<[{ by?: string }?]>('rollback');
/** Let the wave that waits for approval start; records who approved. */
export const approveUpdate = defineUpdate<{ wave: number; approvedBy: string }, [{ by: string; comment?: string }]>(
  'approve',
);

/** What a run hands to the next one when the rollout continues as new between waves. */
export interface RolloutCheckpoint {
  progress: RolloutProgress;
  aborted: boolean;
  rollbackRequested: boolean;
}

const { resolveRolloutTargets, loadRolloutToRestore, maintenanceWindowStatus } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  scheduleToCloseTimeout: '15 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', nonRetryableErrorTypes: NON_RETRYABLE_FAILURES },
});

const { notifyRollout } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3, initialInterval: '2 seconds' },
});

/**
 * Rolls one image out to many catalogs in waves: a canary first, then batches, each catalog a child
 * `updateCatalogImage` under the catalog's own workflow id, so that no catalog is updated by two rollouts at once.
 * Between waves: optional approval, bake time and a maintenance window; any failure beyond the budget halts it.
 */
export async function rolloutImage(input: RolloutInput, checkpoint?: RolloutCheckpoint): Promise<RolloutProgress> {
  let request: RolloutRequest;
  try {
    request = parseRolloutInput(input);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    throw ApplicationFailure.nonRetryable(error.message, FailureType.InvalidInput, error.problems);
  }
  const rolloutId = request.rolloutId ?? workflowInfo().workflowId;
  const now = () => new Date(Date.now()).toISOString();

  const progress: RolloutProgress = checkpoint?.progress ?? {
    rolloutId,
    imageId: request.imageId,
    phase: 'resolving',
    dryRun: request.dryRun,
    paused: false,
    currentWave: 0,
    waves: [],
    catalogs: [],
    failures: 0,
    skipped: [],
    startedAt: now(),
  };
  let aborted = checkpoint?.aborted ?? false;
  let rollbackRequested = checkpoint?.rollbackRequested ?? false;
  const catalog = new Map(progress.catalogs.map((c) => [c.catalogId, c]));
  const halted = () => progress.failures > request.failureBudget;
  const stopStarting = () => aborted || halted();

  setHandler(progressQuery, () => progress);
  setHandler(pauseSignal, () => void (progress.paused = true));
  setHandler(resumeSignal, () => void (progress.paused = false));
  setHandler(abortSignal, (details) => {
    aborted = true;
    progress.reason ??= `aborted by ${details?.by ?? 'an operator'}${details?.reason ? `: ${details.reason}` : ''}`;
  });
  setHandler(rollbackSignal, (details) => {
    aborted = true;
    rollbackRequested = true;
    progress.reason ??= `rollback requested by ${details?.by ?? 'an operator'}`;
  });
  setHandler(
    approveUpdate,
    ({ by }) => {
      const wave = progress.waves[progress.currentWave]!;
      wave.approvedBy = by;
      wave.approvedAt = now();
      return { wave: wave.index, approvedBy: by };
    },
    {
      validator: ({ by }) => {
        if (progress.phase !== 'awaitingApproval')
          throw new Error(`nothing awaits approval: the rollout is ${progress.phase}`);
        if (!by?.trim()) throw new Error('say who approves');
      },
    },
  );

  function setPhase(phase: RolloutPhase): void {
    if (progress.phase === phase) return;
    progress.phase = phase;
    // Scheduled runs are started without a RolloutId (their id is only known at run time): set both each time.
    upsertSearchAttributes([
      { key: SearchAttributes.RolloutId, value: rolloutId },
      { key: SearchAttributes.RolloutPhase, value: phase },
    ]);
  }

  async function notify(event: RolloutEvent, text: string): Promise<void> {
    if (!request.notify || request.dryRun) return;
    try {
      await notifyRollout({ event, rolloutId, text });
    } catch (error) {
      // A notification that cannot be delivered never fails the rollout.
      log.warn('notification not delivered', { event, error: (error as Error).message });
    }
  }

  /** Sleeps until `ms` from now, or until an abort: a long wait must not hold an abort back. */
  async function waitUnlessAborted(ms: number): Promise<void> {
    if (ms > 0) await condition(() => aborted, ms);
  }

  async function waitForWindow(): Promise<void> {
    const window = request.maintenanceWindow;
    while (window && !aborted) {
      const status = await maintenanceWindowStatus(window);
      if (status.open) break;
      setPhase('waitingForWindow');
      progress.waitingUntil = new Date(Date.now() + (status.opensInMs ?? 0)).toISOString();
      await waitUnlessAborted(status.opensInMs ?? 0);
    }
    progress.waitingUntil = undefined;
  }

  const childInput = (catalogId: string, imageId: string) => ({
    catalogId,
    imageId,
    citrixPrepared: request.citrixPrepared,
    vdaUpdateDelayMinutes: request.vdaUpdateDelayMinutes,
    warningTitle: request.warningTitle,
    warningMessage: request.warningMessage,
    pollIntervalMs: request.pollIntervalMs,
    deadlineMs: request.catalogDeadlineMs,
    requestedBy: request.requestedBy ?? `rollout ${rolloutId}`,
  });

  /** Runs one catalog update as a child; resolves with its result, or with the reason it did not succeed. */
  async function updateCatalog(
    entry: CatalogRolloutProgress,
    imageId: string,
  ): Promise<{ result?: CatalogUpdateResult; error?: CatalogRolloutProgress['error'] }> {
    entry.workflowId = catalogUpdateWorkflowId(entry.catalogId);
    try {
      const result = await executeChild(updateCatalogImage, {
        workflowId: entry.workflowId,
        args: [childInput(entry.catalogId, imageId)],
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
            type: 'CatalogBusy',
            message: `another update of this catalog is running (${entry.workflowId}); this rollout left it alone`,
          },
        };
      }
      if (error instanceof ChildWorkflowFailure && error.cause) {
        const cause = error.cause as Error & { type?: string };
        return { error: { type: cause.type ?? cause.name, message: cause.message } };
      }
      throw error;
    }
  }

  /** Runs `work` for each id, at most `maxParallel` at a time, while `keepGoing` holds and the rollout is not paused. */
  async function inParallel(ids: string[], keepGoing: () => boolean, work: (id: string) => Promise<void>) {
    const running = new Set<Promise<void>>();
    for (const id of ids) {
      await condition(() => !keepGoing() || (!progress.paused && running.size < request.maxParallel));
      if (!keepGoing()) break;
      const task: Promise<void> = work(id).finally(() => running.delete(task));
      running.add(task);
    }
    await Promise.all(running);
  }

  async function runWave(index: number): Promise<void> {
    const wave = progress.waves[index]!;
    await inParallel(
      wave.catalogIds,
      () => !stopStarting(),
      async (catalogId) => {
        const entry = catalog.get(catalogId)!;
        entry.state = 'running';
        entry.startedAt = now();
        const { result, error } = await updateCatalog(entry, entry.targetImageId ?? progress.imageId!);
        entry.finishedAt = now();
        if (result) {
          entry.state = result.outcome === 'updated' ? 'updated' : result.outcome;
          entry.catalogName = result.catalogName;
          entry.previousImageId = result.previousImageId;
          entry.transactionId = result.transactionId;
          return;
        }
        entry.state = 'failed';
        entry.error = error;
        progress.failures += 1;
        await notify('catalogFailed', `catalog ${entry.catalogName ?? catalogId} failed: ${error?.message}`);
        if (halted() && !progress.reason) {
          progress.reason =
            `${progress.failures} catalog(s) failed, more than the failure budget of ${request.failureBudget} ` +
            `(last: ${entry.catalogName ?? catalogId}: ${error?.message})`;
        }
      },
    );
  }

  async function rollBack(): Promise<void> {
    const moved = progress.catalogs.filter((c) => c.state === 'updated' && c.previousImageId);
    if (moved.length === 0) return;
    setPhase('rollingBack');
    await inParallel(
      moved.map((c) => c.catalogId),
      () => true,
      async (catalogId) => {
        const entry = catalog.get(catalogId)!;
        entry.state = 'rollingBack';
        const { result, error } = await updateCatalog(entry, entry.previousImageId!);
        entry.state = result ? 'rolledBack' : 'rollbackFailed';
        if (error) entry.error = error;
        entry.finishedAt = now();
      },
    );
  }

  function setPlan(waves: string[][], entry: (catalogId: string, wave: number) => CatalogRolloutProgress): void {
    progress.waves = waves.map((catalogIds, index) => ({ index, catalogIds, state: 'pending' }));
    progress.catalogs = waves.flatMap((ids, wave) => ids.map((catalogId) => entry(catalogId, wave)));
    for (const item of progress.catalogs) catalog.set(item.catalogId, item);
  }

  async function planRollout(): Promise<void> {
    const resolved = await resolveRolloutTargets({
      imageId: request.imageId,
      imageNamePattern: request.imageNamePattern,
      catalogIds: request.catalogIds ?? request.waves?.flat(),
      allCatalogs: request.allCatalogs,
      catalogNamePattern: request.catalogNamePattern,
      excludeCatalogIds: request.excludeCatalogIds,
    });
    progress.imageId = resolved.imageId;
    progress.imageName = resolved.imageName;
    progress.skipped = resolved.skipped;
    const targets = new Map(resolved.targets.map((t) => [t.catalogId, t]));
    setPlan(planWaves([...targets.keys()], request), (catalogId, wave) => {
      const target = targets.get(catalogId)!;
      const entry: CatalogRolloutProgress = {
        catalogId,
        catalogName: target.catalogName,
        wave,
        state: 'pending',
        previousImageId: target.imageId,
      };
      if (request.dryRun && target.imageId?.toLowerCase() === resolved.imageId.toLowerCase()) {
        entry.state = 'alreadyCurrent';
      } else if (request.dryRun && target.state !== 'Active' && target.state !== 'InputRequired') {
        entry.state = 'notStarted';
        entry.error = { type: FailureType.CatalogNotReady, message: `catalog is ${target.state}: it would fail` };
      }
      return entry;
    });
  }

  /** The catalogs an earlier rollout moved, each back to the image it had before. */
  async function planRestore(restoreRolloutId: string): Promise<void> {
    const restore = new Map((await loadRolloutToRestore(restoreRolloutId)).map((t) => [t.catalogId, t]));
    progress.restoreOf = restoreRolloutId;
    progress.imageName = `the image each catalog ran before rollout ${restoreRolloutId}`;
    setPlan(planWaves([...restore.keys()], request), (catalogId, wave) => ({
      catalogId,
      catalogName: restore.get(catalogId)!.catalogName,
      wave,
      state: 'pending',
      targetImageId: restore.get(catalogId)!.restoreImageId,
    }));
  }

  if (!checkpoint) {
    if (request.startAt) {
      setPhase('waitingForStart');
      progress.waitingUntil = request.startAt;
      await waitUnlessAborted(Date.parse(request.startAt) - Date.now());
      progress.waitingUntil = undefined;
    }
    setPhase('resolving');
    if (request.restoreRolloutId) await planRestore(request.restoreRolloutId);
    else await planRollout();
    if (request.dryRun) {
      setPhase('planned');
      progress.finishedAt = now();
      return progress;
    }
  }

  while (progress.currentWave < progress.waves.length && !stopStarting()) {
    const wave = progress.waves[progress.currentWave]!;
    await condition(() => !progress.paused || aborted);
    await waitForWindow();
    const needsApproval = request.approval === 'everyWave' || (request.approval === 'afterCanary' && wave.index === 1);
    if (needsApproval && !wave.approvedBy && !aborted) {
      setPhase('awaitingApproval');
      await notify('approvalNeeded', `wave ${wave.index + 1} of ${progress.waves.length} waits for approval`);
      await condition(() => wave.approvedBy !== undefined || aborted);
    }
    if (aborted) break;

    setPhase('running');
    wave.state = 'running';
    wave.startedAt = now();
    await notify(
      'waveStarted',
      `wave ${wave.index + 1} of ${progress.waves.length} started (${wave.catalogIds.length} catalogs)`,
    );
    await runWave(wave.index);
    wave.finishedAt = now();
    wave.state = halted() ? 'halted' : 'done';
    if (stopStarting()) break;
    progress.currentWave += 1;

    if (request.bakeTimeMs > 0 && progress.currentWave < progress.waves.length) {
      setPhase('baking');
      progress.waitingUntil = new Date(Date.now() + request.bakeTimeMs).toISOString();
      await waitUnlessAborted(request.bakeTimeMs);
      progress.waitingUntil = undefined;
    }
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof rolloutImage>(input, { progress, aborted, rollbackRequested });
    }
  }

  for (const entry of progress.catalogs) if (entry.state === 'pending') entry.state = 'notStarted';
  if (rollbackRequested || (halted() && request.rollbackOnHalt)) await rollBack();
  progress.finishedAt = now();

  if (halted()) {
    setPhase('halted');
    await notify('halted', `rollout halted: ${progress.reason}`);
    throw ApplicationFailure.nonRetryable(`rollout ${rolloutId} halted: ${progress.reason}`, 'RolloutHalted', progress);
  }
  if (aborted) {
    setPhase('aborted');
    await notify('aborted', `rollout ${progress.reason}`);
    return progress;
  }
  setPhase('completed');
  const updated = progress.catalogs.filter((c) => c.state === 'updated').length;
  await notify('completed', `rollout completed: ${updated} catalog(s) updated to ${progress.imageName}`);
  return progress;
}
