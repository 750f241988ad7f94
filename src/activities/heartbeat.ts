import { Context, log } from '@temporalio/activity';

/**
 * How often a running activity tells Temporal that its worker is alive. The workflow's heartbeat timeout is a few times
 * this, so an activity lost with its worker (crash, SIGKILL, lost host) is retried within seconds instead of at its
 * start-to-close timeout. The SDK throttles what reaches the server, and a short activity sends nothing.
 */
export const HEARTBEAT_INTERVAL_MS = 2_000;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AsyncFunctions = Record<string, (...args: any[]) => Promise<unknown>>;

/**
 * The same activities, each heartbeating while it runs. A heartbeat is also how an activity learns that an operator
 * paused it (`temporal activity pause`): the SDK then cancels the attempt, and Temporal runs the next one only once it
 * is unpaused. That is an operator's decision, not a failure, so it is logged as such.
 */
export function heartbeating<T extends AsyncFunctions>(activities: T): T {
  const wrapped: AsyncFunctions = {};
  for (const [name, activity] of Object.entries(activities)) {
    wrapped[name] = async (...args) => {
      const context = Context.current();
      const timer = setInterval(() => context.heartbeat(), HEARTBEAT_INTERVAL_MS);
      try {
        return await activity(...args);
      } catch (error) {
        if (pausedByOperator()) log.info('activity paused: it carries on when unpaused', { activity: name });
        throw error;
      } finally {
        clearInterval(timer);
      }
    };
  }
  return wrapped as T;
}

/** Whether the running attempt was stopped because an operator paused the activity. */
export function pausedByOperator(): boolean {
  const context = Context.current();
  return context.cancellationSignal.aborted && context.cancellationDetails?.paused === true;
}
