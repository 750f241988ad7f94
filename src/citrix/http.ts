import { Agent, type Dispatcher, errors as undiciErrors, request } from 'undici';
import {
  type CitrixError,
  type CitrixErrorCode,
  type CitrixErrorDetails,
  CitrixInvalidResponseError,
  CitrixNetworkError,
  CitrixTimeoutError,
} from './errors';
import { errorCodeForStatus, headerValue, transactionNote } from './responses';
import type { SecretRedactor } from './sanitize';

/**
 * Largest answer read, by kind: a bigger one is cut off and fails as an invalid response. A list carries every item
 * twice (`items` and its legacy alias), about 2.2 KB per catalog: 32 MiB holds some 15,000 catalogs, and parsing it
 * takes under 100 MB of heap.
 */
export const MAX_RESPONSE_BYTES = {
  list: 32 * 1024 * 1024,
  /** One catalog or image; an image's details list every catalog that uses it. */
  item: 8 * 1024 * 1024,
  token: 64 * 1024,
  /** Error answers: only an excerpt and `retryDelay` are read from them. */
  error: 64 * 1024,
} as const;

export interface CitrixExchange {
  method: string;
  /** The path template, such as `catalogs/{catalogId}`; never holds secrets. */
  operation: string;
  status: number | 'error';
  durationMs: number;
  /** The `Citrix-TransactionId` the request was sent with (none on token requests). */
  requestTransactionId?: string;
  /** The `citrix-transactionId` the answer carried, redacted and bounded as in errors. */
  transactionId?: string;
  /** The failure, when the exchange failed: the code of the error the client raises, or would raise, for it. */
  errorCode?: CitrixErrorCode;
}

/** An answer read whole: its body parsed as JSON when it is JSON, and its `citrix-transactionId` made safe to quote. */
export interface Exchanged {
  status: number;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
  transactionId?: string;
  url: string;
}

export interface HttpTransportOptions {
  requestTimeoutMs: number;
  /** @default 32 */
  maxConnections?: number;
  /** Used instead of a keep-alive `Agent` of the transport's own; `close` leaves it open, as its owner may share it. */
  dispatcher?: Dispatcher;
  onExchange?: (exchange: CitrixExchange) => void;
  redactor: SecretRedactor;
}

/**
 * Sends requests to Citrix over one connection pool. Each exchange has a deadline from sending to the last byte, reads
 * at most a given number of bytes, turns a failure before an answer into a timeout or network error, and is reported
 * to `onExchange`.
 */
export class HttpTransport {
  readonly #redactor: SecretRedactor;
  private readonly requestTimeoutMs: number;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly onExchange?: (exchange: CitrixExchange) => void;

  constructor(options: HttpTransportOptions) {
    this.#redactor = options.redactor;
    this.requestTimeoutMs = options.requestTimeoutMs;
    this.onExchange = options.onExchange;
    this.ownsDispatcher = !options.dispatcher;
    this.dispatcher =
      options.dispatcher ??
      new Agent({ connections: options.maxConnections ?? 32, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 120_000 });
  }

  async send(
    method: 'GET' | 'POST',
    url: string,
    operation: string,
    init: { headers: Record<string, string>; body?: string; maxBytes: number },
  ): Promise<Exchanged> {
    const started = performance.now();
    const exchange: CitrixExchange = {
      method,
      operation,
      status: 'error',
      durationMs: 0,
      requestTransactionId: init.headers['citrix-transactionid'],
    };
    const report = () => this.onExchange?.({ ...exchange, durationMs: performance.now() - started });
    let response: Dispatcher.ResponseData;
    try {
      response = await request(url, {
        method,
        headers: init.headers,
        body: init.body,
        dispatcher: this.dispatcher,
        headersTimeout: this.requestTimeoutMs,
        bodyTimeout: this.requestTimeoutMs,
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
    } catch (error) {
      const failure = this.networkError(method, url, error);
      exchange.errorCode = failure.code;
      report();
      throw failure;
    }
    try {
      const status = (exchange.status = response.statusCode);
      const transactionId = this.#redactor.excerpt(headerValue(response.headers['citrix-transactionid']) ?? '', 64);
      exchange.transactionId = transactionId || undefined;
      const ok = status >= 200 && status < 300;
      if (!ok) exchange.errorCode = errorCodeForStatus(status);
      const limit = ok ? init.maxBytes : Math.min(init.maxBytes, MAX_RESPONSE_BYTES.error);
      const declared = Number(headerValue(response.headers['content-length']));
      // An answer that says up front it is too big is not read at all (an error answer is still read, then cut).
      const text =
        ok && Number.isFinite(declared) && declared > limit
          ? (response.body.destroy(), undefined)
          : await readAtMost(response.body, limit, ok);
      if (text === undefined) {
        throw new CitrixInvalidResponseError(
          `${method} ${url} answered ${status} with more than ${formatBytes(limit)}; the client stopped reading` +
            transactionNote(transactionId),
          { method, url, status, transactionId: transactionId || undefined },
        );
      }
      return {
        status,
        body: parseBody(text),
        headers: response.headers,
        transactionId: transactionId || undefined,
        url,
      };
    } catch (error) {
      const failure = error instanceof CitrixInvalidResponseError ? error : this.networkError(method, url, error);
      exchange.errorCode = failure.code;
      throw failure;
    } finally {
      report();
    }
  }

  /** Closes the keep-alive connections, when the pool is the transport's own. */
  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private networkError(method: string, url: string, error: unknown): CitrixError {
    const details: CitrixErrorDetails = { method, url };
    const name = (error as { name?: string } | undefined)?.name;
    if (
      error instanceof undiciErrors.HeadersTimeoutError ||
      error instanceof undiciErrors.BodyTimeoutError ||
      error instanceof undiciErrors.ConnectTimeoutError ||
      name === 'TimeoutError' ||
      name === 'AbortError'
    ) {
      return new CitrixTimeoutError(`${method} ${url} did not answer within ${this.requestTimeoutMs} ms`, details);
    }
    const reason = (error as { code?: string; message?: string } | undefined)?.code ?? String(error);
    return new CitrixNetworkError(
      `${method} ${url} failed before an answer arrived (${this.#redactor.excerpt(reason, 200)})`,
      details,
    );
  }
}

/**
 * The body as text, or `undefined` when it is longer than `maxBytes`: reading stops there and the connection is
 * dropped, so that an endless or huge answer costs at most that much memory (a declared `content-length` over the
 * limit is refused before this is called). Error answers (`ok` false) are cut instead: only an excerpt is needed.
 */
async function readAtMost(
  body: Dispatcher.ResponseData['body'],
  maxBytes: number,
  ok: boolean,
): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      body.destroy();
      if (!ok) break;
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${bytes / (1024 * 1024)} MiB` : `${bytes / 1024} KiB`;
}

function parseBody(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
