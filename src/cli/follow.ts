/** Following a workflow on screen: what the watcher says while it watches, and how it says the end. */
import type { WatchEnd, WatchOptions } from '../client';
import { ExitCode, type Output } from './output';

export const clock = () => new Date().toISOString().slice(11, 19);

/** What a watcher prints when Temporal drops and comes back. */
export function connectionReports(out: Output): Pick<WatchOptions<unknown>, 'onDisconnect' | 'onReconnect'> {
  return {
    onDisconnect: (message) =>
      out.event({ event: 'disconnected', message }, `${clock()}  lost Temporal (${message}); reconnecting…`),
    onReconnect: () => out.event({ event: 'reconnected' }, `${clock()}  reconnected to Temporal`),
  };
}

/**
 * Reports an end that is not a result: the failure's innermost cause, or that the watcher could not tell. `before`
 * prints whatever the failure carries (a halted rollout's catalogs) ahead of the cause.
 */
export function reportUnfinished(
  end: Exclude<WatchEnd<unknown>, { kind: 'completed' }>,
  out: Output,
  before?: (details: unknown[] | undefined) => void,
): ExitCode {
  if (end.kind === 'failed') {
    before?.(end.failure.details);
    out.failure(
      { event: 'failed', type: end.failure.type, message: end.failure.message },
      `failed (${end.failure.type}): ${end.failure.message}`,
    );
    return ExitCode.Failed;
  }
  out.failure({ event: 'unknown', message: end.reason }, `could not tell how it ended: ${end.reason}`);
  return ExitCode.Unknown;
}
