/**
 * OpenTelemetry's workflow interceptors, bundled with the workflow code (Temporal's sandbox: no Node built-ins).
 *
 * Every workflow evaluates the modules it loads in its own context, so OpenTelemetry's SDK is loaded only by a
 * workflow whose start carries a trace context (its `_tracer-data` header: a traced client, or a traced parent);
 * the others pay nothing for it (docs/performance.md). The header is in the workflow's history, so a replay makes the
 * same choice.
 *
 * Their update span awaits around the handler, which moves the update's completion after the commands the handler
 * issues: an execution begun without it would no longer replay. So update spans are behind a patch, as any change to
 * the commands of a released workflow is; every other span issues nothing and replays unchanged.
 */
import type * as OpenTelemetryWorkflow from '@temporalio/interceptors-opentelemetry/lib/workflow';
import {
  type ActivityInput,
  type ContinueAsNewInput,
  type DisposeInput,
  type GetLogAttributesInput,
  type GetMetricTagsInput,
  type LocalActivityInput,
  type Next,
  type QueryInput,
  type SignalInput,
  type SignalWorkflowInput,
  type StartChildWorkflowExecutionInput,
  type StartNexusOperationInput,
  type UpdateInput,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptorsFactory,
  type WorkflowInternalsInterceptor,
  type WorkflowOutboundCallsInterceptor,
  patched,
} from '@temporalio/workflow';

export const TRACED_UPDATES_PATCH = 'opentelemetry-update-spans';

/** The header OpenTelemetry's interceptors carry a span context in (`TRACE_HEADER` of the package). */
const TRACE_HEADER = '_tracer-data';

type Traced = {
  inbound: OpenTelemetryWorkflow.OpenTelemetryInboundInterceptor;
  outbound: OpenTelemetryWorkflow.OpenTelemetryOutboundInterceptor;
  internals: OpenTelemetryWorkflow.OpenTelemetryInternalsInterceptor;
};

/** Loads OpenTelemetry into this workflow's context: only here, at the start of a traced workflow. */
function startTracing(): Traced {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const otel = require('@temporalio/interceptors-opentelemetry/lib/workflow') as typeof OpenTelemetryWorkflow;
  return {
    inbound: new otel.OpenTelemetryInboundInterceptor(),
    outbound: new otel.OpenTelemetryOutboundInterceptor(),
    internals: new otel.OpenTelemetryInternalsInterceptor(),
  };
}

/** One workflow's choice, shared by its three interceptors: set when it starts. */
class Tracing {
  traced?: Traced;
}

class Inbound implements WorkflowInboundCallsInterceptor {
  constructor(private readonly tracing: Tracing) {}

  execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    if (input.headers[TRACE_HEADER]) this.tracing.traced = startTracing();
    const traced = this.tracing.traced;
    return traced ? traced.inbound.execute(input, next) : next(input);
  }

  handleSignal(input: SignalInput, next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>): Promise<void> {
    const traced = this.tracing.traced;
    return traced ? traced.inbound.handleSignal(input, next) : next(input);
  }

  handleUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>): Promise<unknown> {
    const traced = this.tracing.traced;
    return traced && patched(TRACED_UPDATES_PATCH) ? traced.inbound.handleUpdate(input, next) : next(input);
  }

  validateUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'validateUpdate'>): void {
    const traced = this.tracing.traced;
    return traced ? traced.inbound.validateUpdate(input, next) : next(input);
  }

  handleQuery(input: QueryInput, next: Next<WorkflowInboundCallsInterceptor, 'handleQuery'>): Promise<unknown> {
    const traced = this.tracing.traced;
    return traced ? traced.inbound.handleQuery(input, next) : next(input);
  }
}

class Outbound implements WorkflowOutboundCallsInterceptor {
  constructor(private readonly tracing: Tracing) {}

  scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>) {
    const traced = this.tracing.traced;
    return traced ? traced.outbound.scheduleActivity(input, next) : next(input);
  }

  scheduleLocalActivity(
    input: LocalActivityInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>,
  ) {
    const traced = this.tracing.traced;
    return traced ? traced.outbound.scheduleLocalActivity(input, next) : next(input);
  }

  startNexusOperation(
    input: StartNexusOperationInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'startNexusOperation'>,
  ) {
    const traced = this.tracing.traced;
    return traced ? traced.outbound.startNexusOperation(input, next) : next(input);
  }

  startChildWorkflowExecution(
    input: StartChildWorkflowExecutionInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'startChildWorkflowExecution'>,
  ) {
    const traced = this.tracing.traced;
    return traced ? traced.outbound.startChildWorkflowExecution(input, next) : next(input);
  }

  continueAsNew(input: ContinueAsNewInput, next: Next<WorkflowOutboundCallsInterceptor, 'continueAsNew'>) {
    const traced = this.tracing.traced;
    return traced ? traced.outbound.continueAsNew(input, next) : next(input);
  }

  signalWorkflow(input: SignalWorkflowInput, next: Next<WorkflowOutboundCallsInterceptor, 'signalWorkflow'>) {
    const traced = this.tracing.traced;
    return traced ? traced.outbound.signalWorkflow(input, next) : next(input);
  }

  getLogAttributes(input: GetLogAttributesInput, next: Next<WorkflowOutboundCallsInterceptor, 'getLogAttributes'>) {
    const traced = this.tracing.traced;
    return traced ? traced.outbound.getLogAttributes(input, next) : next(input);
  }

  getMetricTags(input: GetMetricTagsInput, next: Next<WorkflowOutboundCallsInterceptor, 'getMetricTags'>) {
    const traced = this.tracing.traced;
    return traced ? traced.outbound.getMetricTags(input, next) : next(input);
  }
}

class Internals implements WorkflowInternalsInterceptor {
  constructor(private readonly tracing: Tracing) {}

  dispose(input: DisposeInput, next: Next<WorkflowInternalsInterceptor, 'dispose'>): void {
    const traced = this.tracing.traced;
    if (traced) void traced.internals.dispose(input, next);
    else next(input);
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => {
  const tracing = new Tracing();
  return { inbound: [new Inbound(tracing)], outbound: [new Outbound(tracing)], internals: [new Internals(tracing)] };
};
