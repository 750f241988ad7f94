import { SETTLED_STATES } from '../citrix/catalog-states';
import { sameId } from '../citrix/ids';
import type { ResolvedTargets, RestoreTargets, RolloutTarget } from '../activities/rollout';
import { FailureType } from '../shared';
import { type CatalogRolloutProgress, ROLLOUT_LIMITS, planWaves, truncateText } from '../shared/rollout';
import { patched } from '@temporalio/workflow';
import { MINUTE } from '../shared/time';
import { assessRolloutImpact, loadRolloutToRestore, resolveRolloutTargets } from './rollout-activities';
import type { RolloutRun } from './rollout-run';
import { summaries } from './summaries';

const { nameChars } = ROLLOUT_LIMITS;

/** Resolves the image and the catalogs, and plans the waves; a dry run marks catalogs already current or not ready. */
export async function planRollout(run: RolloutRun): Promise<void> {
  const { progress, request } = run;
  const resolved: ResolvedTargets | LegacyResolvedTargets = await resolveRolloutTargets.executeWithOptions(
    { summary: summaries.resolveTargets() },
    [
      {
        imageId: request.imageId,
        imageNamePattern: request.imageNamePattern,
        catalogIds: request.catalogIds ?? request.waves?.flat(),
        allCatalogs: request.allCatalogs,
        catalogNamePattern: request.catalogNamePattern,
        excludeCatalogIds: request.excludeCatalogIds,
      },
    ],
  );
  progress.imageId = resolved.imageId;
  progress.imageName = truncateText(resolved.imageName, nameChars);
  progress.skipped = resolved.skipped.slice(0, ROLLOUT_LIMITS.skippedListed);
  progress.skippedCount = 'targets' in resolved ? resolved.skipped.length : resolved.skippedCount;
  const targets = new Map(targetsOf(resolved).map((t) => [t.catalogId, t]));
  setPlan(run, [...targets.keys()], (catalogId, wave) => {
    const target = targets.get(catalogId)!;
    const entry: CatalogRolloutProgress = {
      catalogId,
      catalogName: truncateText(target.catalogName, nameChars),
      wave,
      state: 'pending',
      previousImageId: target.imageId,
    };
    if (request.dryRun && sameId(target.imageId, resolved.imageId)) {
      entry.state = 'alreadyCurrent';
    } else if (request.dryRun && !SETTLED_STATES.has(target.state ?? '')) {
      entry.state = 'notStarted';
      entry.error = { type: FailureType.CatalogNotReady, message: `catalog is ${target.state}: it would fail` };
      run.listError(entry);
    }
    return entry;
  });
  if (request.dryRun && patched(DRY_RUN_IMPACT_PATCH)) await assessImpact(run);
}

/** Dry runs since this patch read each catalog for the plan's blast radius; those recorded before replay without. */
export const DRY_RUN_IMPACT_PATCH = 'dry-run-impact';

/**
 * Unconfirmed: Citrix publishes no duration of a Quick Deploy image update; this is what the plan's ETA assumes for
 * one catalog (the simulator's updates are shorter, real ones are often longer).
 */
export const ESTIMATED_UPDATE_MINUTES = 45;

/** A plan lists machines and users per catalog up to this many catalogs; beyond, only the totals. */
export const IMPACT_LISTED = 1_000;

