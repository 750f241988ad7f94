/** rollout recall: take a bad image back everywhere at once (README "Rolling out to many catalogs"). */
import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import {
  type FinishedRollout,
  type RecallPlan,
  type RecallResult,
  type RecallStep,
  type RecalledCatalog,
  type RunningRollout,
  type WatchEnd,
  executeRecall,
  parseRecallRequest,
  planRecall,
  watchWorkflow,
} from '../client';
import type { RolloutProgress, RolloutResult } from '../shared/rollout';
import { progressQuery } from '../workflows';
import { confirmOrRefuse } from './confirm';
import { withClient } from './context';
import { clock, connectionReports } from './follow';
import { operatorName } from './options';
import { ExitCode, Output, table } from './output';
import { describeProgress } from './render';
import { rolloutExitCode } from './rollout-commands';

type Action = 'rollBack' | 'restore' | 'pause' | 'leave';

/** One part of the plan as the audit trail shows it: what it is, how it stands, what the recall does with it. */
interface PlanEntry {
  kind: 'rollout' | 'schedule';
  id: string;
  status: string;
  action: Action;
  says: string;
  catalogs?: RecalledCatalog[];
  leftAlone?: Array<{ catalogId: string; reason: string }>;
  restoreWorkflowId?: string;
}

const catalogLine = (c: RecalledCatalog) =>
  `${c.catalogName ?? c.catalogId}  ${c.from ?? '?'} -> ${c.to ?? '?'}${c.state === 'running' ? '  (in flight)' : ''}`;

function runningEntry(rollout: RunningRollout): PlanEntry {
  const moved = rollout.moved;
  return {
    kind: 'rollout',
    id: rollout.workflowId,
    status: `running${rollout.phase ? ` (${rollout.phase})` : ''}`,
    action: 'rollBack',
    says:
      'roll back: start no more catalogs, return ' +
      (moved ? `the ${moved.length} it moved so far` : 'what it moved so far (no worker answered to list them)') +
      (rollout.foundBy === 'ImageId' ? '' : `; found as a run of ${rollout.foundBy}`),
    catalogs: moved,
  };
}

function finishedEntry(rollout: FinishedRollout): PlanEntry {
  const entry = {
    kind: 'rollout' as const,
    id: rollout.workflowId,
    status: rollout.status.toLowerCase(),
    restoreWorkflowId: rollout.restoreWorkflowId,
    catalogs: rollout.restores,
    leftAlone: rollout.leftAlone,
  };
  const restore = rollout.restoreWorkflowId;
  if (rollout.existingRestore === 'RUNNING') return { ...entry, action: 'leave', says: `being restored by ${restore}` };
  if (rollout.existingRestore === 'COMPLETED') return { ...entry, action: 'leave', says: `restored by ${restore}` };
  if (rollout.existingRestore) {
    return { ...entry, action: 'leave', says: `its restore ${restore} ended ${rollout.existingRestore}: not again` };
  }
  if (rollout.planError) return { ...entry, action: 'restore', says: `cannot plan its restore: ${rollout.planError}` };
  const count = rollout.restores?.length ?? 0;
  if (count === 0) return { ...entry, action: 'leave', says: 'nothing to return' };
  return { ...entry, action: 'restore', says: `restore as ${restore}: return ${count} catalog(s) to their images` };
}

function planEntries(plan: RecallPlan): PlanEntry[] {
  return [
    ...plan.running.map(runningEntry),
    ...plan.finished.map(finishedEntry),
    ...plan.schedules.map((s): PlanEntry => {
      const entry = { kind: 'schedule' as const, id: s.scheduleId, status: s.paused ? 'paused' : 'active' };
      if (s.decision === 'pause') return { ...entry, action: 'pause', says: `pause, noting "${plan.note}"` };
      if (s.decision === 'alreadyPaused') {
        return { ...entry, action: 'leave', says: `already paused${s.note ? ` ("${s.note}")` : ''}: left as it is` };
      }
      return {
        ...entry,
        action: 'leave',
        says: `not paused: it picks its image by pattern /${s.imagePattern}/ when it runs (pause it yourself if needed)`,
      };
    }),
  ];
}

const who = (plan: RecallPlan) => `by ${plan.by}${plan.reason ? `: ${plan.reason}` : ''}`;

