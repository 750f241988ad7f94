/**
 * OpenTelemetry's workflow interceptors, bundled with the workflow code (Temporal's sandbox: no Node built-ins). Their
 * update span awaits around the handler, which moves the update's completion after the commands the handler issues:
 * an execution begun without it would no longer replay. So update spans are behind a patch, as any change to the
 * commands of a released workflow is; every other span issues nothing and replays unchanged.
 */
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow';
import { patched, type UpdateInput, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

export const TRACED_UPDATES_PATCH = 'opentelemetry-update-spans';

class InboundInterceptor extends OpenTelemetryInboundInterceptor {
  override handleUpdate(
    input: UpdateInput,
    next: Parameters<OpenTelemetryInboundInterceptor['handleUpdate']>[1],
  ): Promise<unknown> {
    return patched(TRACED_UPDATES_PATCH) ? super.handleUpdate(input, next) : next(input);
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [new InboundInterceptor()],
  outbound: [new OpenTelemetryOutboundInterceptor()],
  internals: [new OpenTelemetryInternalsInterceptor()],
});
