/**
 * This worker's share of the tenant's Citrix request budget. The budget is for all workers together, so each one counts
 * the workers polling its task queue's activity queue (the ones that make Citrix requests) and takes that fraction.
 */
import type { Logger } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { NativeConnection } from '@temporalio/worker';
import type { RequestBudget } from '../citrix';

export interface BudgetShareOptions {
  connection: Pick<NativeConnection, 'workflowService'>;
  namespace: string;
  taskQueue: string;
  /** This worker's identity, as its polls carry it: it always counts, even before the server has seen it poll. */
  identity: string;
  budget: RequestBudget;
  log: Pick<Logger, 'info' | 'warn'>;
  /** Called with the count after every check, for a metric. */
  onCount?: (workers: number, budget: RequestBudget) => void;
  /** @default 15_000 */
  intervalMs?: number;
  /**
   * A poller last seen longer ago than this has stopped (a crashed worker stays in the server's list for minutes).
   * @default 60_000
   */
  activeWithinMs?: number;
  /** The wall clock the server's `lastAccessTime` is compared with. @default Date.now */
  now?: () => number;
}

const { TaskQueueKind, TaskQueueType } = temporal.api.enums.v1;

/** Timestamp `{seconds, nanos}` in milliseconds. */
function millisOf(timestamp: { seconds?: unknown; nanos?: number | null } | null | undefined): number | undefined {
  if (timestamp?.seconds == null) return undefined;
  return Number(timestamp.seconds) * 1000 + Math.floor((timestamp.nanos ?? 0) / 1e6);
}

/** Formats a rate for the log: one decimal, no trailing `.0`. */
const rate = (value: number) => String(Math.round(value * 10) / 10);

export class BudgetShare {
  readonly #options: BudgetShareOptions;
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<void> | undefined;
  #lastLogged: number | undefined;
  #failing = false;

  constructor(options: BudgetShareOptions) {
    this.#options = options;
  }

  /** Counts now, then every interval until stopped. */
  async start(): Promise<this> {
    await this.check();
    this.#timer = setInterval(() => void this.check(), this.#options.intervalMs ?? 15_000);
    this.#timer.unref();
    return this;
  }

  /** Stops counting and waits for a check in flight. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#checking;
  }

  /** One count; a failed one keeps the last count and warns once until a count succeeds again. */
  check(): Promise<void> {
    this.#checking ??= this.#check().finally(() => (this.#checking = undefined));
    return this.#checking;
  }

  /** The distinct workers polling the activity queue lately, this one included. */
  async countWorkers(): Promise<number> {
    const { connection, namespace, taskQueue, identity, activeWithinMs = 60_000, now = Date.now } = this.#options;
    const { pollers } = await connection.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: taskQueue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType: TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    });
    const since = now() - activeWithinMs;
    const identities = new Set([identity]);
    for (const poller of pollers ?? []) {
      const seen = millisOf(poller.lastAccessTime);
      if (poller.identity && seen !== undefined && seen >= since) identities.add(poller.identity);
    }
    return identities.size;
  }

  async #check(): Promise<void> {
    const { budget, log, taskQueue } = this.#options;
    try {
      budget.workers = await this.countWorkers();
      this.#failing = false;
    } catch (error) {
      if (!this.#failing) {
        log.warn(
          `Citrix request budget: cannot count the workers of task queue ${taskQueue} (${(error as Error).message}); ` +
            `keeping ${budget.workers}`,
        );
      }
      this.#failing = true;
    }
    if (budget.workers !== this.#lastLogged) {
      this.#lastLogged = budget.workers;
      const workers = budget.workers;
      log.info(
        `Citrix request budget: ${rate(budget.requestsPerSecond)} requests/s across ${workers} ` +
          `worker${workers === 1 ? '' : 's'}, ${rate(budget.requestsPerSecond / workers)} here`,
        { taskQueue, requestsPerSecond: budget.requestsPerSecond, workers },
      );
    }
    this.#options.onCount?.(budget.workers, budget);
  }
}
