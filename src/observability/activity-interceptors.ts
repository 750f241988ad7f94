import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { pausedByOperator } from '../activities/heartbeat';
import type { WorkerMetrics } from './metrics';

/**
 * Counts activity retries and errors by activity type, and adds the catalog id of the activity's input to its log
 * lines, so that every line of an update can be found by catalog.
 */
export function activityInterceptors(metrics: WorkerMetrics): ActivityInterceptorsFactory {
  return (context) => {
    const { activityType, attempt } = context.info;
    let catalogId: string | undefined;
    return {
      inbound: {
        async execute(input, next) {
          const first = input.args[0] as { catalogId?: unknown } | undefined;
          if (typeof first?.catalogId === 'string') catalogId = first.catalogId;
          metrics.activityAttempt(activityType, attempt);
          try {
            return await next(input);
          } catch (error) {
            // pollCatalogUpdate's "not done yet" is a benign failure: the retry policy is its poll loop.
            const benign = error instanceof ApplicationFailure && error.category === ApplicationFailureCategory.BENIGN;
            // An attempt an operator paused (a Citrix outage, say) is no error either: it runs again when unpaused.
            if (!benign && !pausedByOperator()) metrics.activityError(activityType, errorTypeOf(error));
            throw error;
          }
        },
      },
      outbound: {
        getLogAttributes(attributes, next) {
          return next(catalogId ? { ...attributes, catalogId } : attributes);
        },
      },
    };
  };
}

function errorTypeOf(error: unknown): string {
  if (error instanceof ApplicationFailure && error.type) return error.type;
  return (error as Error | undefined)?.name ?? 'Error';
}