/** How a dry run reads the blast radius: machines and users per catalog, compatibility, and rollback images. */
async function assessImpact(run: RolloutRun): Promise<void> {
  const { progress, request } = run;
  const planned = progress.catalogs.filter((entry) => entry.state === 'pending');
  if (planned.length === 0 || !progress.imageId) return;
  const report = await assessRolloutImpact.executeWithOptions({ summary: summaries.assessImpact(planned.length) }, [
    { imageId: progress.imageId, catalogIds: planned.map((entry) => entry.catalogId) },
  ]);
  // Per catalog only for plans of up to IMPACT_LISTED catalogs: the result of a plan at the cap stays small.
  const perCatalog = planned.length <= IMPACT_LISTED;
  planned.forEach((entry, i) => {
    const ready = report.previousImageReady[i] ?? -1;
    if (perCatalog) {
      entry.impact = {
        ...((report.machines[i] ?? -1) >= 0 && { machines: report.machines[i] }),
        ...((report.users[i] ?? -1) >= 0 && { users: report.users[i] }),
        ...(ready >= 0 && { previousImageReady: ready === 1 }),
      };
    }
    const problem = report.problems[i];
    if (problem) {
      entry.state = 'notStarted';
      entry.error = {
        type: FailureType.ImageNotUsable,
        message: truncateText(`it would fail: ${problem}`, nameChars * 10),
      };
      run.listError(entry);
    }
  });
  const sum = (column: number[]) => column.reduce((total, value) => total + Math.max(0, value), 0);
  const delay = request.vdaUpdateDelayMinutes;
  // Each wave: its catalogs in rounds of maxParallel, then the health wait and the bake time.
  const waveMinutes = (size: number) =>
    Math.ceil(size / request.maxParallel) * ESTIMATED_UPDATE_MINUTES +
    (request.healthGate ? request.healthWaitMs / MINUTE : 0) +
    request.bakeTimeMs / MINUTE;
  progress.blastRadius = {
    machines: sum(report.machines),
    users: sum(report.users),
    restarts:
      delay === 0
        ? 'every machine restarts as its catalog finishes'
        : delay > 0
          ? `machines restart over ${delay} minutes after their catalog finishes`
          : 'machines take the image at their next restart (no forced restart)',
    etaMinutes: Math.round(
      progress.waves.reduce(
        (total, wave) =>
          total + waveMinutes(wave.catalogIds.filter((id) => run.catalogById.get(id)?.state === 'pending').length),
        0,
      ) + (delay > 0 ? delay : 0),
    ),
    noRollbackImage: report.previousImageReady.filter((ready) => ready === 0).length,
  };
}

/** The catalogs an earlier rollout moved, each back to the image it had before. */
export async function planRestore(run: RolloutRun, restoreRolloutId: string): Promise<void> {
  const { progress } = run;
  const answer = await loadRolloutToRestore.executeWithOptions({ summary: summaries.loadRestore(restoreRolloutId) }, [
    restoreRolloutId,
  ]);
  const restore = new Map(restoreTargetsOf(answer).map((t) => [t.catalogId, t]));
  progress.restoreOf = restoreRolloutId;
  progress.imageName = `the image each catalog ran before rollout ${restoreRolloutId}`;
  // Answers recorded before catalogs moved on since were left alone have neither field: nothing changes for them.
  if (!Array.isArray(answer) && answer.skipped) {
    progress.skipped = answer.skipped;
    progress.skippedCount = answer.skippedCount ?? answer.skipped.length;
  }
  setPlan(run, [...restore.keys()], (catalogId, wave) => {
    const target = restore.get(catalogId)!;
    const entry: CatalogRolloutProgress = {
      catalogId,
      catalogName: truncateText(target.catalogName, nameChars),
      wave,
      state: 'pending',
      targetImageId: target.restoreImageId,
    };
    if (target.currentImageId) entry.previousImageId = target.currentImageId;
    return entry;
  });
}

function setPlan(
  run: RolloutRun,
  targetIds: string[],
  entry: (catalogId: string, wave: number) => CatalogRolloutProgress,
): void {
  const { progress, request } = run;
  const waves = planWaves(targetIds, request, run.bounded ? ROLLOUT_LIMITS.catalogsPerWave : Infinity);
  progress.waves = waves.map((catalogIds, index) => ({ index, catalogIds, state: 'pending' }));
  progress.catalogs = waves.flatMap((ids, wave) => ids.map((catalogId) => entry(catalogId, wave)));
  for (const item of progress.catalogs) run.catalogById.set(item.catalogId, item);
}

/** What `resolveRolloutTargets` answered before its answer was compact. */
interface LegacyResolvedTargets {
  imageId: string;
  imageName: string;
  targets: RolloutTarget[];
  skipped: Array<{ catalogId: string; reason: string }>;
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

interface RestoreTarget {
  catalogId: string;
  catalogName: string;
  restoreImageId: string;
  currentImageId?: string;
}

function restoreTargetsOf(restore: RestoreTargets | RestoreTarget[]): RestoreTarget[] {
  if (Array.isArray(restore)) return restore;
  return restore.catalogIds.map((catalogId, i) => ({
    catalogId,
    catalogName: restore.catalogNames[i] ?? catalogId,
    restoreImageId: restore.images[restore.restoreImages[i] ?? -1]!,
    currentImageId: restore.images[restore.currentImages?.[i] ?? -1],
  }));
}
