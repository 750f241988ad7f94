/** rollout start|status|pause|resume|abort|approve|rollback: rolling an image out to many catalogs in waves. */
import type { Command } from 'commander';
import {
  type Inspection,
  type RolloutHandle,
  SteeringRefusedError,
  type SteeringName,
  type WatchEnd,
  inspectWorkflow,
  parseRolloutInput,
  restoreStarter,
  rolloutHandle,
  startRollout,
  steerRollout,
  watchWorkflow,
} from '../client';
import { type RolloutProgress, type RolloutResult, type RolloutSummary, catalogsOf } from '../shared/rollout';
import { type SteeringStep, approveUpdate, progressQuery } from '../workflows';
import { confirmOrRefuse } from './confirm';
import { withClient } from './context';
import { clock, connectionReports, reportUnfinished } from './follow';
import { addRolloutOptions, operatorName, rolloutInputFrom } from './options';
import { CommandError, ExitCode, Output } from './output';
import { describeCatalogs, describeInspection, describeProgress, describeRolloutHeader } from './render';

/** A rollout that ended but did not do what it was asked is a failure for scripts: aborted, rolled back, a bad plan. */
export function rolloutExitCode(summary: RolloutSummary): ExitCode {
  if (summary.phase === 'halted' || summary.phase === 'aborted') return ExitCode.Failed;
  if ((summary.counts.rolledBack ?? 0) > 0 || (summary.counts.rollbackFailed ?? 0) > 0) return ExitCode.Failed;
  if (summary.dryRun && summary.errors.length > 0) return ExitCode.Failed;
  if ((summary.counts.failed ?? 0) > 0) return ExitCode.Failed;
  return ExitCode.Done;
}

/** A result with its ledger unfolded into the catalog list scripts read. */
function rolloutView(result: RolloutResult) {
  const { ledger: _ledger, ...summary } = result;
  return { ...summary, catalogs: catalogsOf(result) };
}

function describeRollout(rollout: RolloutResult | RolloutProgress): string {
  const catalogs = 'ledger' in rollout ? catalogsOf(rollout) : rollout.catalogs;
  return [describeRolloutHeader(rollout), describeProgress(rollout), describeCatalogs(catalogs, rollout)]
    .filter(Boolean)
    .join('\n');
}

function printRollout(out: Output, result: RolloutResult, event: string): void {
  out.event({ event, ...rolloutView(result) }, describeRollout(result));
}

/** Follows a rollout to its end; the exit code says how it ended. */
export async function followRollout(handle: RolloutHandle, out: Output): Promise<ExitCode> {
  const end: WatchEnd<RolloutResult> = await watchWorkflow<RolloutProgress, RolloutResult>(handle, {
    query: (h) => h.query(progressQuery, { limit: 1 }),
    onChange: ({ catalogs: _page, page: _p, ...summary }) =>
      out.event({ event: 'progress', ...summary }, `${clock()}  ${describeProgress(summary)}`),
    ...connectionReports(out),
    refreshMs: 2000,
  });
  if (end.kind !== 'completed') {
    // A halted rollout carries its result in the failure: its catalogs are shown before the reason.
    return reportUnfinished(end, out, (details) => {
      const halted = details?.[0] as RolloutResult | undefined;
      if (halted?.ledger) printRollout(out, halted, 'result');
    });
  }
  printRollout(out, end.result, 'result');
  return rolloutExitCode(end.result);
}

function exitCodeOf(inspection: Inspection<RolloutProgress, RolloutResult>): ExitCode {
  if (inspection.executionStatus === 'RUNNING') return ExitCode.Done;
  if (inspection.result) return rolloutExitCode(inspection.result);
  return ExitCode.Failed;
}

