import { chmod, writeFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { duration, integer, print, withClient } from './cli-support';
import {
  createRolloutSchedule,
  describeCatalogs,
  describeProgress,
  exportHistory,
  listWorkflows,
  parseRolloutInput,
  retryWorkflow,
  rolloutHandle,
  startRollout,
  triggerRolloutSchedule,
  watchRollout,
} from './operations';
import { type MaintenanceWindow, type RolloutInput, catalogsOf } from './shared/rollout';
import { abortSignal, approveUpdate, pauseSignal, progressQuery, resumeSignal, rollbackSignal } from './workflows';

const list = (value: string) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

/** `Sat,Sun 01:00-05:00 Europe/Berlin` */
function maintenanceWindow(value: string): MaintenanceWindow {
  const match = /^([A-Za-z,]+)\s+(\d\d:\d\d)-(\d\d:\d\d)\s+(\S+)$/.exec(value.trim());
  if (!match)
    throw new InvalidArgumentError('expected days, times and a time zone, such as "Sat 01:00-05:00 Europe/Berlin"');
  const [, days, start, end, timeZone] = match;
  return { days: list(days!) as MaintenanceWindow['days'], start: start!, end: end!, timeZone: timeZone! };
}

function addRolloutOptions(command: Command): Command {
  return command
    .option('--catalogs <ids>', 'comma-separated catalog ids, in order', list)
    .option('--all-catalogs', 'every catalog of the site (resolved when the rollout starts)', false)
    .option('--name-pattern <regex>', 'with --all-catalogs: only catalogs whose name matches')
    .option('--exclude <ids>', 'comma-separated catalog ids to leave out', list)
    .option('--waves <waves>', 'explicit waves: ids separated by commas, waves by semicolons', (v) =>
      v.split(';').map(list),
    )
    .addOption(new Option('--canary <count>', 'catalogs in the canary wave (default 1)').argParser(integer))
    .addOption(
      new Option('--canary-percent <percent>', 'canary wave as a percentage of the catalogs').argParser(Number),
    )
    .addOption(new Option('--batch-size <count>', 'catalogs per wave after the canary (default 10)').argParser(integer))
    .addOption(new Option('--max-parallel <count>', 'catalogs updated at once (default 5)').argParser(integer))
    .addOption(new Option('--approval <when>', 'approval gate').choices(['none', 'afterCanary', 'everyWave']))
    .addOption(new Option('--bake <duration>', 'wait after each wave, such as 30m').argParser(duration))
    .addOption(
      new Option(
        '--failure-budget <count>',
        'failed catalogs tolerated before the rollout halts (default 0)',
      ).argParser(integer),
    )
    .option('--rollback-on-halt', 'return moved catalogs to their previous image when the rollout halts', false)
    .option('--dry-run', 'resolve, validate and print the plan; post nothing', false)
    .option('--start-at <iso time>', 'do not start before this time')
    .addOption(
      new Option('--window <window>', 'start waves only inside, e.g. "Sat 01:00-05:00 Europe/Berlin"').argParser(
        maintenanceWindow,
      ),
    )
    .option('--no-notify', 'send no webhook notifications')
    .addOption(
      new Option('--vda-update-delay <minutes>', '-1 next shutdown, 0 now, N spread over N minutes').argParser(integer),
    )
    .option('--warning-title <text>', 'title of the restart warning')
    .option('--warning-message <text>', 'restart warning (%m% = minutes left)')
    .option('--citrix-prepared', 'assert that the image is prepared by Citrix (by default the image says so itself)')
    .addOption(
      new Option('--poll-interval <duration>', 'how often each catalog is read (default 30s)').argParser(duration),
    )
    .addOption(new Option('--catalog-deadline <duration>', "each catalog's deadline (default 6h)").argParser(duration))
    .option('--requested-by <name>', 'who asked for it');
}

// Commander's option bag: every flag of addRolloutOptions, untyped.
type RolloutFlags = Record<string, unknown>;

function rolloutInputFrom(
  options: RolloutFlags,
  image: Pick<RolloutInput, 'imageId' | 'imageNamePattern'>,
): RolloutInput {
  const input: Record<string, unknown> = {
    ...image,
    catalogIds: options['catalogs'],
    allCatalogs: options['allCatalogs'] || undefined,
    catalogNamePattern: options['namePattern'],
    excludeCatalogIds: options['exclude'],
    waves: options['waves'],
    canaryCount: options['canary'],
    canaryPercent: options['canaryPercent'],
    batchSize: options['batchSize'],
    maxParallel: options['maxParallel'],
    approval: options['approval'],
    bakeTimeMs: options['bake'],
    failureBudget: options['failureBudget'],
    rollbackOnHalt: options['rollbackOnHalt'],
    dryRun: options['dryRun'],
    startAt: options['startAt'],
    maintenanceWindow: options['window'],
    notify: options['notify'],
    vdaUpdateDelayMinutes: options['vdaUpdateDelay'],
    warningTitle: options['warningTitle'],
    warningMessage: options['warningMessage'],
    citrixPrepared: options['citrixPrepared'],
    pollIntervalMs: options['pollInterval'],
    catalogDeadlineMs: options['catalogDeadline'],
    requestedBy: options['requestedBy'],
  };
  for (const key of Object.keys(input)) if (input[key] === undefined) delete input[key];
  return input as RolloutInput;
}

/** rollout, list, retry, history and schedule: the commands for fleets of catalogs and for operations. */
export function addOperationCommands(program: Command): void {
  const rollout = program.command('rollout').description('roll an image out to many catalogs in waves');

  addRolloutOptions(
    rollout
      .command('start')
      .description('start a rollout (prints its id); --wait follows it to the end')
      .option('--id <rolloutId>', 'name of the rollout (default: the start time)')
      .option('--image <id>', 'template image id')
      .option('--image-pattern <regex>', 'instead of --image: the newest Ready image whose name matches'),
  )
    .option('--wait', 'follow progress until the rollout ends; exit non-zero if it halts', false)
    .option('--json', 'print JSON lines', false)
    .action(async (options) => {
      const input = parseRolloutInput(
        rolloutInputFrom(options, { imageId: options.image, imageNamePattern: options.imagePattern }),
      );
      await withClient(async (client, taskQueue) => {
        const handle = await startRollout(client, taskQueue, { ...input, rolloutId: options.id });
        print(options.json, { event: 'started', workflowId: handle.workflowId }, `started ${handle.workflowId}`);
        if (!options.wait) return;
        const outcome = await watchRollout(handle, (line) => console.log(line), { json: options.json });
        if (outcome.progress) {
          print(options.json, { event: 'result', ...outcome.progress }, describeCatalogs(catalogsOf(outcome.progress)));
        }
        if (outcome.failed) throw new Error(outcome.message);
      });
    });

  rollout
    .command('status')
    .argument('<rolloutId>', 'rollout id or its workflow id')
    .option('--json', 'print JSON', false)
    .description('progress of a rollout, per wave and per catalog')
    .action(async (rolloutId: string, options) => {
      await withClient(async (client) => {
        const progress = await rolloutHandle(client, rolloutId).query(progressQuery);
        const more =
          progress.page.total > progress.catalogs.length
            ? `\n  … ${progress.page.total - progress.catalogs.length} more catalogs (--json shows the first ${progress.catalogs.length})`
            : '';
        print(options.json, progress, `${describeProgress(progress)}\n${describeCatalogs(progress.catalogs)}${more}`);
      });
    });

  const steer = (
    name: string,
    description: string,
    act: (rolloutId: string, options: Record<string, string>) => Promise<string>,
  ) =>
    rollout
      .command(name)
      .description(description)
      .argument('<rolloutId>', 'rollout id or its workflow id')
      .option('--by <name>', 'who does it (recorded)', process.env.USER ?? 'operator')
      .option('--reason <text>', 'why (recorded)')
      .action(async (rolloutId: string, options) => console.log(await act(rolloutId, options)));

  steer('pause', 'finish the catalogs in flight, start no new ones', (id) =>
    withClient(async (client) => (await rolloutHandle(client, id).signal(pauseSignal), `paused ${id}`)),
  );
  steer('resume', 'start catalogs again after a pause', (id) =>
    withClient(async (client) => (await rolloutHandle(client, id).signal(resumeSignal), `resumed ${id}`)),
  );
  steer('abort', 'start no more catalogs; the ones in flight are watched to the end', (id, o) =>
    withClient(async (client) => {
      await rolloutHandle(client, id).signal(abortSignal, { by: o['by'], reason: o['reason'] });
      return `abort requested for ${id}`;
    }),
  );
  steer(
    'rollback',
    'return the catalogs this rollout moved to their previous image (a running rollout aborts first; ' +
      'a finished one is undone by a new restore rollout)',
    (id, o) =>
      withClient(async (client, taskQueue) => {
        const handle = rolloutHandle(client, id);
        if ((await handle.describe()).status.name === 'RUNNING') {
          await handle.signal(rollbackSignal, { by: o['by'] });
          return `rollback requested for ${handle.workflowId}`;
        }
        const restore = await startRollout(client, taskQueue, {
          rolloutId: `${handle.workflowId.replace(/^rollout-/, '')}-restore`,
          restoreRolloutId: id,
          canaryCount: 0,
          requestedBy: o['by'],
        });
        return `started ${restore.workflowId}: it returns the catalogs that ${handle.workflowId} moved to their previous images`;
      }),
  );
  steer('approve', 'let the wave that waits for approval start', (id, o) =>
    withClient(async (client) => {
      const approved = await rolloutHandle(client, id).executeUpdate(approveUpdate, { args: [{ by: o['by']! }] });
      return `wave ${approved.wave + 1} approved by ${approved.approvedBy}`;
    }),
  );

  program
    .command('list')
    .description('find updates and rollouts by status, catalog, image or rollout (search attributes)')
    .option('--running', 'only running ones', false)
    .option('--failed', 'only failed, timed-out or terminated ones', false)
    .option('--catalog <id>', 'catalog id')
    .option('--image <id>', 'image id')
    .option('--rollout <id>', 'rollout id')
    .addOption(new Option('--type <type>', 'only catalog updates or only rollouts').choices(['update', 'rollout']))
    .option('--json', 'print JSON', false)
    .action(async (options) => {
      await withClient(async (client) => {
        const found = await listWorkflows(client, {
          running: options.running,
          failed: options.failed,
          catalogId: options.catalog,
          imageId: options.image,
          rolloutId: options.rollout,
          type: options.type,
        });
        const rows = found.map((w) => ({
          workflowId: w.workflowId,
          type: w.type,
          status: w.status.name,
          startTime: w.startTime.toISOString(),
          closeTime: w.closeTime?.toISOString(),
        }));
        print(
          options.json,
          rows,
          rows.map((r) => `${r.status.padEnd(11)} ${r.type.padEnd(19)} ${r.startTime}  ${r.workflowId}`).join('\n') ||
            '(none)',
        );
      });
    });

  program
    .command('retry')
    .description('start a fresh run of a failed or timed-out workflow from its recorded input')
    .argument('<workflowId>', 'workflow id')
    .action(async (workflowId: string) => {
      await withClient(async (client) => {
        const handle = await retryWorkflow(client, workflowId);
        console.log(`started a new run of ${handle.workflowId}`);
      });
    });

  program
    .command('history')
    .description('workflow histories')
    .command('export')
    .description('save a history as JSON, for replay tests and bug reports')
    .argument('<workflowId>', 'workflow id')
    .option('--run <runId>', 'a particular run (default: the latest)')
    .option('--out <file>', 'write to this file instead of standard output')
    .action(async (workflowId: string, options) => {
      await withClient(async (client) => {
        const json = await exportHistory(client, workflowId, options.run);
        // A history holds catalog names, images and messages: readable by its owner only.
        if (options.out) {
          await writeFile(options.out, json, { mode: 0o600 });
          await chmod(options.out, 0o600);
        } else console.log(json);
      });
    });

  const schedule = program.command('schedule').description('rollouts on a calendar (Temporal Schedules)');
  addRolloutOptions(
    schedule
      .command('create')
      .description('create a schedule that starts a rollout; overlapping runs are skipped')
      .requiredOption('--id <scheduleId>', 'schedule id')
      .requiredOption(
        '--cron <expression>',
        'cron expression, such as "0 3 * * 3"; repeat for several',
        (v, all: string[] = []) => [...all, v],
      )
      .option('--time-zone <iana>', 'time zone of the cron expression, such as Europe/Berlin')
      .option('--image <id>', 'template image id')
      .option('--image-pattern <regex>', 'the newest Ready image whose name matches, resolved at each run')
      .option('--note <text>', 'a note shown with the schedule'),
  ).action(async (options) => {
    const rolloutInput = rolloutInputFrom(options, { imageId: options.image, imageNamePattern: options.imagePattern });
    parseRolloutInput(rolloutInput);
    await withClient(async (client, taskQueue) => {
      const handle = await createRolloutSchedule(client, taskQueue, {
        scheduleId: options.id,
        cron: options.cron,
        timeZone: options.timeZone,
        rollout: rolloutInput,
        note: options.note,
      });
      console.log(`created schedule ${handle.scheduleId}`);
    });
  });

  schedule
    .command('list')
    .option('--json', 'print JSON', false)
    .action(async (options) => {
      await withClient(async (client) => {
        const rows = [];
        for await (const entry of client.schedule.list()) {
          rows.push({ scheduleId: entry.scheduleId, paused: entry.state.paused, next: entry.info.nextActionTimes[0] });
        }
        print(
          options.json,
          rows,
          rows.map((r) => `${r.scheduleId}  ${r.paused ? 'paused' : `next ${r.next?.toISOString()}`}`).join('\n') ||
            '(none)',
        );
      });
    });

  const scheduleAction = (
    name: string,
    description: string,
    act: 'describe' | 'pause' | 'unpause' | 'trigger' | 'delete',
  ) =>
    schedule
      .command(name)
      .description(description)
      .argument('<scheduleId>', 'schedule id')
      .option('--note <text>', 'why (pause/unpause)')
      .action(async (scheduleId: string, options) => {
        await withClient(async (client) => {
          const handle = client.schedule.getHandle(scheduleId);
          if (act === 'describe') console.log(JSON.stringify(await handle.describe(), null, 2));
          else if (act === 'pause' || act === 'unpause') await handle[act](options.note);
          else if (act === 'trigger') await triggerRolloutSchedule(client, scheduleId);
          else await handle[act]();
          if (act !== 'describe') console.log(`${act}: ${scheduleId}`);
        });
      });
  scheduleAction('describe', 'show a schedule, its next and recent runs', 'describe');
  scheduleAction('pause', 'stop starting rollouts until unpaused', 'pause');
  scheduleAction('unpause', 'start rollouts on the calendar again', 'unpause');
  scheduleAction('trigger', 'start a rollout now, unless the last one still runs', 'trigger');
  scheduleAction('delete', 'delete the schedule (running rollouts go on)', 'delete');
}
