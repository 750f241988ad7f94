/**
 * What a catalog's state means for an image update, as pure functions: whether an update may start, whether an image
 * fits a catalog, whether a post may be sent, and what one read of the catalog says about an update in flight. The
 * activities do the reads; these decide, so that every rule is tested without a server.
 */
import { FAILED_STATES, RUNNING_STATES, SETTLED_STATES } from '../citrix/catalog-states';
import { sameId } from '../citrix/ids';
import type { Catalog, TemplateImage } from '../citrix';

export { RUNNING_STATES, SETTLED_STATES };
/**
 * Warnings that say an update failed although the catalog is `Active` again on its old image (Citrix rolled it back):
 * the first read that shows one of them is the verdict, whether or not a read saw the update running.
 */
const ROLLBACK_WARNINGS: ReadonlySet<string> = new Set(['ImageRollback', 'PendingTemplateImageInvalid']);
/** The warning of machines that take the new image only at their next restart. */
export const PENDING_VDA_UPDATE = 'PendingVdaUpdate';
const PROGRESS_STEP_PERCENT = 10;

/** What the catalog looked like at one read. */
export interface CatalogSnapshot {
  state: string;
  subState?: string;
  statusMessage?: string;
  percentComplete?: number;
  imageId?: string;
  imageName?: string;
  /** The catalog's own `transactionId` (its last deployment's, not necessarily the post's). */
  transactionId?: string;
  /** Every warning, as `type: message`. */
  warnings?: string[];
  /** The warnings marked `isError`, as `type: message`. */
  errorWarnings?: string[];
  /** Citrix shows `PendingVdaUpdate`: machines take the image when they restart. */
  pendingVdaUpdate?: boolean;
}

export function snapshotOf(catalog: Catalog): CatalogSnapshot {
  const describe = (warning: NonNullable<Catalog['warnings']>[number]) =>
    [warning.type, warning.warningMessage].filter(Boolean).join(': ');
  const all = catalog.warnings ?? [];
  const warnings = all.map(describe).filter(Boolean);
  const errorWarnings = all.filter((warning) => warning.isError).map(describe);
  return {
    state: catalog.state,
    subState: catalog.subState,
    statusMessage: catalog.statusMessage,
    percentComplete: catalog.taskCompletionPercentage,
    imageId: catalog.imageId,
    imageName: catalog.templateImageName,
    transactionId: catalog.transactionId,
    ...(warnings.length > 0 && { warnings }),
    ...(errorWarnings.length > 0 && { errorWarnings }),
    ...((all.some((warning) => warning.type === PENDING_VDA_UPDATE) || catalog.subState === PENDING_VDA_UPDATE) && {
      pendingVdaUpdate: true,
    }),
  };
}

export type PollDecision = 'succeeded' | 'failed' | 'neverStarted' | undefined;

/**
 * The verdict one read gives about an update to `imageId` posted at `postedAtMs`, or `undefined` while it is still
 * open. `Active` means both "not started yet" (Citrix's lag after the 202) and "finished": on the old image it is a
 * failure only once the update was seen running, or at once when Citrix added an error warning that was not there
 * before (`before`: the read the workflow knew last, from validation on).
 */
export function decidePoll(read: {
  snapshot: CatalogSnapshot;
  before: CatalogSnapshot;
  imageId: string;
  seenRunning: boolean;
  nowMs: number;
  postedAtMs: number;
  startTimeoutMs: number;
}): PollDecision {
  const { snapshot } = read;
  if (SETTLED_STATES.has(snapshot.state)) {
    if (sameId(snapshot.imageId, read.imageId)) return 'succeeded';
    if (read.seenRunning || newFailureEvidence(read.before, snapshot).length > 0) return 'failed';
    if (read.nowMs - read.postedAtMs >= read.startTimeoutMs) return 'neverStarted';
    return undefined;
  }
  return FAILED_STATES.has(snapshot.state) ? 'failed' : undefined;
}

/**
 * What the post of an update should do after one read of the catalog: `post` it, report it `alreadyPosted` (the
 * catalog shows that an earlier attempt's post began the update), wait for Citrix and read again (`settleFirst`), or
 * refuse because the catalog is in a state that takes no update (`catalogNotReady`).
 */
export type PostDecision = 'post' | 'alreadyPosted' | 'settleFirst' | 'catalogNotReady';

/**
 * Decides whether an attempt of the post of `imageId` (sent with `transactionId`) may send it. A retried attempt
 * does not know whether the attempt before it reached Citrix, and Citrix keeps showing the old state for a while after
 * it accepted an update: a retry that finds the catalog untouched waits (`settleFirst`) and decides again on a new
 * read with `afterSettle` set, which never answers `settleFirst`.
 */
