/**
 * Errors raised by the Citrix Catalog Service client. One base class, one stable `code` per failure mode, in the style
 * of undici's errors. Every error that came from an HTTP exchange carries the method, URL, status, a short redacted
 * excerpt of the answer (never the body itself: it may echo the request) and the `citrix-transactionId` that Citrix
 * support asks for.
 */

export type CitrixErrorCode =
  | 'CITRIX_INVALID_ARGUMENT'
  | 'CITRIX_AUTH'
  | 'CITRIX_FORBIDDEN'
  | 'CITRIX_NOT_FOUND'
  | 'CITRIX_BAD_REQUEST'
  | 'CITRIX_RATE_LIMITED'
  | 'CITRIX_SERVER_ERROR'
  | 'CITRIX_NETWORK'
  | 'CITRIX_TIMEOUT'
  | 'CITRIX_INVALID_RESPONSE';

export interface CitrixErrorDetails {
  method?: string;
  url?: string;
  status?: number;
  /** What the answer said, cleaned, redacted and bounded (`SecretRedactor.excerpt`). */
  detail?: string;
  transactionId?: string;
  /** How long Citrix asked us to wait before trying again, from `Retry-After` or the `retryDelay` parameter. */
  retryAfterMs?: number;
  cause?: unknown;
}

export class CitrixError extends Error {
  override name = 'CitrixError';
  readonly code: CitrixErrorCode;
  readonly method?: string;
  readonly url?: string;
  readonly status?: number;
  readonly detail?: string;
  readonly transactionId?: string;
  readonly retryAfterMs?: number;

  constructor(code: CitrixErrorCode, message: string, details: CitrixErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.method = details.method;
    this.url = details.url;
    this.status = details.status;
    this.detail = details.detail;
    this.transactionId = details.transactionId;
    this.retryAfterMs = details.retryAfterMs;
  }

  /** Whether sending the same request again later can succeed (`RETRYABLE`). */
  get retryable(): boolean {
    return RETRYABLE[this.code];
  }
}

/**
 * Whether the same request may succeed later, per error code: the one table of retryability that the client, the
 * activities' mapping onto Temporal and the workflows' retry policies all follow. A 404 is not retried (a wrong
 * site or catalog id stays wrong); a malformed answer is read again a few times by the caller, then given up.
 */
export const RETRYABLE: Readonly<Record<CitrixErrorCode, boolean>> = {
  CITRIX_INVALID_ARGUMENT: false,
  CITRIX_AUTH: false,
  CITRIX_FORBIDDEN: false,
  CITRIX_NOT_FOUND: false,
  CITRIX_BAD_REQUEST: false,
  CITRIX_INVALID_RESPONSE: false,
  CITRIX_RATE_LIMITED: true,
  CITRIX_SERVER_ERROR: true,
  CITRIX_NETWORK: true,
  CITRIX_TIMEOUT: true,
};

export class CitrixInvalidArgumentError extends CitrixError {
  override name = 'CitrixInvalidArgumentError';
  constructor(message: string) {
    super('CITRIX_INVALID_ARGUMENT', message);
  }
}

export class CitrixAuthError extends CitrixError {
  override name = 'CitrixAuthError';
  constructor(message: string, details: CitrixErrorDetails) {
    super('CITRIX_AUTH', message, details);
  }
}

export class CitrixForbiddenError extends CitrixError {
  override name = 'CitrixForbiddenError';
  constructor(message: string, details: CitrixErrorDetails) {
    super('CITRIX_FORBIDDEN', message, details);
  }
}

export class CitrixNotFoundError extends CitrixError {
  override name = 'CitrixNotFoundError';
  constructor(message: string, details: CitrixErrorDetails) {
    super('CITRIX_NOT_FOUND', message, details);
  }
}

export class CitrixBadRequestError extends CitrixError {
  override name = 'CitrixBadRequestError';
  constructor(message: string, details: CitrixErrorDetails) {
    super('CITRIX_BAD_REQUEST', message, details);
  }
}

export class CitrixRateLimitError extends CitrixError {
  override name = 'CitrixRateLimitError';
  constructor(message: string, details: CitrixErrorDetails) {
    super('CITRIX_RATE_LIMITED', message, details);
  }
}

export class CitrixServerError extends CitrixError {
  override name = 'CitrixServerError';
  constructor(message: string, details: CitrixErrorDetails) {
    super('CITRIX_SERVER_ERROR', message, details);
  }
}

export class CitrixNetworkError extends CitrixError {
  override name = 'CitrixNetworkError';
  constructor(message: string, details: CitrixErrorDetails) {
    super('CITRIX_NETWORK', message, details);
  }
}

export class CitrixTimeoutError extends CitrixError {
  override name = 'CitrixTimeoutError';
  constructor(message: string, details: CitrixErrorDetails) {
    super('CITRIX_TIMEOUT', message, details);
  }
}

export class CitrixInvalidResponseError extends CitrixError {
  override name = 'CitrixInvalidResponseError';
  constructor(message: string, details: CitrixErrorDetails) {
    super('CITRIX_INVALID_RESPONSE', message, details);
  }
}

/**
 * The most useful human sentence in a Citrix error body, whichever of Citrix's error shapes it has: the catalog
 * service's `{message}`, the common model's `{detail}`, the auth layer's `{Error: {Message}}`, or plain text. Raw:
 * the client passes it through `SecretRedactor.excerpt` before it quotes it.
 */
export function describeErrorBody(body: unknown): string | undefined {
  if (typeof body === 'string') return body.trim() || undefined;
  if (!body || typeof body !== 'object') return undefined;
  const fields = body as Record<string, unknown>;
  for (const key of ['message', 'detail', 'error_description', 'Message', 'ErrorMessage', 'error']) {
    const value = fields[key];
    if (typeof value === 'string' && value.trim()) return value.trim();
  }
  const nested = fields['Error'];
  return nested && typeof nested === 'object' ? describeErrorBody(nested) : undefined;
}
