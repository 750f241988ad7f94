/** start, status and cancel: the image update of one catalog. */
import { type Command, Option } from 'commander';
import {
  type Inspection,
  type UpdateHandle,
  type WatchEnd,
  inspectWorkflow,
  startCatalogUpdate,
  updateHandle,
  parseUpdateRequest,
  watchWorkflow,
} from '../client';
import type { CatalogUpdateResult, CatalogUpdateStatus } from '../shared';
import { HOUR } from '../shared/time';
import { statusQuery } from '../workflows';
import { withClient } from './context';
import { clock, connectionReports, reportUnfinished } from './follow';
import { duration, integer } from './options';
import { CommandError, ExitCode, Output, withFlagNames } from './output';
import { describeInspection, describeResult, describeStatus } from './render';

/** Follows an update to its end, printing each change; the exit code says how it ended. */
export async function followUpdate(handle: UpdateHandle, out: Output): Promise<ExitCode> {
  const end: WatchEnd<CatalogUpdateResult> = await watchWorkflow<CatalogUpdateStatus, CatalogUpdateResult>(handle, {
    query: (h) => h.query(statusQuery),
    onChange: (status) => out.event({ event: 'status', ...status }, `${clock()}  ${describeStatus(status)}`),
    ...connectionReports(out),
  });
  if (end.kind !== 'completed') return reportUnfinished(end, out);
  out.event({ event: 'result', ...end.result }, describeResult(end.result));
  return ExitCode.Done;
}

/** The exit code a closed or running update stands for. */
function exitCodeOf(inspection: Inspection<unknown, unknown>): ExitCode {
  if (inspection.executionStatus === 'RUNNING' || inspection.executionStatus === 'COMPLETED') return ExitCode.Done;
  return ExitCode.Failed;
}

/** How long `start` waits to show the post's transaction id; the update goes on either way. */
const START_POST_WAIT_MS = 30_000;

export function addUpdateCommands(program: Command, setExit: (code: ExitCode) => void): void {
  program
    .command('start')
    .description('start the image update of one catalog and print its workflow id')
    .requiredOption('--catalog <id>', 'catalog id (GUID)')
    .requiredOption('--image <id>', 'template image id to move the catalog to')
    .addOption(
      new Option('--vda-update-delay <minutes>', '-1 next shutdown, 0 restart now, N spread restarts over N minutes')
        .argParser(integer)
        .default(-1),
    )
    .option('--warning-title <text>', 'title of the restart warning shown to users')
    .option('--warning-message <text>', 'restart warning shown to users (%m% = minutes left)')
    .option('--citrix-prepared', 'assert that the image is prepared by Citrix (by default the image says so itself)')
    .addOption(
      new Option('--poll-interval <duration>', 'how often to read the catalog')
        .argParser(duration)
        .default(30_000, '30s'),
    )
    .addOption(
      new Option('--deadline <duration>', 'fail if the update has not finished by then')
        .argParser(duration)
        .default(6 * HOUR, '6h'),
    )
    .addOption(
      new Option('--start-timeout <duration>', 'how long the catalog may show no sign of the update after the post')
        .argParser(duration)
        .default(600_000, '10m'),
    )
    .option('--requested-by <name>', 'who asked for it (recorded in the workflow input)')
    .option('--wait', 'show progress until the update ends; the exit code says how it ended', false)
    .option('--json', 'print JSON lines for scripts', false)
    .action(async (options, command: Command) => {
      const out = new Output(options.json);
      // Bad input is reported before anything, even the Temporal connection, is tried.
      const request = parseUpdateRequest({
        catalogId: options.catalog,
        imageId: options.image,
        citrixPrepared: options.citrixPrepared,
        vdaUpdateDelayMinutes: options.vdaUpdateDelay,
        warningTitle: options.warningTitle,
        warningMessage: options.warningMessage,
        pollIntervalMs: options.pollInterval,
        deadlineMs: options.deadline,
        startTimeoutMs: options.startTimeout,
        requestedBy: options.requestedBy,
      });
      await withClient(command, async (client, taskQueue) => {
        const { handle, attached, ignored, outcome } = await startCatalogUpdate(client, taskQueue, request, {
          postWaitMs: START_POST_WAIT_MS,
        });
        const ignoredFlags = ignored.map(withFlagNames);
        const posted = outcome?.transactionId
          ? `\nposted to Citrix (citrix-transactionId ${outcome.transactionId})`
          : outcome
            ? `\nnothing posted: the update is ${outcome.phase}`
            : '';
        out.event(
          {
            event: attached ? 'attached' : 'started',
            workflowId: handle.workflowId,
            ignored: ignoredFlags,
            ...(outcome && { phase: outcome.phase, transactionId: outcome.transactionId }),
          },
          (attached
            ? `already updating to this image; attached to ${handle.workflowId}` +
              (ignoredFlags.length
                ? `\nthe running update keeps its own ${ignoredFlags.join(', ')}: these options were ignored`
                : '')
            : `started ${handle.workflowId}`) + posted,
        );
        if (options.wait) setExit(await followUpdate(handle, out));
      });
    });

  program
    .command('status')
    .description('show the status of an update (workflow id or catalog id); --wait follows it to the end')
    .argument('<id>', 'workflow id, or the catalog id')
    .option('--wait', 'follow the update until it ends; the exit code says how it ended', false)
    .option('--json', 'print JSON', false)
    .action(async (id: string, options, command: Command) => {
      const out = new Output(options.json);
      await withClient(command, async (client) => {
        const handle = updateHandle(client, id);
        const inspection = await inspectWorkflow<CatalogUpdateStatus, CatalogUpdateResult>(client, handle, (h) =>
          h.query(statusQuery),
        );
        const { answer, result, failure, executionStatus, ...rest } = inspection;
        out.event(
          {
            ...rest,
            workflowStatus: executionStatus,
            status: answer,
            outcome: result ?? (failure && { error: failure.message, type: failure.type }),
          },
          [
            describeInspection(inspection),
            inspection.answer ? describeStatus(inspection.answer) : '',
            inspection.result ? describeResult(inspection.result) : '',
          ]
            .filter(Boolean)
            .join('\n'),
        );
        setExit(
          options.wait && inspection.executionStatus === 'RUNNING'
            ? await followUpdate(handle, out)
            : exitCodeOf(inspection),
        );
      });
    });

  program
    .command('cancel')
    .description(
      'cancel an update: before the post nothing happens; after it, Citrix keeps updating and the watch stops',
    )
    .argument('<id>', 'workflow id, or the catalog id')
    .option('--json', 'print JSON', false)
    .action(async (id: string, options, command: Command) => {
      const out = new Output(options.json);
      await withClient(command, async (client) => {
        const handle = updateHandle(client, id);
        const description = await handle.describe();
        if (description.status.name !== 'RUNNING') {
          throw new CommandError(
            `nothing to cancel: ${handle.workflowId} already ended ${description.status.name} at ` +
              `${description.closeTime?.toISOString() ?? 'an unknown time'} ("status ${handle.workflowId}" shows how)`,
            ExitCode.BadInput,
            { event: 'notRunning', workflowId: handle.workflowId, executionStatus: description.status.name },
          );
        }
        await handle.cancel();
        out.event(
          { event: 'cancelRequested', workflowId: handle.workflowId },
          `cancel requested for ${handle.workflowId}`,
        );
        setExit(await followUpdate(handle, out));
      });
    });
}
