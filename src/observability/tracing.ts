/**
 * OpenTelemetry tracing for the worker and the command line, configured by the standard `OTEL_*` variables
 * (`tracing-config.ts`) and sent over OTLP/HTTP (JSON).
 */
import { diag, DiagLogLevel, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { envDetectorSync, Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { tracingRequested } from './tracing-config';

export interface Tracing {
  readonly tracer: Tracer;
  /** The resource of every span, for the spans the workflow sandbox hands over. */
  readonly resource: Resource;
  /** Batches spans for the OTLP exporter; the workflow span sink feeds it too. */
  readonly spanProcessor: SpanProcessor;
  /** Sends the spans still buffered, then stops; later spans are dropped. */
  shutdown(): Promise<void>;
}

export interface StartTracingOptions {
  /** `service.name` unless the environment sets one. */
  serviceName: string;
  /** Where the exporter's own problems (a collector that does not answer, …) are reported. @default dropped */
  warn?: (message: string) => void;
}

/**
 * A tracer provider with a batching OTLP/HTTP exporter, registered as the process's global provider with an
 * AsyncLocalStorage context, so that spans made inside an activity are its children. `undefined` when the environment
 * does not ask for tracing (`tracingRequested`).
 */
export function startTracing(options: StartTracingOptions): Tracing | undefined {
  if (!tracingRequested()) return undefined;
  if (options.warn) {
    const warn = options.warn;
    diag.setLogger(
      {
        error: (message) => warn(`tracing: ${message}`),
        warn: (message) => warn(`tracing: ${message}`),
        info() {},
        debug() {},
        verbose() {},
      },
      { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
    );
  }
  // The variables win over the default name: later resources override earlier ones in a merge.
  const resource = Resource.default()
    .merge(new Resource({ 'service.name': options.serviceName }))
    .merge(envDetectorSync.detect());
  // The exporter reads the endpoint, headers and timeout from the OTEL_EXPORTER_OTLP_* variables itself.
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter());
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register({ contextManager: new AsyncLocalStorageContextManager().enable() });
  return {
    tracer: provider.getTracer('catalog-rollout'),
    resource,
    spanProcessor,
    shutdown: () => provider.shutdown(),
  };
}
