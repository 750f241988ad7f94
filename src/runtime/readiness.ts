/**
 * Whether the worker's Temporal server answers. The SDK's worker stays RUNNING while its server is away (its polls
 * just retry), so readiness asks the server itself, on a timer, and reports not ready once it stops answering.
 */
import type { NativeConnection } from '@temporalio/worker';

export interface TemporalProbeOptions {
  /** @default 10_000 */
  intervalMs?: number;
  /** How long one check may take. @default 5_000 */
  timeoutMs?: number;
}

export class TemporalProbe {
  #lastOkAt: number | undefined;
  #lastError: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;

  constructor(
    private readonly connection: NativeConnection,
    options: TemporalProbeOptions = {},
  ) {
    this.#intervalMs = options.intervalMs ?? 10_000;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
  }

  /** Checks now and then every interval until stopped. */
  start(): this {
    void this.check();
    this.#timer = setInterval(() => void this.check(), this.#intervalMs);
    this.#timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async check(): Promise<boolean> {
    try {
      await this.connection.withDeadline(Date.now() + this.#timeoutMs, () =>
        this.connection.workflowService.getSystemInfo({}),
      );
      this.#lastOkAt = Date.now();
      this.#lastError = undefined;
      return true;
    } catch (error) {
      this.#lastError = (error as Error)?.message ?? String(error);
      return false;
    }
  }

  /** The server answered the last check, within two intervals. */
  get reachable(): boolean {
    return (
      this.#lastError === undefined &&
      this.#lastOkAt !== undefined &&
      Date.now() - this.#lastOkAt < 2 * this.#intervalMs
    );
  }

  get details(): Record<string, unknown> {
    return {
      temporal: this.reachable ? 'reachable' : 'unreachable',
      ...(this.#lastError && { temporalError: this.#lastError.slice(0, 300) }),
    };
  }
}
