import { performance } from 'node:perf_hooks';
import { RATE_LIMIT_WINDOW_MS } from './unconfirmed';

export interface RateLimit {
  /**
   * Requests a customer may have accepted in any sliding second; past it the gateway answers 429. A fractional rate lets
   * its next whole number through (2.5: three).
   */
  requestsPerSecond: number;
}

export interface RateLimitStats {
  /** Requests let through, with or without a limit in force. */
  accepted: number;
  /** Requests answered 429 by the limit. */
  refused: number;
  /** The most requests one customer had accepted within any window of a second. */
  busiestSecond: number;
}

/** Throws a TypeError naming `name` unless `limit` is undefined or a rate limit with a positive finite rate. */
export function validateRateLimit(limit: unknown, name = 'rateLimit'): asserts limit is RateLimit | undefined {
  if (limit === undefined) return;
  if (typeof limit !== 'object' || limit === null || Array.isArray(limit)) {
    throw new TypeError(`${name} must be an object such as {"requestsPerSecond": 50}, got ${JSON.stringify(limit)}`);
  }
  const rate = (limit as Record<string, unknown>).requestsPerSecond;
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0) {
    const shown = typeof rate === 'number' ? String(rate) : JSON.stringify(rate);
    throw new TypeError(`${name}.requestsPerSecond must be a positive finite number, got ${shown}`);
  }
}

/** Arrival times of one customer's accepted requests still in the window, oldest first, in a growable ring. */
class Window {
  private times = new Float64Array(16);
  private head = 0;
  size = 0;

  get oldest(): number {
    return this.times[this.head] ?? 0;
  }

  /** Drops the arrivals that left the window by `nowMs`. */
  evict(nowMs: number): void {
    while (this.size > 0 && (this.times[this.head] ?? 0) <= nowMs - RATE_LIMIT_WINDOW_MS) {
      this.head = (this.head + 1) % this.times.length;
      this.size -= 1;
    }
  }

  push(nowMs: number): void {
    if (this.size === this.times.length) {
      const grown = new Float64Array(this.times.length * 2);
      for (let i = 0; i < this.size; i++) grown[i] = this.times[(this.head + i) % this.times.length] ?? 0;
      this.times = grown;
      this.head = 0;
    }
    this.times[(this.head + this.size) % this.times.length] = nowMs;
    this.size += 1;
  }
}

/** Windows kept before empty ones are swept, so that requests naming made-up customers cannot grow memory unbounded. */
const SWEEP_AT_WINDOWS = 1_000;

/**
 * The gateway's per-customer limit: a sliding window of accepted requests per customer, checked in O(1) amortised time
 * per request. Every request is counted, so that a limit set at runtime sees the second before it.
 */
export class RateLimiter {
  private readonly windows = new Map<string, Window>();
  private stats: RateLimitStats = { accepted: 0, refused: 0, busiestSecond: 0 };
  /** Doubles past the windows still busy after a sweep, so that sweeping stays O(1) amortised per request. */
  private sweepAt = SWEEP_AT_WINDOWS;

  constructor(public limit: RateLimit | undefined) {}

  /** Counts one request of `customerId` arriving now; answers the `retryDelay` in seconds when it is refused. */
  admit(customerId: string, nowMs = performance.now()): { retryDelaySeconds: number } | undefined {
    const key = customerId.toLowerCase();
    let window = this.windows.get(key);
    if (!window) {
      if (this.windows.size >= this.sweepAt) this.sweep(nowMs);
      window = new Window();
      this.windows.set(key, window);
    }
    window.evict(nowMs);
    if (this.limit && window.size >= this.limit.requestsPerSecond) {
      this.stats.refused += 1;
      const waitMs = window.oldest + RATE_LIMIT_WINDOW_MS - nowMs;
      return { retryDelaySeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
    }
    window.push(nowMs);
    this.stats.accepted += 1;
    this.stats.busiestSecond = Math.max(this.stats.busiestSecond, window.size);
    return undefined;
  }

  readStats(): RateLimitStats {
    return { ...this.stats };
  }

  /** Forgets every request and zeroes the counters; the limit stays as the caller sets it. */
  clear(): void {
    this.windows.clear();
    this.sweepAt = SWEEP_AT_WINDOWS;
    this.stats = { accepted: 0, refused: 0, busiestSecond: 0 };
  }

  private sweep(nowMs: number): void {
    for (const [key, window] of this.windows) {
      window.evict(nowMs);
      if (window.size === 0) this.windows.delete(key);
    }
    this.sweepAt = Math.max(SWEEP_AT_WINDOWS, this.windows.size * 2);
  }
}
