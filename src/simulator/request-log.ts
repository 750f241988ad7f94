import type { Operation } from './faults';

const MAX_LOGGED_REQUESTS = 100_000;

export interface RecordedRequest {
  method: string;
  path: string;
  /** The query string without `?`, e.g. `async=true`. */
  query: string;
  operation: Operation | 'admin' | 'unknown';
  /** 0 when the socket was destroyed without an answer. */
  status: number;
  /** When the request arrived (ISO 8601). */
  time: string;
  durationMs: number;
  /** The `citrix-transactionId` the response carried; absent when it carried none (a gateway-style status fault). */
  transactionId?: string;
  /**
   * Set when an `acceptThenReset`/`acceptThenStall` fault withheld the answer: the status the request was handled
   * with (202 for an accepted update). Such requests are logged the moment they are handled.
   */
  withheldStatus?: number;
  /**
   * Set for an answer streamed by a `hugeBody` or `trickle` fault: the body bytes handed to the connection before the
   * answer was complete or the client went away. Such requests are logged when the streaming stops.
   */
  streamedBytes?: number;
}

/** The requests in the order answered. */
export class RequestLog {
  private readonly requests: RecordedRequest[] = [];

  add(request: RecordedRequest): void {
    this.requests.push(request);
    // Trim in batches so that a long benchmark keeps memory bounded at O(1) amortised cost per request.
    if (this.requests.length > MAX_LOGGED_REQUESTS * 1.5) {
      this.requests.splice(0, this.requests.length - MAX_LOGGED_REQUESTS);
    }
  }

  clear(): void {
    this.requests.length = 0;
  }

  list(): RecordedRequest[] {
    return [...this.requests];
  }
}
