import {
  CitrixAuthError,
  CitrixBadRequestError,
  type CitrixError,
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

export function errorForStatus(status: number, message: string, details: CitrixErrorDetails): CitrixError {
  if (status === 400 || status === 409 || status === 422) return new CitrixBadRequestError(message, details);
  if (status === 401) return new CitrixAuthError(message, details);
  if (status === 403) return new CitrixForbiddenError(message, details);
  if (status === 404) return new CitrixNotFoundError(message, details);
  if (status === 429) return new CitrixRateLimitError(message, details);
  if (status >= 500) return new CitrixServerError(message, details);
  return new CitrixInvalidResponseError(message, details);
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
