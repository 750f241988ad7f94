import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec } from './encryption-codec';
import { ENCODED_FAILURES_MARKER } from './failure-converter';
import type { CodecKeyRing } from './keys';

/** The module whose `failureConverter` encodes failure messages, for the worker and for bundling workflow code. */
export const ENCODING_FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

/**
 * The one data converter of the worker and every client. With keys, payloads are encrypted and so are failure
 * messages and stack traces (which would otherwise sit in the history in plaintext); without, Temporal's default.
 */
export function createDataConverter(keys: CodecKeyRing | undefined): DataConverter | undefined {
  if (!keys) return undefined;
  return { payloadCodecs: [new EncryptionCodec(keys)], failureConverterPath: ENCODING_FAILURE_CONVERTER_PATH };
}

/**
 * Whether a prebuilt workflow bundle converts failures with `ENCODING_FAILURE_CONVERTER_PATH`: workflow failures are
 * converted inside the bundle, so with a bundle built without it their messages stay plaintext whatever the worker's
 * own data converter does.
 */
export function bundleEncodesFailures(bundleCode: string): boolean {
  return bundleCode.includes(ENCODED_FAILURES_MARKER);
}
