/** The text people read: status lines, progress lines, catalog tables and plans. */
import type { Inspection } from '../client';
import type { CatalogUpdateResult, CatalogUpdateStatus } from '../shared';
import type { CatalogRolloutProgress, RolloutSummary } from '../shared/rollout';
import { MINUTE, formatDuration } from '../shared/time';
import { table } from './output';

/** One line that an administrator can read at a glance. */
export function describeStatus(status: CatalogUpdateStatus): string {
  const parts: string[] = [status.phase.padEnd(13)];
  if (status.catalogName) parts.push(`catalog "${status.catalogName}"`);
  if (status.catalogState) parts.push(status.catalogState + (status.subState ? `/${status.subState}` : ''));
  const running = status.catalogState === 'Processing' || status.catalogState === 'PreDeployment';
  if (status.percentComplete !== undefined && running) parts.push(`${status.percentComplete}%`);
  if (status.estimatedSecondsLeft !== undefined) parts.push(`~${status.estimatedSecondsLeft}s left`);
  if (status.polls) parts.push(`polls ${status.polls}`);
  if (status.transactionId) parts.push(`txn ${status.transactionId}`);
  if (status.lastError) parts.push(`error: ${status.lastError}`);
  return parts.join('  ');
}

export function describeResult(result: CatalogUpdateResult): string {
  return `${result.outcome}: ${result.message}`;
}

/** One line per change of a rollout's progress. */
export function describeProgress(progress: RolloutSummary): string {
  const count = (state: keyof RolloutSummary['counts']) => progress.counts[state] ?? 0;
  const parts = [progress.dryRun ? 'DRY RUN' : '', progress.phase.padEnd(16)].filter(Boolean);
  if (progress.waves.length > 0) {
    parts.push(`wave ${Math.min(progress.currentWave + 1, progress.waves.length)}/${progress.waves.length}`);
  }
  parts.push(
    `updated ${count('updated')}`,
    `assigned ${count('imageAssigned')}`,
    `running ${count('running')}`,
    `failed ${count('failed')}`,
    `pending ${count('pending')}`,
  );
  if (count('alreadyCurrent')) parts.push(`already current ${count('alreadyCurrent')}`);
  if (count('notStarted')) parts.push(`not started ${count('notStarted')}`);
  if (count('rolledBack')) parts.push(`rolled back ${count('rolledBack')}`);
  if (count('rollbackFailed')) parts.push(`rollback failed ${count('rollbackFailed')}`);
  if (progress.lastHealth) {
    parts.push(`health ${progress.lastHealth.verdict} (wave ${progress.lastHealth.wave + 1})`);
  }
  if (progress.paused) parts.push('PAUSED');
  if (progress.waitingUntil) parts.push(`until ${progress.waitingUntil}`);
  return parts.join('  ');
}

const imageLabel = (id: string | undefined, rolloutImage: RolloutSummary) =>
  !id ? '?' : id === rolloutImage.imageId && rolloutImage.imageName ? `${rolloutImage.imageName}` : id;

/** A table of a rollout's catalogs: wave, state, name, current → target image, and what went wrong. */
export function describeCatalogs(catalogs: CatalogRolloutProgress[], rollout?: RolloutSummary): string {
  const errors = new Map(rollout?.errors.map((e) => [e.catalogId, e]) ?? []);
  return table(
    catalogs.map((c) => {
      const error = c.error ?? errors.get(c.catalogId);
      const target = c.targetImageId ?? rollout?.imageId;
      return [
        `wave ${c.wave + 1}`,
        c.state,
        c.catalogName ?? c.catalogId,
        rollout ? `${imageLabel(c.previousImageId, rollout)} -> ${imageLabel(target, rollout)}` : '',
        c.health ? describeMachines(c.health) : c.impact ? describeImpact(c.impact) : '',
        (error ? `${error.type ?? 'Error'}: ${error.message}` : '') +
          (c.transactionId ? `  txn ${c.transactionId}` : ''),
      ];
    }),
    '  ',
  );
}

