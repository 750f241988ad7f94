import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import { FailureType } from '../shared';

/**
 * An activity whose retries ran into its schedule-to-close timeout: the server reports either a timeout or the last
 * attempt's failure with retry state TIMEOUT.
 */
export function ranOutOfTime(error: unknown): error is ActivityFailure {
  return error instanceof ActivityFailure && (error.cause instanceof TimeoutFailure || error.retryState === 'TIMEOUT');
}

export function lastAttemptError(error: ActivityFailure): Error | undefined {
  return error.cause instanceof TimeoutFailure ? error.cause.cause : error.cause;
}

/** Activity failures reach the caller as the activity's own actionable message, not as "activity task failed". */
export function unwrapActivityFailure(error: unknown): unknown {
  if (ranOutOfTime(error)) {
    const last = lastAttemptError(error);
    return ApplicationFailure.nonRetryable(
      `Citrix Cloud did not answer ${error.activityType} successfully before its time ran out` +
        `${last ? ` (last error: ${last.message})` : ''}: check that Citrix Cloud is reachable from the worker and ` +
        `start again`,
      FailureType.CitrixUnavailable,
    );
  }
  if (error instanceof ActivityFailure && error.cause instanceof ApplicationFailure) return error.cause;
  return error;
}
