/**
 * Workflow interceptors, bundled with the workflow code (they run in Temporal's sandbox, so no Node built-ins here).
 * They report each execution's start and outcome through the `observability` sink, which the worker turns into
 * metrics, and add the catalog id to every workflow log line. They issue no commands: histories replay unchanged.
 */
import {
  ContinueAsNew,
  TemporalFailure,
  isCancellation,
  proxySinks,
  workflowInfo,
  type Sinks,
  type WorkflowInterceptorsFactory,
} from '@temporalio/workflow';

export type WorkflowOutcome = 'completed' | 'failed' | 'cancelled' | 'continuedAsNew';

export interface ObservabilitySinks extends Sinks {
  observability: {
    /** The first run of an execution chain began (not a continue-as-new run, never during replay). */
    workflowStarted(): void;
    /** `resultOutcome` is the `outcome` field of the workflow's result, when it has one (`updated`, …). */
    workflowFinished(outcome: WorkflowOutcome, resultOutcome?: string): void;
  };
}

const { observability } = proxySinks<ObservabilitySinks>();

function catalogIdOf(args: unknown[]): string | undefined {
  const input = args[0] as { catalogId?: unknown } | undefined;
  return typeof input?.catalogId === 'string' ? input.catalogId : undefined;
}

function outcomeOf(result: unknown): string | undefined {
  const outcome = (result as { outcome?: unknown } | undefined)?.outcome;
  return typeof outcome === 'string' ? outcome : undefined;
}

export const interceptors: WorkflowInterceptorsFactory = () => {
  let catalogId: string | undefined;
  return {
    inbound: [
      {
        async execute(input, next) {
          catalogId = catalogIdOf(input.args);
          if (!workflowInfo().continuedFromExecutionRunId) observability.workflowStarted();
          try {
            const result = await next(input);
            observability.workflowFinished('completed', outcomeOf(result));
            return result;
          } catch (error) {
            if (error instanceof ContinueAsNew) observability.workflowFinished('continuedAsNew');
            else if (isCancellation(error)) observability.workflowFinished('cancelled');
            // Any other error fails the workflow task, not the workflow, and is retried: not an outcome.
            else if (error instanceof TemporalFailure) observability.workflowFinished('failed');
            throw error;
          }
        },
      },
    ],
    outbound: [
      {
        getLogAttributes(input, next) {
          return next(catalogId ? { catalogId, ...input } : input);
        },
      },
    ],
  };
};