function printPlan(out: Output, plan: RecallPlan, dryRun: boolean): PlanEntry[] {
  const entries = planEntries(plan);
  out.line(`recall of image ${plan.imageId} ${who(plan)}`);
  if (dryRun) out.line('DRY RUN: nothing was changed; this is what the recall would do.');
  const rows: string[][] = [];
  for (const e of entries) {
    rows.push([e.kind, e.id, e.status, e.says]);
    for (const c of e.catalogs ?? []) rows.push(['', '', '', `  ${catalogLine(c)}`]);
    for (const left of e.leftAlone ?? []) rows.push(['', '', '', `  left as it is: ${left.catalogId}: ${left.reason}`]);
  }
  out.line(rows.length ? table(rows, '  ') : `  nothing runs, ran or is scheduled with image ${plan.imageId}`);
  for (const { says: _says, ...entry } of entries) {
    out.event({ event: 'plan', ...entry, imageId: plan.imageId, by: plan.by, reason: plan.reason, dryRun }, '');
  }
  return entries;
}

const OUTCOME_TEXT: Record<RecallStep['outcome'], string> = {
  paused: 'paused',
  alreadyPaused: 'left: already paused',
  notPaused: 'left, not paused',
  pauseFailed: 'NOT paused',
  rollbackRequested: 'rollback requested',
  signalFailed: 'rollback NOT requested',
  restoreStarted: 'restore started',
  alreadyRestoring: 'left: already being restored',
  alreadyRestored: 'left: already restored',
  nothingToRestore: 'left: nothing to return',
  restoreFailed: 'restore NOT started',
};

function printSteps(out: Output, result: RecallResult): void {
  const { plan } = result;
  const rows = result.steps.map((step) => [
    step.kind,
    step.id,
    OUTCOME_TEXT[step.outcome] +
      (step.restoreWorkflowId && step.outcome !== 'nothingToRestore' ? ` (${step.restoreWorkflowId})` : '') +
      (step.message ? `: ${step.message}` : ''),
  ]);
  out.line(`${clock()}  recalled image ${plan.imageId} ${who(plan)}`);
  if (rows.length) out.line(table(rows, '  '));
  for (const step of result.steps) {
    out.event({ event: 'recall', ...step, imageId: plan.imageId, by: plan.by, reason: plan.reason }, '');
  }
}

/** The rollouts a recall set going: the rollbacks it asked for and the restores that run. */
function followed(result: RecallResult): Array<{ workflowId: string; kind: 'rollback' | 'restore' }> {
  return result.steps.flatMap((step): Array<{ workflowId: string; kind: 'rollback' | 'restore' }> => {
    if (step.outcome === 'rollbackRequested') return [{ workflowId: step.id, kind: 'rollback' }];
    if ((step.outcome === 'restoreStarted' || step.outcome === 'alreadyRestoring') && step.restoreWorkflowId) {
      return [{ workflowId: step.restoreWorkflowId, kind: 'restore' }];
    }
    return [];
  });
}

/**
 * How a followed rollout ended for the recall: a rolled-back rollout ends aborted (or halted) by design, and is done
 * when every catalog it moved went back; a restore is done when it completed without a failed catalog.
 */
function judge(kind: 'rollback' | 'restore', end: WatchEnd<RolloutResult>): { code: ExitCode; result?: RolloutResult } {
  if (end.kind === 'unknown') return { code: ExitCode.Unknown };
  const halted = end.kind === 'failed' ? (end.failure.details?.[0] as RolloutResult | undefined) : undefined;
  const result = end.kind === 'completed' ? end.result : halted?.ledger ? halted : undefined;
  if (!result) return { code: ExitCode.Failed };
  if (kind === 'restore') return { code: end.kind === 'completed' ? rolloutExitCode(result) : ExitCode.Failed, result };
  return { code: (result.counts.rollbackFailed ?? 0) > 0 ? ExitCode.Failed : ExitCode.Done, result };
}

function describeEnd(kind: 'rollback' | 'restore', end: WatchEnd<RolloutResult>, ended?: RolloutResult): string {
  if (end.kind === 'unknown') return `could not tell how it ended: ${end.reason}`;
  if (!ended) return end.kind === 'failed' ? `failed (${end.failure.type}): ${end.failure.message}` : 'ended';
  const count = (state: keyof RolloutResult['counts']) => ended.counts[state] ?? 0;
  const done =
    kind === 'rollback'
      ? `rolled back ${count('rolledBack')}`
      : `returned ${count('updated') + count('imageAssigned')}`;
  return `${ended.phase}: ${done}, failed ${count('failed') + count('rollbackFailed')}`;
}

