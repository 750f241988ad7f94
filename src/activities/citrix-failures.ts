import { sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { CitrixError, type CitrixErrorCode, CitrixInvalidResponseError } from '../citrix';
import { FailureType } from '../shared';

/** What a failure carries about the Citrix exchange behind it: codes and ids, never a body. */
export function errorDetails(error: unknown): unknown[] {
  if (!(error instanceof CitrixError)) return [];
  return [{ code: error.code, status: error.status, transactionId: error.transactionId, url: error.url }];
}

/**
 * The failure type of each client error code. Whether it is retried comes from the client's `RETRYABLE` table; the
 * non-retryable types are exactly those in `NON_RETRYABLE_FAILURES` (a test holds the three together).
 */
export const FAILURE_TYPE_BY_CODE: Readonly<Record<CitrixErrorCode, FailureType>> = {
  CITRIX_INVALID_ARGUMENT: FailureType.InvalidInput,
  CITRIX_AUTH: FailureType.CitrixAuthFailed,
  CITRIX_FORBIDDEN: FailureType.CitrixForbidden,
  CITRIX_NOT_FOUND: FailureType.CitrixNotFound,
  CITRIX_BAD_REQUEST: FailureType.CitrixRejected,
  CITRIX_INVALID_RESPONSE: FailureType.CitrixInvalidResponse,
  CITRIX_RATE_LIMITED: FailureType.CitrixUnavailable,
  CITRIX_SERVER_ERROR: FailureType.CitrixUnavailable,
  CITRIX_NETWORK: FailureType.CitrixUnavailable,
  CITRIX_TIMEOUT: FailureType.CitrixUnavailable,
};

/**
 * Maps a client error onto Temporal: problems no retry can fix fail at once; rate limits, server errors and network
 * trouble retry, after `Retry-After` when Citrix gave one.
 */
export function toApplicationFailure(error: unknown): ApplicationFailure {
  if (error instanceof ApplicationFailure) return error;
  if (!(error instanceof CitrixError)) {
    return ApplicationFailure.create({ message: String((error as Error)?.message ?? error), type: 'UnexpectedError' });
  }
  const type = FAILURE_TYPE_BY_CODE[error.code];
  const message = `${error.message}${ADVICE[error.code] ?? ''}`;
  if (!error.retryable) return ApplicationFailure.nonRetryable(message, type, ...errorDetails(error));
  return ApplicationFailure.create({ message, type, details: errorDetails(error), nextRetryDelay: error.retryAfterMs });
}

/** Reads of a malformed or oversized answer, a second apart, before the call fails for good. */
const INVALID_RESPONSE_TRIES = 3;

const ADVICE: Partial<Record<CitrixErrorCode, string>> = {
  CITRIX_NOT_FOUND:
    ': check CITRIX_SITE_ID and the ids given (the starter\'s "catalogs" and "images" commands list them)',
  CITRIX_FORBIDDEN:
    ': the API client lacks the rights for this call, or the worker talks to the wrong Citrix Cloud region',
  CITRIX_INVALID_RESPONSE:
    `. The answer was read ${INVALID_RESPONSE_TRIES} times: check CITRIX_API_BASE_URL and any proxy between the ` +
    'worker and Citrix Cloud',
};

/**
 * Runs one Citrix call. An answer of the wrong shape or size may be a passing glitch of a proxy, so the call is
 * repeated a few times within the attempt; after that it fails non-retryably (`CitrixInvalidResponse`) with the
 * client's description of what was wrong. `explain` may turn a client error into a failure of its own (a 404 into
 * `CatalogNotFound`); every other error maps through `toApplicationFailure`.
 */
export async function citrixCall<T>(
  call: () => Promise<T>,
  explain?: (error: CitrixError) => ApplicationFailure | undefined | Promise<ApplicationFailure | undefined>,
): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await call();
    } catch (error) {
      if (error instanceof CitrixInvalidResponseError && tries < INVALID_RESPONSE_TRIES) {
        await sleep(1_000 * tries);
        continue;
      }
      throw (error instanceof CitrixError && (await explain?.(error))) || toApplicationFailure(error);
    }
  }
}
