/**
 * How every command speaks: one exit-code table, JSON lines for scripts (`--json`), aligned tables for people, and
 * errors as the innermost cause with flag names instead of input fields.
 */
import { CommanderError } from 'commander';
import { ConfigError } from '../config';
import { CatalogBusyError, SearchAttributesMissingError, TemporalUnreachableError, innermostCause } from '../client';
import { TracingConfigError } from '../observability/tracing-config';
import { InvalidInputError } from '../shared';

/** The exit codes of every command (README "Exit codes"). */
export const ExitCode = {
  /** Done: the command did what it was asked; a watched workflow ended well. */
  Done: 0,
  /** The workflow (or the command) failed, halted, was aborted, cancelled, rolled back or refused. */
  Failed: 1,
  /** Bad input or configuration: nothing was started or changed. */
  BadInput: 2,
  /** Could not tell: Temporal was unreachable, or stayed away while a workflow was watched. */
  Unknown: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error that ends a command with a given exit code and message. */
export class CommandError extends Error {
  override name = 'CommandError';
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    /** Printed as the last JSON line under `--json`. */
    readonly event?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Input fields as the flags that set them, so that a refusal names what the operator typed. */
const FLAG_OF_FIELD: Record<string, string> = {
  catalogId: '--catalog',
  imageId: '--image',
  imageNamePattern: '--image-pattern',
  vdaUpdateDelayMinutes: '--vda-update-delay',
  warningTitle: '--warning-title',
  warningMessage: '--warning-message',
  citrixPrepared: '--citrix-prepared',
  pollIntervalMs: '--poll-interval',
  deadlineMs: '--deadline',
  startTimeoutMs: '--start-timeout',
  requestedBy: '--requested-by',
  rolloutId: '--id',
  catalogIds: '--catalogs',
  allCatalogs: '--all-catalogs',
  catalogNamePattern: '--name-pattern',
  excludeCatalogIds: '--exclude',
  waves: '--waves',
  canaryCount: '--canary',
  canaryPercent: '--canary-percent',
  batchSize: '--batch-size',
  maxParallel: '--max-parallel',
  approval: '--approval',
  bakeTimeMs: '--bake',
  failureBudget: '--failure-budget',
  rollbackOnHalt: '--rollback-on-halt',
  dryRun: '--dry-run',
  startAt: '--start-at',
  maintenanceWindow: '--window',
  catalogDeadlineMs: '--catalog-deadline',
  healthGate: '--no-health-gate',
  healthWaitMs: '--health-wait',
  minRegisteredPercent: '--min-registered',
  minMachinesOnImage: '--min-machines',
};
const FIELD_PATTERN = new RegExp(`\\b(${Object.keys(FLAG_OF_FIELD).join('|')})((?:\\.\\w+)*)\\b`, 'g');

/**
 * A validation message in the CLI's terms: `deadlineMs must be …` reads `--deadline must be …`, and a path into a
 * list (`catalogIds.2`, `maintenanceWindow.days.0`) names the flag and the item (`--catalogs #3`, `--window days #1`).
 */
export function withFlagNames(message: string): string {
  return (
    message
      .replace(FIELD_PATTERN, (_match, field: string, path: string) => {
        const parts = path
          .split('.')
          .filter(Boolean)
          .map((part) => (/^\d+$/.test(part) ? `#${Number(part) + 1}` : part));
        return [FLAG_OF_FIELD[field] ?? field, ...parts].join(' ');
      })
      // `--catalog: --catalog must be …` says the flag once.
      .replace(/(--[a-z-]+(?: \S+)?): \1 /g, '$1 ')
  );
}

export class Output {
  constructor(
    readonly json: boolean,
    private readonly write: (line: string) => void = (line) => console.log(line),
  ) {}

  /** One event: a JSON line under `--json`, else the human text (nothing when it is empty). */
  event(value: Record<string, unknown>, human: string): void {
    if (this.json) this.write(JSON.stringify(value));
    else if (human) this.write(human);
  }

  line(human: string): void {
    if (!this.json) this.write(human);
  }

  /** How a watched workflow ended badly: a JSON line under `--json`, else a line on standard error. */
  failure(value: Record<string, unknown>, human: string): void {
    if (this.json) this.write(JSON.stringify(value));
    else console.error(human);
  }
}

/** Rows as aligned columns; the last column is not padded. */
export function table(rows: string[][], indent = ''): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => indent + row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '))
    .join('\n')
    .trimEnd();
}

/** The exit code and the message for an error that ended a command. */
export function describeError(error: unknown): { exitCode: ExitCode; message: string; type: string } {
  if (error instanceof CommandError) return { exitCode: error.exitCode, message: error.message, type: 'Error' };
  if (error instanceof InvalidInputError || error instanceof ConfigError) {
    return { exitCode: ExitCode.BadInput, message: withFlagNames(error.message), type: error.name };
  }
  if (error instanceof SearchAttributesMissingError || error instanceof TracingConfigError) {
    return { exitCode: ExitCode.BadInput, message: error.message, type: error.name };
  }
  if (error instanceof TemporalUnreachableError) {
    return { exitCode: ExitCode.Unknown, message: error.message, type: error.name };
  }
  if (error instanceof CatalogBusyError) return { exitCode: ExitCode.Failed, message: error.message, type: error.name };
  const cause = innermostCause(error);
  return { exitCode: ExitCode.Failed, message: cause.message, type: cause.type };
}

export function isCommanderExit(error: unknown): error is CommanderError {
  return error instanceof CommanderError;
}
