import { SETTLED_STATES } from '../citrix/catalog-states';
import { sameId } from '../citrix/ids';
import type { ResolvedTargets, RestoreTargets, RolloutTarget } from '../activities/rollout';
import { FailureType } from '../shared';
import { type CatalogRolloutProgress, ROLLOUT_LIMITS, planWaves, truncateText } from '../shared/rollout';
import { loadRolloutToRestore, resolveRolloutTargets } from './rollout-activities';
import type { RolloutRun } from './rollout-run';

const { nameChars } = ROLLOUT_LIMITS;

/** Resolves the image and the catalogs, and plans the waves; a dry run marks catalogs already current or not ready. */
export async function planRollout(run: RolloutRun): Promise<void> {
  const { progress, request } = run;
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
}

/** The catalogs an earlier rollout moved, each back to the image it had before. */
export async function planRestore(run: RolloutRun, restoreRolloutId: string): Promise<void> {
  const { progress } = run;
  const answer = await loadRolloutToRestore(restoreRolloutId);
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