/** The `rollout` command group; other groups (`rollout recall`) add their subcommands to the command it returns. */
export function addRolloutCommands(program: Command, setExit: (code: ExitCode) => void): Command {
  const rollout = program.command('rollout').description('roll an image out to many catalogs in waves');

  addRolloutOptions(
    rollout
      .command('start')
      .description('start a rollout (prints its id); --wait follows it to the end')
      .option('--id <rolloutId>', 'name of the rollout (default: the start time)')
      .option('--image <id>', 'template image id')
      .option('--image-pattern <regex>', 'instead of --image: the newest Ready image whose name matches'),
  )
    .option('--wait', 'follow progress until the rollout ends; the exit code says how it ended', false)
    .option('--json', 'print JSON lines', false)
    .action(async (options, command: Command) => {
      const out = new Output(options.json);
      const input = parseRolloutInput(
        rolloutInputFrom(options, { imageId: options.image, imageNamePattern: options.imagePattern }),
      );
      await withClient(command, async (client, taskQueue) => {
        const handle = await startRollout(client, taskQueue, { ...input, rolloutId: options.id });
        out.event(
          { event: 'started', workflowId: handle.workflowId, ...(input.dryRun && { dryRun: true }) },
          `${input.dryRun ? 'DRY RUN: ' : ''}started ${handle.workflowId}`,
        );
        // A dry run is short and its plan is the point: it is always followed.
        if (options.wait || input.dryRun) setExit(await followRollout(handle, out));
      });
    });

  rollout
    .command('status')
    .argument('<rolloutId>', 'rollout id or its workflow id')
    .option('--wait', 'follow the rollout until it ends; the exit code says how it ended', false)
    .option('--json', 'print JSON', false)
    .description('progress of a rollout, per wave and per catalog')
    .action(async (rolloutId: string, options, command: Command) => {
      const out = new Output(options.json);
      await withClient(command, async (client) => {
        const handle = rolloutHandle(client, rolloutId);
        const inspection = await inspectWorkflow<RolloutProgress, RolloutResult>(client, handle, (h) =>
          h.query(progressQuery),
        );
        const { answer, result, executionStatus, ...rest } = inspection;
        const halted = inspection.failure?.details?.[0] as RolloutResult | undefined;
        const shown = answer ?? result ?? (halted?.ledger ? halted : undefined);
        if (options.json) {
          const rollout = shown && ('ledger' in shown ? rolloutView(shown) : shown);
          console.log(JSON.stringify({ ...rest, workflowStatus: executionStatus, ...rollout }));
        } else {
          console.log(describeInspection(inspection));
          if (shown) console.log(describeRollout(shown));
          if (answer && answer.page.total > answer.catalogs.length) {
            console.log(
              `  … ${answer.page.total - answer.catalogs.length} more catalogs (--json shows the first page)`,
            );
          }
        }
        setExit(
          options.wait && inspection.executionStatus === 'RUNNING'
            ? await followRollout(handle, out)
            : halted
              ? ExitCode.Failed
              : exitCodeOf(inspection),
        );
      });
    });

  const steer = (
    name: string,
    description: string,
    act: (handle: RolloutHandle, step: { by: string; reason?: string }) => Promise<{ said: string; outcome?: object }>,
  ) =>
    rollout
      .command(name)
      .description(description)
      .argument('<rolloutId>', 'rollout id or its workflow id')
      .option('--by <name>', 'who does it (recorded in the rollout)', operatorName())
      .option('--reason <text>', 'why (recorded in the rollout)')
      .option('--json', 'print JSON', false)
      .action(async (rolloutId: string, options, command: Command) => {
        const out = new Output(options.json);
        await withClient(command, async (client) => {
          const handle = rolloutHandle(client, rolloutId);
          const description = await handle.describe();
          if (description.status.name !== 'RUNNING') {
            throw new CommandError(
              `rollout ${rolloutId} already ended ${description.status.name}: nothing to ${name}`,
              ExitCode.BadInput,
            );
          }
          const { said, outcome } = await act(handle, { by: options.by, reason: options.reason });
          out.event(
            { event: name, workflowId: handle.workflowId, by: options.by, reason: options.reason, ...outcome },
            said,
          );
        });
      });

  /** Steers through the rollout's update; its refusal is the operator's to fix (exit 2). */
  const steerBy = (action: SteeringName, done: string) => async (handle: RolloutHandle, step: SteeringStep) => {
    const outcome = await steerRollout(handle, action, step).catch((error: unknown) => {
      if (error instanceof SteeringRefusedError) {
        throw new CommandError(`rollout ${handle.workflowId}: ${error.message}`, ExitCode.BadInput);
      }
      throw error;
    });
    const where = outcome ? ` — phase ${outcome.phase}${outcome.paused ? ', paused' : ''}` : '';
    return { said: `${done} ${handle.workflowId} (by ${step.by})${where}`, outcome };
  };

  steer('pause', 'finish the catalogs in flight, start no new ones', steerBy('pause', 'paused'));
  steer('resume', 'start catalogs again after a pause', steerBy('resume', 'resumed'));
  steer(
    'abort',
    'start no more catalogs; the ones in flight are watched to the end',
    steerBy('abort', 'abort requested for'),
  );
  steer('approve', 'let the wave that waits for approval start', async (handle, step) => {
    const approved = await handle.executeUpdate(approveUpdate, { args: [{ by: step.by, comment: step.reason }] });
    return { said: `wave ${approved.wave + 1} approved by ${approved.approvedBy}` };
  });

  rollout
    .command('rollback')
    .description(
      'return the catalogs this rollout moved to their previous image: a running rollout stops and rolls back; a ' +
        'finished one is undone by a restore rollout, in waves, after you confirm its plan',
    )
    .argument('<rolloutId>', 'rollout id or its workflow id')
    .option('--by <name>', 'who does it (recorded in the rollout)', operatorName())
    .option('--reason <text>', 'why (recorded in the rollout)')
    .option('--dry-run', 'show which catalogs would go back to which image; change nothing', false)
    .option('--yes', 'start the restore without asking', false)
    .option('--wait', 'follow the rollback until it ends', false)
    .option('--json', 'print JSON lines', false)
    .action(async (rolloutId: string, options, command: Command) => {
      const out = new Output(options.json);
      await withClient(command, async (client, taskQueue) => {
        const handle = rolloutHandle(client, rolloutId);
        const step = { by: options.by as string, reason: options.reason as string | undefined };
        if ((await handle.describe()).status.name === 'RUNNING') {
          if (options.dryRun) {
            throw new CommandError(
              `rollout ${rolloutId} is still running: its rollback returns every catalog it moved so far; ` +
                `"rollout status ${rolloutId}" lists them`,
              ExitCode.BadInput,
            );
          }
          const { said, outcome } = await steerBy('rollback', 'rollback requested for')(handle, step);
          out.event({ event: 'rollbackRequested', workflowId: handle.workflowId, ...outcome }, said);
          if (options.wait) setExit(await followRollout(handle, out));
          return;
        }
        const restore = await restoreStarter(client, taskQueue, rolloutId, step.by);
        // The plan is the restore rollout's own dry run: it reads what each catalog runs now.
        const planned = await followRollout(await restore.plan(), out);
        if (options.dryRun) return setExit(planned);
        await confirmOrRefuse(options.yes, 'start this restore?', 'start the restore');
        const { handle: started, alreadyStarted } = await restore.start();
        out.event(
          { event: alreadyStarted ? 'alreadyStarted' : 'started', workflowId: started.workflowId },
          alreadyStarted
            ? `${started.workflowId} already runs: it returns the catalogs that ${handle.workflowId} moved`
            : `started ${started.workflowId}: it returns the catalogs that ${handle.workflowId} moved, in waves`,
        );
        if (options.wait) setExit(await followRollout(started, out));
      });
    });
  return rollout;
}
