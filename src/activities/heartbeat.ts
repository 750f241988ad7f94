import { Context } from '@temporalio/activity';

/**
 * How often a running activity tells Temporal that its worker is alive. The workflow's heartbeat timeout is a few times
 * this, so an activity lost with its worker (crash, SIGKILL, lost host) is retried within seconds instead of at its
 * start-to-close timeout. The SDK throttles what reaches the server, and a short activity sends nothing.
 */
export const HEARTBEAT_INTERVAL_MS = 2_000;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AsyncFunctions = Record<string, (...args: any[]) => Promise<unknown>>;

/** The same activities, each heartbeating while it runs. */
export function heartbeating<T extends AsyncFunctions>(activities: T): T {
  const wrapped: AsyncFunctions = {};
  for (const [name, activity] of Object.entries(activities)) {
    wrapped[name] = async (...args) => {
      const context = Context.current();
      const timer = setInterval(() => context.heartbeat(), HEARTBEAT_INTERVAL_MS);
      try {
        return await activity(...args);
      } finally {
        clearInterval(timer);
      }
    };
  }
  return wrapped as T;
}
