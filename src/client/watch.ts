/**
 * Following a workflow to its end: one loop for single updates and rollouts. It reports each change of what the
 * workflow's query answers, rides out a Temporal server that drops for a while (the workflow goes on without the
 * watcher), and ends with what happened, or with "could not tell" when Temporal stayed away too long.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { type Cause, innermostCause } from './failures';

export type WatchEnd<TResult> =
  { kind: 'completed'; result: TResult } | { kind: 'failed'; failure: Cause } | { kind: 'unknown'; reason: string };

export interface WatchOptions<TQuery> {
  /** Asks the workflow how it is doing (a query); its answer is reported when it changes. */
  query(handle: WorkflowHandle): Promise<TQuery>;
  onChange(answer: TQuery): void;
  /** A connection problem is reported once per outage. */
  onDisconnect?(message: string): void;
  onReconnect?(): void;
  /** @default 1000 */
  refreshMs?: number;
  /** How long Temporal may stay unreachable before the watch gives up and says it could not tell. @default 10 min */
  reconnectForMs?: number;
  /** How long one query may take. @default 5000 */
  queryTimeoutMs?: number;
  signal?: AbortSignal;
}

export async function watchWorkflow<TQuery, TResult>(
  handle: WorkflowHandle,
  options: WatchOptions<TQuery>,
): Promise<WatchEnd<TResult>> {
  const refreshMs = options.refreshMs ?? 1000;
  const reconnectForMs = options.reconnectForMs ?? 10 * 60_000;
  let end: WatchEnd<TResult> | undefined;
  let unreachableSince: number | undefined;
  let lastAnswer: string | undefined;

  const connectionLost = (error: unknown) => {
    if (unreachableSince === undefined) {
      unreachableSince = Date.now();
      options.onDisconnect?.(innermostCause(error).message);
    } else if (Date.now() - unreachableSince >= reconnectForMs) {
      end = {
        kind: 'unknown',
        reason:
          `Temporal has been unreachable for ${Math.round((Date.now() - unreachableSince) / 1000)} s ` +
          `(${innermostCause(error).message}); the workflow may still be running: watch it again with "status --wait"`,
      };
    }
  };
  const connected = () => {
    if (unreachableSince !== undefined) options.onReconnect?.();
    unreachableSince = undefined;
  };

  // The result is awaited in its own loop: a long poll that the server answers when the workflow (or its chain of
  // continued runs) closes, asked again after a connection problem.
  const resultLoop = (async () => {
    while (!end && !options.signal?.aborted) {
      try {
        const result = (await handle.result()) as TResult;
        connected();
        end = { kind: 'completed', result };
      } catch (error) {
        if (error instanceof WorkflowFailedError) {
          connected();
          end = { kind: 'failed', failure: innermostCause(error) };
        } else if (grpcCodeOf(error) === UNAVAILABLE || grpcCodeOf(error) === DEADLINE_EXCEEDED) {
          connectionLost(error);
          if (!end) await sleep(refreshMs);
        } else {
          end = { kind: 'unknown', reason: innermostCause(error).message };
        }
      }
    }
  })();

  while (!end && !options.signal?.aborted) {
    try {
      const answer = await handle.client.withDeadline(Date.now() + (options.queryTimeoutMs ?? 5_000), () =>
        options.query(handle),
      );
      connected();
      const key = JSON.stringify(answer);
      if (key !== lastAnswer) options.onChange(answer);
      lastAnswer = key;
    } catch (error) {
      // A query that no worker answers in time is not a lost connection: the result loop goes on either way.
      if (grpcCodeOf(error) === UNAVAILABLE) connectionLost(error);
    }
    await Promise.race([resultLoop, sleep(refreshMs)]);
  }
  await resultLoop;
  return end ?? { kind: 'unknown', reason: 'the watch was stopped before the workflow ended' };
}

const UNAVAILABLE = 14;
const DEADLINE_EXCEEDED = 4;

/** The gRPC status code somewhere in an error's causes: the SDK wraps the transport's error. */
function grpcCodeOf(error: unknown): number | undefined {
  for (let cause = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; cause && depth < 10; depth++) {
    if (typeof cause.code === 'number') return cause.code;
    cause = cause.cause as typeof cause;
  }
  return undefined;
}
