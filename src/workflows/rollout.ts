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
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ResolvedTargets, RestoreTargets, RolloutEvent, RolloutTarget } from '../activities/rollout';
import {
  type CatalogUpdateResult,
  FailureType,
  InvalidInputError,
  NON_RETRYABLE_FAILURES,
  catalogUpdateWorkflowId,
} from '../shared';
import {
  type CatalogRolloutProgress,
  type LegacyRolloutProgress,
  type ProgressPageRequest,
  ROLLOUT_LIMITS,
  type RolloutInput,
  type RolloutPhase,
  type RolloutProgress,
  type RolloutRequest,
  type RolloutResult,
  type RolloutState,
  SearchAttributes,
  movedByRollout,
  planWaves,
  parseRolloutInput,
  progressPage,
  stateFromLegacy,
  stateFromResult,
  toResult,
  truncateText,
} from '../shared/rollout';
import { unwrapActivityFailure } from './failures';
import { updateCatalogImage } from './update-catalog-image';

/** The summary and one page of catalogs (the first `ROLLOUT_LIMITS.pageSize` unless asked otherwise). */
export const progressQuery = defineQuery<RolloutProgress, [ProgressPageRequest?]>('progress');
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
  /** The rollout so far, in the compact form of its result. */
  result: RolloutResult;
  aborted: boolean;
  rollbackRequested: boolean;
}

/** The checkpoint that rollouts started before compact results hand on: the whole state as it was. */
interface LegacyCheckpoint {
  progress: LegacyRolloutProgress;
  aborted: boolean;
  rollbackRequested: boolean;
}

/**
 * Rollouts started since this patch validate the size limits of `ROLLOUT_LIMITS`, and send notifications without
 * waiting for them in a catalog's slot or before the next step; runs recorded before it replay as they were.
 */
const BOUNDED_ROLLOUT_PATCH = 'bounded-rollout-state';

const { resolveRolloutTargets, loadRolloutToRestore, maintenanceWindowStatus } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  scheduleToCloseTimeout: '15 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', nonRetryableErrorTypes: NON_RETRYABLE_FAILURES },
});

const { notifyRollout } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  // The activity heartbeats, so that a cancelled rollout abandons a slow receiver within seconds (the SDK sends a
  // heartbeat at most every 80 % of this, and the cancel arrives with the answer to one).
  heartbeatTimeout: '5 seconds',
  retry: { maximumAttempts: 3, initialInterval: '2 seconds' },
});

/**
 * Rolls one image out to many catalogs in waves: a canary first, then batches, each catalog a child
 * `updateCatalogImage` under the catalog's own workflow id, so that no catalog is updated by two rollouts at once.
 * Between waves: optional approval, bake time and a maintenance window; any failure beyond the budget halts it.
 */
