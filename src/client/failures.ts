/**
 * What went wrong, in the words of whoever knew: the SDK wraps a failure in layers ("Workflow execution failed",
 * "Activity task failed", "Workflow Update failed", "Failed to start Workflow"), and only the innermost one says what
 * an operator can act on. Every command prints that one, as the single update always did.
 */
import { ServiceError, WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, TerminatedFailure, TimeoutFailure } from '@temporalio/common';

export interface Cause {
  /** The failure type a workflow or activity gave (`ImageNotUsable`, `RolloutHalted`), or the error's class. */
  type: string;
  message: string;
  /** The application failure's details, such as a halted rollout's result. */
  details?: unknown[];
}

/** gRPC's own errors read `14 UNAVAILABLE: No connection established`: the part after the code is the message. */
function grpcMessage(error: Error & { code?: unknown; details?: unknown }): string | undefined {
  if (typeof error.code !== 'number' || typeof error.details !== 'string' || !error.details) return undefined;
  return error.details;
}

function isWrapper(error: Error): boolean {
  return (
    error instanceof WorkflowFailedError ||
    error instanceof WorkflowUpdateFailedError ||
    (error instanceof ServiceError && error.cause instanceof Error) ||
    // ActivityFailure and ChildWorkflowFailure carry their cause; an unwrapped timeout says what timed out.
    (error.name === 'ActivityFailure' && error.cause instanceof Error) ||
    (error.name === 'ChildWorkflowFailure' && error.cause instanceof Error)
  );
}

/** The innermost failure of `error`, with its type and details. */
export function innermostCause(error: unknown): Cause {
  let current: unknown = error;
  for (let depth = 0; depth < 20 && current instanceof Error && isWrapper(current); depth++) current = current.cause;
  if (!(current instanceof Error)) return { type: 'Error', message: String(current) };
  if (current instanceof ApplicationFailure) {
    return {
      type: current.type ?? 'ApplicationFailure',
      message: current.message,
      details: current.details ?? undefined,
    };
  }
  if (current instanceof CancelledFailure) return { type: 'Cancelled', message: current.message || 'cancelled' };
  if (current instanceof TerminatedFailure) return { type: 'Terminated', message: current.message || 'terminated' };
  if (current instanceof TimeoutFailure) {
    return { type: 'Timeout', message: `${current.timeoutType ?? 'a'} timeout: ${current.message}` };
  }
  return { type: current.name, message: grpcMessage(current) ?? current.message };
}

/** A workflow's refusal of an update (its validator's, or no handler of that name): its innermost cause. */
export function updateRefusal(error: unknown): Cause | undefined {
  return error instanceof WorkflowUpdateFailedError ? innermostCause(error) : undefined;
}

/** The refusal of a workflow whose code has no handler of the update: one of a release before the update existed. */
export function isUnknownUpdate(refusal: Cause): boolean {
  return /no registered handler/i.test(refusal.message);
}
