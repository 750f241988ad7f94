// Every answer of the simulator that no source pins down (API.md marks these **unconfirmed**) lives here, so that when
// the real behaviour is learnt only this file changes.

import type { SimCatalog, SimWarning } from './seed';

/**
 * Catalog-service error body. Citrix's Terraform provider reads these errors as a flat JSON object with a string
 * `message`; the other fields the service may add are unknown.
 */
export function serviceError(message: string): { message: string } {
  return { message };
}

/** `$updateImage` on a catalog that is not `Active`/`InputRequired`: Citrix answers 400 or 409; API.md settles on 400. */
export const WRONG_STATE_STATUS = 400;

/**
 * A token request naming an unknown customer in its path: answered like wrong credentials, since the trust service
 * checks that the API client belongs to the customer and says no more than that.
 */
export const UNKNOWN_TOKEN_CUSTOMER_STATUS = 400;

/**
 * An API path naming another customer than the token's: answered 404 naming the customer. Citrix may answer 403
 * ("Access denied") instead, as it does for a wrong region.
 */
export const UNKNOWN_CUSTOMER_STATUS = 404;

/**
 * The order of sub-states while an image update is `Processing`, each taking a quarter of the time. The names are
 * Citrix's; their order and share of the time are guesses.
 */
export const PROCESSING_SUB_STATES = [
  'ProcessingProvisioningMasterImage',
  'ProcessingVerifyingMasterImage',
  'ProcessingVdaCopyingMasterImage',
  'ProcessingVdaUpdatingCitrixServers',
] as const;

/** The warning a failed image update leaves on the catalog (type and text are guesses). */
export function failedUpdateWarning(imageName: string): SimWarning {
  return {
    type: 'ImageRollback',
    isDismissible: true,
    warningMessage: `Updating to image ${imageName} failed; the catalog keeps its previous image.`,
    isError: true,
  };
}

/**
 * `GET .../catalogs/{id}/updateStatus`, the resource the 202's `location` header names, is absent from the spec;
 * its shape is most likely `CatalogStatusOverview`.
 */
export function updateStatusBody(catalog: SimCatalog, startedAt: string | null): Record<string, unknown> {
  return {
    state: catalog.state,
    subState: catalog.subState,
    warnings: catalog.warnings,
    statusMessage: catalog.statusMessage,
    transactionId: catalog.transactionId,
    startedAt,
  };
}

/**
 * Default bodies for injected status faults: the Citrix Cloud common error model, with the `type` names from Citrix's
 * "common error codes" page. Whether the catalog service's gateway uses them for every status is unknown.
 */
const COMMON_ERROR_TYPES: Record<number, [type: string, detail: string]> = {
  400: ['invalidJson', 'Bad request'],
  401: ['authentication', 'Missing or invalid authentication details'],
  403: ['authorization', 'Access denied'],
  404: ['notFound', 'Not found'],
  429: ['rateLimitExceeded', 'Rate limit exceeded'],
  500: ['internalServerError', 'Internal server error'],
  501: ['notImplemented', 'Not implemented'],
  502: ['badGateway', 'Bad gateway'],
  503: ['serviceUnavailable', 'Service is unavailable'],
  504: ['gatewayTimeout', 'Gateway timeout'],
};

export function commonErrorBody(status: number, retryDelaySeconds?: number): Record<string, unknown> {
  const [type, detail] = COMMON_ERROR_TYPES[status] ?? ['error', `HTTP ${status}`];
  const body: Record<string, unknown> = { type: `https://errors-api.cloud.com/common/${type}`, detail };
  if (retryDelaySeconds !== undefined) {
    body.detail = `${detail}; try again in ${retryDelaySeconds} seconds`;
    body.parameters = [{ name: 'retryDelay', value: String(retryDelaySeconds) }];
  }
  return body;
}

// Tolerated because Citrix's reaction is unknown: a `; charset=` suffix on the token request's content type (Citrix
// warns that it "causes trouble"), and `$updateImage` without `?async=true` (required by the how-to page, absent from
// the spec). The request log keeps the query string, so tests can check that the client sent `async=true`.
