import { Client, Connection } from '@temporalio/client';
import { createDataConverter } from '../codec/data-converter';
import type { TemporalConfig } from '../config';

export class TemporalUnreachableError extends Error {
  override name = 'TemporalUnreachableError';
  constructor(address: string, cause: unknown, secured = false) {
    super(
      `cannot reach the Temporal server at ${address} (${(cause as Error)?.message ?? cause}): ` +
        (secured
          ? 'check TEMPORAL_ADDRESS, the TLS settings (TEMPORAL_TLS_*) and the API key or client certificate'
          : 'start one (for example "temporal server start-dev") or point TEMPORAL_ADDRESS at yours'),
      { cause },
    );
  }
}

/**
 * The options both kinds of connection get: address, TLS (server CA, server name, mTLS client pair), API key and the
 * profile's gRPC headers. An API key turns TLS on unless `tls` is `false`.
 */
export function connectionOptions(config: TemporalConfig) {
  return {
    address: config.address,
    tls: config.tls,
    apiKey: config.apiKey,
    ...(config.metadata && { metadata: config.metadata }),
  };
}

export interface ConnectClientOptions {
  /**
   * Start and signal workflows inside a span whose trace travels to them in headers, so that a start and the work it
   * causes form one trace. Needs a registered tracer provider (`startTracing`).
   * @default false
   */
  tracing?: boolean;
}

/**
 * A client for the starter and other tools, with the worker's data converter (payload encryption when keys are set);
 * fails fast with an actionable message when the server is not there.
 */
export async function connectClient(config: TemporalConfig, options: ConnectClientOptions = {}): Promise<Client> {
  const interceptors = options.tracing ? { workflow: [await tracingClientInterceptor()] } : undefined;
  try {
    const connection = await Connection.connect({ ...connectionOptions(config), connectTimeout: '5 seconds' });
    return new Client({
      connection,
      namespace: config.namespace,
      dataConverter: createDataConverter(config.payloadCodecKeys),
      interceptors,
    });
  } catch (error) {
    throw new TemporalUnreachableError(config.address, error, Boolean(config.tls || config.apiKey));
  }
}

/** Loaded only when tracing: a command line without it never loads OpenTelemetry. */
async function tracingClientInterceptor() {
  const { OpenTelemetryWorkflowClientInterceptor } =
    await import('@temporalio/interceptors-opentelemetry/lib/client/index.js');
  return new OpenTelemetryWorkflowClientInterceptor();
}
