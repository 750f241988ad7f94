import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FAILURE_TYPE_BY_CODE, toApplicationFailure } from '../../src/activities/citrix-failures';
import { CitrixError, type CitrixErrorCode, RETRYABLE } from '../../src/citrix';
import { NON_RETRYABLE_FAILURES } from '../../src/shared';

describe('one retryability table for every Citrix error', () => {
  for (const code of Object.keys(RETRYABLE) as CitrixErrorCode[]) {
    test(`${code} is ${RETRYABLE[code] ? 'retried' : 'not retried'}, by the client, the activity and the workflow alike`, () => {
      const error = new CitrixError(code, `answered with ${code}`, { status: 400, retryAfterMs: 2_000 });
      const failure = toApplicationFailure(error);
      assert.equal(error.retryable, RETRYABLE[code]);
      assert.equal(failure.type, FAILURE_TYPE_BY_CODE[code]);
      assert.equal(failure.nonRetryable, !RETRYABLE[code], 'the activity failure');
      assert.equal(
        NON_RETRYABLE_FAILURES.includes(failure.type as (typeof NON_RETRYABLE_FAILURES)[number]),
        !RETRYABLE[code],
        'the workflows list it in nonRetryableErrorTypes exactly when it must not be retried',
      );
      if (RETRYABLE[code]) assert.equal(failure.nextRetryDelay, 2_000, 'Retry-After is honoured');
    });
  }

  test('a 404 from a list (a wrong CITRIX_SITE_ID) is not retried, and says what to check', () => {
    const failure = toApplicationFailure(new CitrixError('CITRIX_NOT_FOUND', 'GET …/catalogs answered 404'));
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /check CITRIX_SITE_ID/);
  });
});
