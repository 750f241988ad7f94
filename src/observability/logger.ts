import type { LogLevel, LogMetadata } from '@temporalio/common';
import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import { SecretRedactor } from '../citrix/sanitize';

/**
 * Replaces every known secret (in raw, URL-encoded, form-encoded and JSON-escaped form) and anything shaped like a
 * credential in a text. Defence in depth: nothing in this project logs secrets on purpose, but an error from a
 * dependency might quote a request.
 */
export function createRedactor(secrets: (string | undefined)[] | SecretRedactor): (text: string) => string {
  const redactor = secrets instanceof SecretRedactor ? secrets : new SecretRedactor(secrets);
  return (text) => redactor.redact(text);
}

function plain(value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, stack: value.stack, cause: plain(value.cause) };
  }
  return value;
}

/** One JSON object per line: `time`, `level`, `msg`, then the SDK's metadata (`workflowId`, `activityType`, …). */
export function formatLogEntry(entry: LogEntry, redact: (text: string) => string): string {
  const { level, message, meta } = entry;
  const record: Record<string, unknown> = {
    time: new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString(),
    level: level.toLowerCase(),
    msg: message,
  };
  for (const [key, value] of Object.entries((meta ?? {}) as LogMetadata)) {
    if (!(key in record)) record[key] = plain(value);
  }
  let line: string;
  try {
    line = JSON.stringify(record);
  } catch {
    line = JSON.stringify({ time: record.time, level: record.level, msg: message });
  }
  return redact(line);
}

/**
 * The worker's logger: JSON lines on stdout, secrets redacted. Pass the `SecretRedactor` the Citrix client uses, so
 * that the tokens it is issued are redacted too.
 */
export function createJsonLogger(options: {
  level: LogLevel;
  secrets: (string | undefined)[] | SecretRedactor;
  write?: (line: string) => void;
}): DefaultLogger {
  const redact = createRedactor(options.secrets);
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  return new DefaultLogger(options.level, (entry) => write(formatLogEntry(entry, redact)));
}
