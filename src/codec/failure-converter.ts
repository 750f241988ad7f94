/**
 * The failure converter of workers and clients when payloads are encrypted: a failure's message and stack trace move
 * into a payload, which the codec then encrypts. The worker bundles this module into the workflow sandbox (workflow
 * failures are converted there), so it imports nothing but `@temporalio/common`.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });

/** Found in a workflow bundle built with this converter: what the worker checks a prebuilt bundle for. */
export const ENCODED_FAILURES_MARKER = 'catalog-rollout: workflow failures encoded';
