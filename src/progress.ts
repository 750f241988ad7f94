import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { CatalogUpdateResult, CatalogUpdateStatus } from './shared';
import { statusQuery } from './workflows';

export interface WatchOptions {
  /** Print one JSON object per change instead of a human line. */
  json?: boolean;
  /** @default 1000 */
  refreshMs?: number;
  write?: (line: string) => void;
}

/** One line that an administrator can read at a glance. */
export function describeStatus(status: CatalogUpdateStatus): string {
  const parts: string[] = [status.phase.padEnd(13)];
  if (status.catalogName) parts.push(`catalog "${status.catalogName}"`);
  if (status.catalogState) parts.push(status.catalogState + (status.subState ? `/${status.subState}` : ''));
  const running = status.catalogState === 'Processing' || status.catalogState === 'PreDeployment';
  if (status.percentComplete !== undefined && running) parts.push(`${status.percentComplete}%`);
  if (status.estimatedSecondsLeft !== undefined) parts.push(`~${status.estimatedSecondsLeft}s left`);
  if (status.polls) parts.push(`polls ${status.polls}`);
  if (status.transactionId) parts.push(`txn ${status.transactionId}`);
  if (status.lastError) parts.push(`error: ${status.lastError}`);
  return parts.join('  ');
}

async function queryStatus(handle: WorkflowHandle): Promise<CatalogUpdateStatus | undefined> {
  // A query needs a worker: without one it would hang, and the watch must keep going regardless.
  const timeout = sleep(5000).then(() => undefined);
  try {
    return await Promise.race([handle.query(statusQuery), timeout]);
  } catch {
    return undefined;
  }
}

/**
 * Prints a progress line whenever the update's status changes, until the workflow ends. Resolves with the result,
 * rejects with the workflow's failure (its message is the actionable one).
 */
export async function watchUpdate(handle: WorkflowHandle, options: WatchOptions = {}): Promise<CatalogUpdateResult> {
  const write = options.write ?? ((line: string) => console.log(line));
  const result = handle.result() as Promise<CatalogUpdateResult>;
  let finished = false;
  result.then(
    () => (finished = true),
    () => (finished = true),
  );
  let last = '';
  while (!finished) {
    const status = await queryStatus(handle);
    if (status) {
      const line = options.json ? JSON.stringify({ event: 'status', ...status }) : describeStatus(status);
      if (line !== last) write(options.json ? line : `${new Date().toISOString().slice(11, 19)}  ${line}`);
      last = line;
    }
    await Promise.race([result.catch(() => undefined), sleep(options.refreshMs ?? 1000)]);
  }
  try {
    return await result;
  } catch (error) {
    throw explainFailure(error);
  }
}

/** The innermost useful message of a workflow failure. */
export function explainFailure(error: unknown): Error {
  if (error instanceof WorkflowFailedError && error.cause) {
    const cause = error.cause as Error & { type?: string };
    return Object.assign(new Error(cause.message), { type: cause.type, name: cause.type ?? cause.name });
  }
  return error instanceof Error ? error : new Error(String(error));
}
