/**
 * The worker's side of tracing: a span per activity (a child of the workflow's span that scheduled it), the sink that
 * hands the workflow sandbox's spans to the exporter, and a span per Citrix HTTP exchange (a child of the activity's).
 */
import { context, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  type OpenTelemetrySinks,
} from '@temporalio/interceptors-opentelemetry';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import type { CitrixExchange } from '../citrix';
import type { Tracing } from './tracing';

/** `RunActivity:<type>` spans, and `trace_id`/`span_id` on the activity's log lines. */
export function tracingActivityInterceptors(tracing: Tracing): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer: tracing.tracer }),
    outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
  });
}

/**
 * The `exporter` sink the bundled workflow interceptors call with their finished spans. Without tracing it drops them:
 * the bundle always carries the interceptors, and a sink they call must exist.
 */
export function workflowSpanSinks(tracing: Tracing | undefined): InjectedSinks<OpenTelemetrySinks> {
  if (!tracing) return { exporter: { export: { fn: () => undefined } } };
  return { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) };
}

/**
 * For `new CitrixClient({ onExchange })`: a client span per exchange, named `<method> <path template>`, with both
 * transaction ids, the status and, on failure, the client's error code. The path template and the ids hold no secret;
 * no header, query or body is recorded. The exchange is reported once it is over, so the span is made then, with
 * the time it started.
 */
export function citrixExchangeSpans(tracing: Tracing): (exchange: CitrixExchange) => void {
  return (exchange) => {
    const endTime = Date.now();
    const span = tracing.tracer.startSpan(
      `${exchange.method} ${exchange.operation}`,
      {
        kind: SpanKind.CLIENT,
        startTime: endTime - exchange.durationMs,
        attributes: {
          'http.request.method': exchange.method,
          'url.template': exchange.operation,
          ...(typeof exchange.status === 'number' && { 'http.response.status_code': exchange.status }),
          ...(exchange.requestTransactionId && { 'citrix.request.transaction_id': exchange.requestTransactionId }),
          ...(exchange.transactionId && { 'citrix.transaction_id': exchange.transactionId }),
          ...(exchange.errorCode && { 'error.type': exchange.errorCode }),
        },
      },
      context.active(),
    );
    if (exchange.errorCode) span.setStatus({ code: SpanStatusCode.ERROR, message: exchange.errorCode });
    span.end(endTime);
  };
}