export function decidePost(read: {
  catalog: { state: string; imageId?: string; transactionId?: string };
  imageId: string;
  transactionId: string;
  attempt: number;
  /** This read was made after the settle wait. */
  afterSettle: boolean;
}): PostDecision {
  const { catalog } = read;
  const ours = catalog.transactionId === read.transactionId;
  const retried = read.attempt > 1;
  const settled = SETTLED_STATES.has(catalog.state);
  if (read.afterSettle) {
    // Not `lastModifiedTime`: any change to the catalog moves it, not only an accepted update.
    if (RUNNING_STATES.has(catalog.state) || sameId(catalog.imageId, read.imageId) || ours) return 'alreadyPosted';
    return settled ? 'post' : 'catalogNotReady';
  }
  // On a first attempt, only our own transaction id says that the operation running is this update.
  if (RUNNING_STATES.has(catalog.state) && (ours || retried)) return 'alreadyPosted';
  if (settled && sameId(catalog.imageId, read.imageId)) return 'alreadyPosted';
  if (!settled) return 'catalogNotReady';
  return retried ? 'settleFirst' : 'post';
}

/** Error warnings of `after` that `before` did not have, rollback warnings first. */
export function newFailureEvidence(before: CatalogSnapshot, after: CatalogSnapshot): string[] {
  const known = new Set(before.errorWarnings ?? []);
  const fresh = (after.errorWarnings ?? []).filter((warning) => !known.has(warning));
  return fresh.sort((a, b) => Number(isRollbackWarning(b)) - Number(isRollbackWarning(a)));
}

function isRollbackWarning(warning: string): boolean {
  return ROLLBACK_WARNINGS.has(warning.split(':')[0]!.trim());
}

export function changedMeaningfully(before: CatalogSnapshot, after: CatalogSnapshot): boolean {
  if (before.state !== after.state || before.subState !== after.subState) return true;
  // Progress only means something while the update runs (a settled catalog reads 100 % or nothing).
  const step = (percent?: number) => Math.floor((percent ?? 0) / PROGRESS_STEP_PERCENT);
  return RUNNING_STATES.has(after.state) && step(before.percentComplete) !== step(after.percentComplete);
}

export function estimateSecondsLeft(snapshot: CatalogSnapshot, postedAt: string, now: number): number | undefined {
  const percent = snapshot.percentComplete;
  if (!RUNNING_STATES.has(snapshot.state) || !percent || percent <= 0 || percent >= 100) return undefined;
  const elapsedSeconds = (now - Date.parse(postedAt)) / 1000;
  return Math.round((elapsedSeconds * (100 - percent)) / percent);
}

/**
 * Machines of a static catalog that keeps its disks keep the old image: only machines added later get the new one
 * (Citrix, "Manage machine catalogs").
 */
export function isPersistent(catalog: Pick<Catalog, 'allocationType' | 'persistStaticAllocatedVmDisks'>): boolean {
  return catalog.persistStaticAllocatedVmDisks === true || /^(permanent|static)$/i.test(catalog.allocationType ?? '');
}

/**
 * Why `image` cannot go to `catalog` (session support, region, subscription), each naming both sides; empty when it
 * fits. A side Citrix does not report is not compared. What Citrix itself answers to a mismatch is not documented.
 */
export function compatibilityProblems(catalog: Catalog, image: TemplateImage): string[] {
  const problems: string[] = [];
  const compare = (what: string, catalogValue?: string, imageValue?: string) => {
    if (catalogValue && imageValue && catalogValue.toLowerCase() !== imageValue.toLowerCase()) {
      problems.push(`the catalog's ${what} is ${catalogValue}, the image's ${imageValue}`);
    }
  };
  compare('session support', catalog.sessionSupport, image.sessionSupport);
  compare('region', catalog.region, image.region);
  compare('subscription', catalog.subscriptionName, image.subscriptionName);
  return problems;
}

export { sameId };

export function describeCatalog(catalog: Pick<Catalog, 'name' | 'id'>): string {
  return `${catalog.name} (${catalog.id})`;
}

export function describeState(catalog: Pick<Catalog, 'state' | 'subState' | 'statusMessage'>): string {
  return `${catalog.state}${catalog.subState ? ` (SubState ${catalog.subState})` : ''}${
    catalog.statusMessage ? `: ${catalog.statusMessage}` : ''
  }`;
}

export function adviceForState(state: string): string {
  if (RUNNING_STATES.has(state)) return 'wait until the operation that is running finishes, then start again';
  if (state === 'Error') return 'fix the catalog in Citrix Cloud (Quick Deploy) and start again';
  if (state === 'Deleting' || state === 'NotFound') return 'the catalog is going away; pick another catalog';
  return 'check the catalog in Citrix Cloud and start again once it is Active';
}
