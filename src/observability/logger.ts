import type { LogLevel, LogMetadata } from '@temporalio/common';
import { DefaultLogger, type LogEntry } from '@temporalio/worker';

const REDACTED = '[redacted]';
/** Bearer tokens in any of the spellings Citrix and Temporal use (`CwsAuth Bearer=…`, `Bearer …`). */
const BEARER = /(Bearer[= ])[A-Za-z0-9._~+/=-]{8,}/g;

/**
 * Replaces every known secret, and anything that looks like a bearer token, in a log line. Defence in depth: nothing in
 * this project logs secrets on purpose, but an error from a dependency might quote a request.
 */
export function createRedactor(secrets: (string | undefined)[]): (text: string) => string {
  const known = secrets.filter((s): s is string => typeof s === 'string' && s.length >= 4);
  return (text) => {
    let out = text.replace(BEARER, `$1${REDACTED}`);
    for (const secret of known) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  };
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

/** The worker's logger: JSON lines on stdout, secrets redacted. */
export function createJsonLogger(options: {
  level: LogLevel;
  secrets: (string | undefined)[];
  write?: (line: string) => void;
}): DefaultLogger {
  const redact = createRedactor(options.secrets);
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  return new DefaultLogger(options.level, (entry) => write(formatLogEntry(entry, redact)));
}