/** `40 machines, 312 users; no Ready image to roll back to` */
function describeImpact(impact: NonNullable<CatalogRolloutProgress['impact']>): string {
  const parts = [
    impact.machines !== undefined ? `${impact.machines} machines` : '',
    impact.users !== undefined ? `${impact.users} users` : '',
  ].filter(Boolean);
  const rollback =
    impact.previousImageReady === false ? '; its image of today is gone or not Ready: no rollback to it' : '';
  return parts.join(', ') + rollback;
}

/** `health pass: 38/40 registered, 40/40 on image, 0 pending` */
function describeMachines(health: NonNullable<CatalogRolloutProgress['health']>): string {
  const f = health.figures;
  if (!f) return `health ${health.verdict}`;
  return (
    `health ${health.verdict}: ${f.registeredNewImage}/${f.poweredOnNewImage} registered, ` +
    `${f.onNewImage}/${f.total} on image, ${f.pendingRestart} pending restart` +
    (f.inMaintenance ? `, ${f.inMaintenance} in maintenance` : '')
  );
}

/** Everything a rollout's summary says beyond its counts: the image, who steered it, why it stopped, what was left out. */
export function describeRolloutHeader(summary: RolloutSummary): string {
  const lines: string[] = [];
  if (summary.dryRun) lines.push('DRY RUN: nothing was posted; this is the plan.');
  if (summary.restoreOf) lines.push(`restores the catalogs that rollout ${summary.restoreOf} moved`);
  if (summary.imageId) lines.push(`image: ${summary.imageName ?? '?'} (${summary.imageId})`);
  const radius = summary.blastRadius;
  if (radius) {
    lines.push(
      `blast radius: ${radius.machines} machines, ${radius.users} users; ${radius.restarts}; ` +
        `about ${formatDuration(radius.etaMinutes * MINUTE)} in all` +
        (radius.noRollbackImage ? `; ${radius.noRollbackImage} catalogs could not be rolled back to their image` : ''),
    );
  }
  if (summary.reason) lines.push(`reason: ${summary.reason}`);
  const health = summary.lastHealth;
  if (health) {
    lines.push(
      `health gate (wave ${health.wave + 1}, ${health.checkedAt}): ${health.verdict}: ${health.reason}; ` +
        `machines ${health.figures.registeredNewImage}/${health.figures.poweredOnNewImage} registered, ` +
        `${health.figures.onNewImage}/${health.figures.total} on the new image`,
    );
    for (const c of health.catalogs) {
      lines.push(`  ${c.catalogName ?? c.catalogId}: ${c.verdict}: ${c.reason}`);
      for (const machine of c.stragglers ?? []) lines.push(`    ${machine}`);
    }
  }
  for (const step of summary.steering ?? []) {
    lines.push(`${step.at}  ${step.action} by ${step.by}${step.reason ? `: ${step.reason}` : ''}`);
  }
  // Approvals are among the steering records of newer rollouts; older ones have them on their waves only.
  for (const wave of summary.steering?.length ? [] : summary.waves) {
    if (wave.approvedBy) {
      lines.push(
        `wave ${wave.index + 1} approved by ${wave.approvedBy}${wave.approvedAt ? ` at ${wave.approvedAt}` : ''}`,
      );
    }
  }
  if (summary.skippedCount > 0) {
    lines.push(`left out: ${summary.skippedCount} catalogs`);
    for (const skipped of summary.skipped) lines.push(`  ${skipped.catalogId}: ${skipped.reason}`);
  }
  return lines.join('\n');
}

/** What Temporal knows beyond the workflow's own answer: retries in progress, missing workers. */
export function describeInspection(inspection: Inspection<unknown, unknown>): string {
  const lines = [`${inspection.workflowId}: ${inspection.executionStatus}`];
  for (const retry of inspection.retrying) {
    lines.push(
      `retrying ${retry.activity} (attempt ${retry.attempt}): ${retry.lastFailure}` +
        (retry.nextAttemptAt ? `; next try at ${retry.nextAttemptAt}` : ''),
    );
  }
  if (inspection.noAnswer) lines.push(inspection.noAnswer);
  if (inspection.failure) lines.push(`${inspection.failure.type}: ${inspection.failure.message}`);
  return lines.join('\n');
}
