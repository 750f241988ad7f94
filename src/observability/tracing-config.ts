/**
 * Whether and how to trace, from the standard `OTEL_*` variables: off unless an OTLP endpoint is set or
 * `OTEL_TRACES_EXPORTER=otlp`. Free of the OpenTelemetry SDK, so that a command line without tracing never loads it.
 */

/** `service.name` when `OTEL_SERVICE_NAME` (or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`) does not set one. */
export const DEFAULT_SERVICE_NAMES = { worker: 'catalog-rollout-worker', cli: 'catalog-rollout-cli' } as const;

/** The only OTLP protocol the installed exporter speaks. */
const OTLP_PROTOCOL = 'http/json';

export class TracingConfigError extends Error {
  override name = 'TracingConfigError';
}

type Env = Record<string, string | undefined>;

/**
 * Whether the environment asks for tracing: an OTLP endpoint or `OTEL_TRACES_EXPORTER=otlp`, and not
 * `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. Throws a `TracingConfigError` naming the variable for a
 * value it cannot honour.
 */
export function tracingRequested(env: Env = process.env): boolean {
  const disabled = env.OTEL_SDK_DISABLED?.trim().toLowerCase();
  if (disabled && disabled !== 'true' && disabled !== 'false') {
    throw new TracingConfigError(`OTEL_SDK_DISABLED=${env.OTEL_SDK_DISABLED} must be true or false`);
  }
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  if (exporter && exporter !== 'otlp' && exporter !== 'none') {
    throw new TracingConfigError(
      `OTEL_TRACES_EXPORTER=${env.OTEL_TRACES_EXPORTER} is not supported: use otlp (OTLP/HTTP) or none`,
    );
  }
  const wanted =
    exporter === 'otlp' ||
    (!exporter && Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT));
  if (disabled === 'true' || exporter === 'none' || !wanted) return false;
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const protocol = env[name]?.trim();
    if (protocol && protocol !== OTLP_PROTOCOL) {
      throw new TracingConfigError(
        `${name}=${protocol} is not supported: spans are sent as OTLP/HTTP with JSON; set it to ${OTLP_PROTOCOL} ` +
          `(or leave it unset) and point the endpoint at the collector's OTLP/HTTP port (usually 4318)`,
      );
    }
  }
  return true;
}

/**
 * The values of `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_EXPORTER_OTLP_TRACES_HEADERS` (`key=value,…`, URL-encoded):
 * they often hold an API key, so the log redaction learns them.
 */
export function otlpHeaderValues(env: Env = process.env): string[] {
  const values: string[] = [];
  for (const name of ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS']) {
    for (const pair of env[name]?.split(',') ?? []) {
      const value = pair.slice(pair.indexOf('=') + 1).trim();
      if (!pair.includes('=') || !value) continue;
      values.push(value);
      try {
        values.push(decodeURIComponent(value));
      } catch {
        // Not URL-encoded: the raw value is the one sent.
      }
    }
  }
  return [...new Set(values)];
}
