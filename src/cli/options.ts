/** Parsing of flags: durations, counts, lists, maintenance windows, and the options every rollout command shares. */
import { type Command, InvalidArgumentError, Option } from 'commander';
import ms from 'ms';
import type { MaintenanceWindow, RolloutInput } from '../shared/rollout';

export function duration(value: string): number {
  const parsed = /[a-z]/i.test(value) ? ms(value as ms.StringValue) : undefined;
  if (parsed === undefined || !Number.isFinite(parsed) || parsed <= 0) {
    throw new InvalidArgumentError('expected a duration with a unit, such as 30s, 5m or 2h');
  }
  return parsed;
}

/** A duration, or `0` for none. */
export function durationOrZero(value: string): number {
  return value.trim() === '0' ? 0 : duration(value);
}

export function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) throw new InvalidArgumentError('expected a whole number');
  return parsed;
}

export const list = (value: string) =>
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

export function addRolloutOptions(command: Command): Command {
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
    .option('--requested-by <name>', 'who asked for it')
    .option('--no-health-gate', "do not judge waves by their machines (only the catalogs' own outcome counts)")
    .addOption(
      new Option(
        '--health-wait <duration>',
        'time machines get to restart and register before a wave is judged (default 10m)',
      ).argParser(durationOrZero),
    )
    .addOption(
      new Option(
        '--min-registered <percent>',
        'registered share of powered-on machines on the new image (default 90)',
      ).argParser(Number),
    )
    .addOption(
      new Option(
        '--min-machines <count>',
        'powered-on machines on the new image needed to judge a catalog (default 1)',
      ).argParser(integer),
    );
}

// Commander's option bag: every flag of addRolloutOptions, untyped.
export type RolloutFlags = Record<string, unknown>;

export function rolloutInputFrom(
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
    healthGate: options['healthGate'] === false ? false : undefined,
    healthWaitMs: options['healthWait'],
    minRegisteredPercent: options['minRegistered'],
    minMachinesOnImage: options['minMachines'],
  };
  for (const key of Object.keys(input)) if (input[key] === undefined) delete input[key];
  return input as RolloutInput;
}

/** Who does a steering action: `--by`, else the login name. */
export function operatorName(): string {
  return process.env.USER || process.env.USERNAME || 'operator';
}
