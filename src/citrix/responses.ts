import {
  CitrixAuthError,
  CitrixBadRequestError,
  type CitrixError,
  type CitrixErrorCode,
  type CitrixErrorDetails,
  CitrixForbiddenError,
  CitrixInvalidResponseError,
  CitrixNotFoundError,
  CitrixRateLimitError,
  CitrixServerError,
  describeErrorBody,
} from './errors';
import type { Exchanged } from './http';
import type { SecretRedactor } from './sanitize';

// What an answer means: which error its status is, how long it asks the caller to wait, and the notes that every
// error message built from it carries.

/** A `Retry-After` or `retryDelay` longer than this is taken as this. */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export function transactionNote(transactionId: string | undefined): string {
  return transactionId ? ` (citrix-transactionId ${transactionId})` : '';
}

export function detailsOf(method: string, response: Exchanged): CitrixErrorDetails {
  return { method, url: response.url, status: response.status, transactionId: response.transactionId };
}

/** The error for a Catalog Service answer outside 2xx, quoting a redacted excerpt of what it said. */
export function errorForResponse(method: string, response: Exchanged, redactor: SecretRedactor): CitrixError {
  const said = describeErrorBody(response.body);
  const excerpt = said === undefined ? undefined : redactor.excerpt(said);
  const message =
    `${method} ${response.url} answered ${response.status}${excerpt ? `: ${excerpt}` : ''}` +
    transactionNote(response.transactionId);
  return errorForStatus(response.status, message, {
    ...detailsOf(method, response),
    detail: excerpt,
    retryAfterMs: retryAfterMs(response.headers, response.body),
  });
}

/** The failure modes an answer (rather than the client, the network or a timeout) can be. */
type AnswerErrorCode = Exclude<CitrixErrorCode, 'CITRIX_INVALID_ARGUMENT' | 'CITRIX_NETWORK' | 'CITRIX_TIMEOUT'>;

/** The error code of an answer outside 2xx: the one mapping of statuses onto failure modes. */
export function errorCodeForStatus(status: number): AnswerErrorCode {
  if (status === 400 || status === 409 || status === 422) return 'CITRIX_BAD_REQUEST';
  if (status === 401) return 'CITRIX_AUTH';
  if (status === 403) return 'CITRIX_FORBIDDEN';
  if (status === 404) return 'CITRIX_NOT_FOUND';
  if (status === 429) return 'CITRIX_RATE_LIMITED';
  if (status >= 500) return 'CITRIX_SERVER_ERROR';
  return 'CITRIX_INVALID_RESPONSE';
}

const ERROR_CLASSES: Record<AnswerErrorCode, new (message: string, details: CitrixErrorDetails) => CitrixError> = {
  CITRIX_BAD_REQUEST: CitrixBadRequestError,
  CITRIX_AUTH: CitrixAuthError,
  CITRIX_FORBIDDEN: CitrixForbiddenError,
  CITRIX_NOT_FOUND: CitrixNotFoundError,
  CITRIX_RATE_LIMITED: CitrixRateLimitError,
  CITRIX_SERVER_ERROR: CitrixServerError,
  CITRIX_INVALID_RESPONSE: CitrixInvalidResponseError,
};

export function errorForStatus(status: number, message: string, details: CitrixErrorDetails): CitrixError {
  return new ERROR_CLASSES[errorCodeForStatus(status)](message, details);
}

/**
 * `Retry-After` (seconds or an HTTP date) wins over the Citrix Cloud error model's `retryDelay` parameter; either is
 * capped at `MAX_RETRY_AFTER_MS`.
 */
export function retryAfterMs(headers: Exchanged['headers'], body: unknown): number | undefined {
  const asked = retryAfterHeaderMs(headerValue(headers['retry-after'])) ?? retryDelayMs(body);
  return asked === undefined ? undefined : Math.min(asked, MAX_RETRY_AFTER_MS);
}

function retryAfterHeaderMs(header: string | undefined): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

/** `retryDelay` (seconds) from the common error model's `parameters`: a list of `{name, value}`, or an object. */
function retryDelayMs(body: unknown): number | undefined {
  const parameters = (body as { parameters?: unknown } | undefined)?.parameters;
  let value: unknown;
  if (Array.isArray(parameters)) {
    value = (parameters.find((p: { name?: unknown }) => p?.name === 'retryDelay') as { value?: unknown } | undefined)
      ?.value;
  } else if (parameters && typeof parameters === 'object') {
    value = (parameters as Record<string, unknown>)['retryDelay'];
  }
  const seconds = Number(value);
  return value !== undefined && value !== null && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}