async function follow(client: Client, result: RecallResult, out: Output): Promise<ExitCode[]> {
  return Promise.all(
    followed(result).map(async ({ workflowId, kind }) => {
      const end = await watchWorkflow<RolloutProgress, RolloutResult>(client.workflow.getHandle(workflowId), {
        query: (h) => h.query(progressQuery, { limit: 1 }),
        onChange: ({ catalogs: _page, page: _p, ...summary }) =>
          out.event(
            { event: 'progress', workflowId, ...summary },
            `${clock()}  ${workflowId}  ${describeProgress(summary)}`,
          ),
        ...connectionReports(out),
        refreshMs: 2000,
      });
      const { code, result: ended } = judge(kind, end);
      const how = describeEnd(kind, end, ended);
      out.event(
        { event: 'ended', workflowId, kind, phase: ended?.phase, counts: ended?.counts, ok: code === ExitCode.Done },
        `${clock()}  ${workflowId} (${kind}) ${how}${code === ExitCode.Done ? '' : '  <- needs a look'}`,
      );
      return code;
    }),
  );
}

/** A definite failure outweighs not knowing; either outweighs success. */
const worst = (codes: ExitCode[]) =>
  codes.includes(ExitCode.Failed)
    ? ExitCode.Failed
    : codes.includes(ExitCode.Unknown)
      ? ExitCode.Unknown
      : ExitCode.Done;

export function addRecallCommand(rollout: Command, setExit: (code: ExitCode) => void): void {
  rollout
    .command('recall')
    .description(
      'recall a bad image: roll back its running rollouts, pause the schedules that would roll it out, and restore ' +
        'the catalogs its finished rollouts moved; shows the plan and asks first',
    )
    .requiredOption('--image <id>', 'the image to recall')
    .option('--by <name>', 'who recalls it (recorded in every rollout and schedule it touches)', operatorName())
    .option('--reason <text>', 'why (recorded likewise)')
    .option('--dry-run', 'list what the recall would do; change nothing', false)
    .option('--yes', 'recall without asking', false)
    .option('--wait', 'follow the rollbacks and restores until they end; the exit code says how they ended', false)
    .option('--json', 'print JSON lines', false)
    .action(async (options, command: Command) => {
      const out = new Output(options.json);
      const request = parseRecallRequest({ imageId: options.image, by: options.by, reason: options.reason });
      await withClient(command, async (client, taskQueue) => {
        const plan = await planRecall(client, taskQueue, request);
        const entries = printPlan(out, plan, options.dryRun);
        const end = (code: ExitCode, summary: Record<string, unknown>, human: string) => {
          out.event(
            { event: 'result', imageId: plan.imageId, by: plan.by, reason: plan.reason, ...summary, exitCode: code },
            human,
          );
          setExit(code);
        };
        const unplanned = plan.finished.filter((f) => f.planError).length;
        if (options.dryRun) {
          return end(unplanned ? ExitCode.Failed : ExitCode.Done, { dryRun: true, unplanned }, '');
        }
        if (!entries.some((e) => e.action !== 'leave')) {
          return end(
            ExitCode.Done,
            { nothingToDo: true },
            `nothing to recall: nothing of image ${plan.imageId} is left to undo`,
          );
        }
        await confirmOrRefuse(options.yes, `recall image ${plan.imageId} as shown?`, 'recall the image');
        const result = await executeRecall(client, taskQueue, plan);
        printSteps(out, result);
        const codes: ExitCode[] = [result.failed > 0 ? ExitCode.Failed : ExitCode.Done];
        if (options.wait) codes.push(...(await follow(client, result, out)));
        const count = (...outcomes: RecallStep['outcome'][]) =>
          result.steps.filter((step) => outcomes.includes(step.outcome)).length;
        const summary = {
          rollingBack: count('rollbackRequested'),
          restoring: count('restoreStarted', 'alreadyRestoring'),
          paused: count('paused'),
          left: count('alreadyPaused', 'notPaused', 'alreadyRestored', 'nothingToRestore'),
          failed: result.failed,
        };
        end(
          worst(codes),
          summary,
          `recall of ${plan.imageId}: ${summary.rollingBack} rollback(s) requested, ${summary.restoring} restore(s), ` +
            `${summary.paused} schedule(s) paused, ${summary.left} left; ` +
            (result.failed ? `${result.failed} FAILED (above)` : 'nothing failed'),
        );
      });
    });
}
