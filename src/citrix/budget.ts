import { performance } from 'node:perf_hooks';

export interface RequestBudgetOptions {
  /** Requests per second that every worker of the tenant together may send to Citrix. */
  requestsPerSecond: number;
  /** A monotonic clock in milliseconds. @default performance.now */
  now?: () => number;
}

export interface RequestBudgetSnapshot {
  requestsPerSecond: number;
  workers: number;
  /** This worker's rate now: its share of the budget times the adaptive factor. */
  shareNow: number;
  /** 1 while Citrix does not push back; halved by each 429, recovering by 0.1 a second. */
  factor: number;
  /** Requests queued for a slot. */
  waiting: number;
  /** How long the gate a 429 closed stays closed; 0 when it is open. */
  gateOpenInMs: number;
}

/** The window the per-second cap counts in, as Citrix's gateway (and the simulator) counts a sliding second. */
const WINDOW_MS = 1_000;
/** The factor's floor: even under steady 429s a worker keeps probing at a tenth of its share. */
export const MIN_FACTOR = 0.1;
/** How fast the factor recovers after the last 429: back to 1 from its floor within 9 seconds. */
export const FACTOR_RECOVERY_PER_SECOND = 0.1;
/** The longest sliding-second cap kept exactly; past it pacing alone bounds a second. */
const MAX_RING = 10_000;

interface Waiter {
  resolve: () => void;
  next: Waiter | undefined;
}

/**
 * This worker's part of a tenant-wide budget of Citrix requests. Callers queue first in, first out, and each one in
 * turn takes the next slot: slots are one interval (1,000 ms ÷ share) apart, and no more than `max(1, floor(share))`
 * fall within any sliding second, so the workers together stay under the budget in every second, not only on average.
 * The slot is taken when a caller reaches the head of the queue rather than when it calls, so a 429's gate and a
 * lowered rate apply at once to everyone waiting, not only to later callers. One timer serves the queue: O(1) a call.
 *
 * A 429 closes the gate for the time Citrix asked and halves the rate (AIMD: additive recovery, multiplicative
 * decrease), since another worker, or another tool of the same tenant, may be using more than the split assumes.
 */
export class RequestBudget {
  readonly requestsPerSecond: number;
  readonly #now: () => number;
  #workers = 1;
  #head: Waiter | undefined;
  #tail: Waiter | undefined;
  #waiting = 0;
  #timer: NodeJS.Timeout | undefined;
  /** The slot of the last request let through (on the ideal grid, so late timers do not lower the rate). */
  #lastSlot = -Infinity;
  /** When the last requests were let through, as a ring, for the per-second cap. */
  readonly #sent: Float64Array;
  #sentHead = 0;
  #sentCount = 0;
  #gateOpenAt = -Infinity;
  /** The factor right after the last 429, and when that was; it recovers lazily from there. */
  #factorAfter429 = 1;
  #last429At = -Infinity;

  constructor(options: RequestBudgetOptions) {
    const rate = options?.requestsPerSecond;
    if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0) {
      throw new RangeError(`requestsPerSecond must be a positive finite number, got ${String(rate)}`);
    }
    this.requestsPerSecond = rate;
    this.#now = options.now ?? (() => performance.now());
    this.#sent = new Float64Array(Math.min(MAX_RING, Math.max(1, Math.floor(rate))));
  }

  /** How many workers share the budget (the workers polling the task queue); this one's share is the budget ÷ it. */
  get workers(): number {
    return this.#workers;
  }

  set workers(count: number) {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`workers must be a whole number ≥ 1, got ${count}`);
    this.#workers = count;
    // A larger share may let the head go sooner, a smaller one later.
    this.#reschedule();
  }

  /** The adaptive factor now: halved by a 429, recovering additively since. */
  factor(now = this.#now()): number {
    const recovered = this.#factorAfter429 + (FACTOR_RECOVERY_PER_SECOND * Math.max(0, now - this.#last429At)) / 1000;
    return Math.min(1, recovered);
  }

  /** This worker's rate now, in requests per second. */
  shareNow(now = this.#now()): number {
    return (this.requestsPerSecond / this.#workers) * this.factor(now);
  }

  /** Resolves when the caller may send one request. */
  acquire(): Promise<void> {
    return new Promise<void>((resolve) => {
      const waiter: Waiter = { resolve, next: undefined };
      if (this.#tail) this.#tail.next = waiter;
      else this.#head = waiter;
      this.#tail = waiter;
      this.#waiting += 1;
      if (this.#waiting === 1) this.#pump();
    });
  }

  /**
   * Citrix answered 429: nothing more goes out until `retryAfterMs` from now, and the rate halves. Requests sent before
   * the gate closed answer 429 too while it is closed: they extend the gate but halve only once.
   */
  rateLimited(retryAfterMs: number): void {
    const now = this.#now();
    const wait = Number.isFinite(retryAfterMs) && retryAfterMs > 0 ? retryAfterMs : 0;
    if (now >= this.#gateOpenAt) {
      this.#factorAfter429 = Math.max(MIN_FACTOR, this.factor(now) / 2);
    } else {
      this.#factorAfter429 = Math.min(this.#factorAfter429, this.factor(now));
    }
    this.#last429At = now;
    this.#gateOpenAt = Math.max(this.#gateOpenAt, now + wait);
    this.#reschedule();
  }

  snapshot(): RequestBudgetSnapshot {
    const now = this.#now();
    return {
      requestsPerSecond: this.requestsPerSecond,
      workers: this.#workers,
      shareNow: this.shareNow(now),
      factor: this.factor(now),
      waiting: this.#waiting,
      gateOpenInMs: Math.max(0, this.#gateOpenAt - now),
    };
  }

  /** The earliest time the head of the queue may go. */
  #dueAt(now: number): number {
    const share = this.shareNow(now);
    const cap = Math.min(this.#sent.length, Math.max(1, Math.floor(share)));
    // The interval of the rate in force now, so that a new share or factor applies to those already waiting.
    let due = Math.max(this.#lastSlot + 1000 / share, this.#gateOpenAt);
    if (this.#sentCount >= cap) {
      // The cap-th most recent request must have left the sliding second.
      const index = (this.#sentHead - cap + this.#sent.length) % this.#sent.length;
      due = Math.max(due, (this.#sent[index] ?? 0) + WINDOW_MS);
    }
    return due;
  }

  /** Lets through every waiter whose slot has come, then sleeps until the next one's. */
  #pump(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#head) {
      const now = this.#now();
      const due = this.#dueAt(now);
      if (due > now) {
        this.#timer = setTimeout(() => this.#pump(), Math.max(1, Math.ceil(due - now)));
        return;
      }
      // A late timer keeps the grid (no rate lost to timer lag); an idle budget starts a fresh one (no saved-up burst).
      this.#lastSlot = now - due < 1000 / this.shareNow(now) ? due : now;
      this.#sent[this.#sentHead] = now;
      this.#sentHead = (this.#sentHead + 1) % this.#sent.length;
      this.#sentCount = Math.min(this.#sentCount + 1, this.#sent.length);
      const waiter = this.#head;
      this.#head = waiter.next;
      if (!this.#head) this.#tail = undefined;
      this.#waiting -= 1;
      waiter.resolve();
    }
  }

  #reschedule(): void {
    if (this.#head) this.#pump();
  }
}
