/**
 * The health gate between waves: after a wave's catalogs finished, their machines get `healthWaitMs` to restart and
 * register, then the wave is judged. `pass` goes on; `fail` halts the rollout (and rolls back with `rollbackOnHalt`);
 * `inconclusive` holds it until a person approves, aborts or rolls back.
 */
import { condition } from '@temporalio/workflow';
import { ROLLOUT_LIMITS, movedByRollout, truncateText } from '../shared/rollout';
import { checkWaveHealth } from './rollout-activities';
import { summaries } from './summaries';
import type { RolloutNotifier } from './rollout-notifications';
import { type RolloutRun, now } from './rollout-run';

/** Rollouts started since this patch judge each wave by its machines; runs recorded before it replay without. */
export const HEALTH_GATES_PATCH = 'health-gates';

export type GateMoment = 'afterWave' | 'afterBake';

/** Runs the gate on one wave; returns once it passed, or once the rollout is halted, held and released, or aborted. */
export async function gateWave(run: RolloutRun, notifier: RolloutNotifier, index: number, moment: GateMoment) {
  const { progress, request } = run;
  const wave = progress.waves[index]!;
  const judged = wave.catalogIds.map((id) => run.catalogById.get(id)!).filter((entry) => movedByRollout(entry.state));
  if (judged.length === 0 || run.aborted) return;

  if (moment === 'afterWave' && request.healthWaitMs > 0) {
    run.setPhase('checkingHealth');
    progress.waitingUntil = new Date(Date.now() + request.healthWaitMs).toISOString();
    await condition(() => run.aborted, request.healthWaitMs, {
      summary: summaries.healthWait(request.healthWaitMs, index),
    });
    progress.waitingUntil = undefined;
    if (run.aborted) return;
  }
  run.setPhase('checkingHealth');
  const report = await checkWaveHealth.executeWithOptions({ summary: summaries.checkHealth(index, judged.length) }, [
    {
      wave: index,
      catalogIds: judged.map((entry) => entry.catalogId),
      imageIds: judged.map((entry) => entry.targetImageId ?? progress.imageId!),
      thresholds: {
        minRegisteredPercent: request.minRegisteredPercent,
        minMachinesOnImage: request.minMachinesOnImage,
      },
    },
  ]);
  const checkedAt = now();
  const reason = truncateText(report.reason, ROLLOUT_LIMITS.reasonChars);
  judged.forEach((entry, i) => (entry.health = report.verdicts[i]));
  wave.health = { verdict: report.verdict, reason, checkedAt, counts: report.counts };
  const { verdicts: _perCatalog, ...summary } = report;
  progress.lastHealth = { ...summary, reason, checkedAt };

  const where = `wave ${index + 1} of ${progress.waves.length}${moment === 'afterBake' ? ' after its bake time' : ''}`;
  if (report.verdict === 'fail') {
    run.healthFailed = true;
    wave.state = 'halted';
    progress.reason = truncateText(`the health gate failed ${where}: ${reason}`, ROLLOUT_LIMITS.reasonChars);
    return;
  }
  if (report.verdict === 'inconclusive') {
    run.healthHold = index;
    run.setPhase('awaitingApproval');
    await notifier.notify(
      'approvalNeeded',
      `the health of ${where} is inconclusive (${reason}): approve to go on, or abort or roll back`,
    );
    await condition(() => run.healthHold === undefined || run.aborted);
    run.healthHold = undefined;
  }
}