export async function rolloutImage(
  input: RolloutInput,
  checkpoint?: RolloutCheckpoint | LegacyCheckpoint,
): Promise<RolloutResult> {
  const bounded = checkpoint ? 'result' in checkpoint : patched(BOUNDED_ROLLOUT_PATCH);
  let request: RolloutRequest;
  try {
    request = parseRolloutInput(input, { limits: bounded });
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    throw ApplicationFailure.nonRetryable(error.message, FailureType.InvalidInput, error.problems);
  }
  const rolloutId = request.rolloutId ?? workflowInfo().workflowId;
  const now = () => new Date(Date.now()).toISOString();
  const { nameChars, messageChars, reasonChars } = ROLLOUT_LIMITS;
  const said = (text: string | undefined, fallback: string) => truncateText(text?.trim() || fallback, reasonChars);

  const progress: RolloutState = checkpoint
    ? 'result' in checkpoint
      ? stateFromResult(checkpoint.result)
      : stateFromLegacy(checkpoint.progress)
    : {
        rolloutId,
        imageId: request.imageId,
        phase: 'resolving',
        dryRun: request.dryRun,
        paused: false,
        currentWave: 0,
        waves: [],
        catalogs: [],
        failures: 0,
        errors: [],
        skipped: [],
        skippedCount: 0,
        startedAt: now(),
      };
  let aborted = checkpoint?.aborted ?? false;
  let rollbackRequested = checkpoint?.rollbackRequested ?? false;
  const catalog = new Map(progress.catalogs.map((c) => [c.catalogId, c]));
  const halted = () => progress.failures > request.failureBudget;
  const stopStarting = () => aborted || halted();

  setHandler(progressQuery, (page) => progressPage(progress, page));
  setHandler(pauseSignal, () => void (progress.paused = true));
  setHandler(resumeSignal, () => void (progress.paused = false));
  setHandler(abortSignal, (details) => {
    aborted = true;
    progress.reason ??= truncateText(
      `aborted by ${said(details?.by, 'an operator')}${details?.reason ? `: ${details.reason}` : ''}`,
      reasonChars,
    );
  });
  setHandler(rollbackSignal, (details) => {
    aborted = true;
    rollbackRequested = true;
    progress.reason ??= `rollback requested by ${said(details?.by, 'an operator')}`;
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
      validator: ({ by, comment }) => {
        if (progress.phase !== 'awaitingApproval')
          throw new Error(`nothing awaits approval: the rollout is ${progress.phase}`);
        if (typeof by !== 'string' || !by.trim()) throw new Error('say who approves');
        if (by.length > reasonChars || (comment?.length ?? 0) > reasonChars) {
          throw new Error(`the approver's name and comment are at most ${reasonChars} characters each`);
        }
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

  const notifications = new Set<Promise<void>>();
  /** Sends a notification; a bounded rollout goes on at once and waits for the notifications only at its end. */
  async function notify(event: RolloutEvent, text: string): Promise<void> {
    if (!request.notify || request.dryRun) return;
    const sent = notifyRollout({ event, rolloutId, text: truncateText(text, 1_000) }).catch((error: unknown) => {
      // A notification that cannot be delivered never fails the rollout.
      log.warn('notification not delivered', { event, error: (error as Error).message });
    });
    if (!bounded) return sent;
    const tracked: Promise<void> = sent.finally(() => notifications.delete(tracked));
    notifications.add(tracked);
  }
  const notificationsSent = () => Promise.all(notifications);

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
        return { error: { type: cause.type ?? cause.name, message: truncateText(cause.message, messageChars) } };
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
          entry.state = result.outcome;
          entry.catalogName = truncateText(result.catalogName, nameChars);
          entry.previousImageId = result.previousImageId;
          entry.transactionId = result.transactionId;
          return;
        }
        entry.state = 'failed';
        entry.error = error;
        progress.failures += 1;
        listError(entry);
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
    const moved = progress.catalogs.filter((c) => movedByRollout(c.state) && c.previousImageId);
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
        entry.finishedAt = now();
        if (!error) return;
        entry.error = error;
        listError(entry);
      },
    );
  }

  /** Keeps the first errors, with their message, for the summary. */
  function listError(entry: CatalogRolloutProgress): void {
    if (!entry.error || progress.errors.length >= ROLLOUT_LIMITS.errorsListed) return;
    progress.errors.push({ catalogId: entry.catalogId, catalogName: entry.catalogName, ...entry.error });
  }

  function setPlan(waves: string[][], entry: (catalogId: string, wave: number) => CatalogRolloutProgress): void {
    progress.waves = waves.map((catalogIds, index) => ({ index, catalogIds, state: 'pending' }));
    progress.catalogs = waves.flatMap((ids, wave) => ids.map((catalogId) => entry(catalogId, wave)));
    for (const item of progress.catalogs) catalog.set(item.catalogId, item);
  }
  const maxWave = bounded ? ROLLOUT_LIMITS.catalogsPerWave : Infinity;

  async function planRollout(): Promise<void> {
    const resolved: ResolvedTargets | LegacyResolvedTargets = await resolveRolloutTargets({
      imageId: request.imageId,
      imageNamePattern: request.imageNamePattern,
      catalogIds: request.catalogIds ?? request.waves?.flat(),
      allCatalogs: request.allCatalogs,
      catalogNamePattern: request.catalogNamePattern,
      excludeCatalogIds: request.excludeCatalogIds,
    });
    progress.imageId = resolved.imageId;
    progress.imageName = truncateText(resolved.imageName, nameChars);
    progress.skipped = resolved.skipped.slice(0, ROLLOUT_LIMITS.skippedListed);
    progress.skippedCount = 'targets' in resolved ? resolved.skipped.length : resolved.skippedCount;
    const targets = new Map(targetsOf(resolved).map((t) => [t.catalogId, t]));
    setPlan(planWaves([...targets.keys()], request, maxWave), (catalogId, wave) => {
      const target = targets.get(catalogId)!;
      const entry: CatalogRolloutProgress = {
        catalogId,
        catalogName: truncateText(target.catalogName, nameChars),
        wave,
        state: 'pending',
        previousImageId: target.imageId,
      };
      if (request.dryRun && target.imageId?.toLowerCase() === resolved.imageId.toLowerCase()) {
        entry.state = 'alreadyCurrent';
      } else if (request.dryRun && target.state !== 'Active' && target.state !== 'InputRequired') {
        entry.state = 'notStarted';
        entry.error = { type: FailureType.CatalogNotReady, message: `catalog is ${target.state}: it would fail` };
        listError(entry);
      }
      return entry;
    });
  }

  /** The catalogs an earlier rollout moved, each back to the image it had before. */
  async function planRestore(restoreRolloutId: string): Promise<void> {
    const restore = new Map(
      restoreTargetsOf(await loadRolloutToRestore(restoreRolloutId)).map((t) => [t.catalogId, t]),
    );
    progress.restoreOf = restoreRolloutId;
    progress.imageName = `the image each catalog ran before rollout ${restoreRolloutId}`;
    setPlan(planWaves([...restore.keys()], request, maxWave), (catalogId, wave) => ({
      catalogId,
      catalogName: truncateText(restore.get(catalogId)!.catalogName, nameChars),
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
    try {
      if (request.restoreRolloutId) await planRestore(request.restoreRolloutId);
      else await planRollout();
    } catch (error) {
      // The rollout fails with the activity's own actionable message, not "activity task failed".
      throw unwrapActivityFailure(error);
    }
    if (request.dryRun) {
      setPhase('planned');
      progress.finishedAt = now();
      return toResult(progress);
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
      await notificationsSent();
      await condition(allHandlersFinished);
      const carried = bounded
        ? { result: toResult(progress) }
        : { progress: progress as unknown as LegacyRolloutProgress };
      await continueAsNew<typeof rolloutImage>(input, { ...carried, aborted, rollbackRequested });
    }
  }

  for (const entry of progress.catalogs) if (entry.state === 'pending') entry.state = 'notStarted';
  if (rollbackRequested || (halted() && request.rollbackOnHalt)) await rollBack();
  progress.finishedAt = now();

  if (halted()) {
    setPhase('halted');
    await notify('halted', `rollout halted: ${progress.reason}`);
    await notificationsSent();
    throw ApplicationFailure.nonRetryable(
      truncateText(`rollout ${rolloutId} halted: ${progress.reason}`, reasonChars * 2),
      'RolloutHalted',
      bounded ? toResult(progress) : progress,
    );
  }
  if (aborted) {
    setPhase('aborted');
    await notify('aborted', `rollout ${progress.reason}`);
    await notificationsSent();
    return toResult(progress);
  }
  setPhase('completed');
  const count = (state: CatalogRolloutProgress['state']) => progress.catalogs.filter((c) => c.state === state).length;
  const assigned = count('imageAssigned');
  await notify(
    'completed',
    `rollout completed: ${count('updated')} catalog(s) updated to ${progress.imageName}` +
      (assigned ? `, ${assigned} with the image assigned (their machines take it when they restart)` : ''),
  );
  await notificationsSent();
  return toResult(progress);
}

/** The targets of a resolution, in the compact form it has now or in the list form of rollouts recorded before. */
function targetsOf(resolved: ResolvedTargets | LegacyResolvedTargets): RolloutTarget[] {
  if ('targets' in resolved) return resolved.targets;
  return resolved.catalogIds.map((catalogId, i) => ({
    catalogId,
    catalogName: resolved.catalogNames[i] ?? catalogId,
    state: resolved.states[i],
    imageId: resolved.images[resolved.currentImages[i] ?? -1],
  }));
}

/** What `resolveRolloutTargets` answered before its answer was compact. */
interface LegacyResolvedTargets {
  imageId: string;
  imageName: string;
  targets: RolloutTarget[];
  skipped: Array<{ catalogId: string; reason: string }>;
}

function restoreTargetsOf(
  restore: RestoreTargets | Array<{ catalogId: string; catalogName: string; restoreImageId: string }>,
): Array<{ catalogId: string; catalogName: string; restoreImageId: string }> {
  if (Array.isArray(restore)) return restore;
  return restore.catalogIds.map((catalogId, i) => ({
    catalogId,
    catalogName: restore.catalogNames[i] ?? catalogId,
    restoreImageId: restore.images[restore.restoreImages[i] ?? -1]!,
  }));
}
