// Every answer of the simulator that no source pins down lives here, so that when the real behaviour is learnt only
// this file changes (docs/citrix-catalog-service.md describes what the sources do pin down).
//
// Settled by the audit of Citrix's sources (Quick Deploy OpenAPI, the Go SDK's client/auth.go, the Terraform provider,
// the developer pages), and so served without a guess: a request whose Accept is not exactly `application/json` is
// answered 406; a token request whose content type carries a parameter (`; charset=…`) is answered 400
// `invalid_request`; an API path naming a customer the service does not know is answered 403 in the common error
// model, not 404; token answers carry `X-Cws-TransactionId`; `citrixPrepared` must match the image; the US Gov token
// flow (`POST /{customerId}/tokens/clients`, JSON in and out, `CWSAuth bearer=`); the `PendingVdaUpdate` warning after
// an update whose machines restart later. What is still open is below, each with what the simulator does meanwhile.

import { createHash } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { SimCatalog, SimWarning } from './seed';

/**
 * Catalog-service error body. Citrix's Terraform provider reads these errors as a flat JSON object with a string
 * `message`; the other fields the service may add are unknown.
 */
export function serviceError(message: string): { message: string } {
  return { message };
}

/** `$updateImage` on a catalog that is not `Active`/`InputRequired`: Citrix answers 400 or 409; the simulator 400. */
export const WRONG_STATE_STATUS = 400;

/**
 * A token request naming an unknown customer in its path: answered like wrong credentials, since the trust service
 * checks that the API client belongs to the customer and says no more than that.
 */
export const UNKNOWN_TOKEN_CUSTOMER_STATUS = 400;

/** An API path naming another customer than the token's. Settled by the audit: 403, never 404. */
export const UNKNOWN_CUSTOMER_STATUS = 403;

/** The 403's body: the fields are Citrix's; whether the reason reads exactly so for every path is unconfirmed. */
export function unknownCustomerBody(): Record<string, unknown> {
  return {
    type: 'https://errors-api.cloud.com/common/authorization',
    detail: 'Access denied',
    parameters: [{ name: 'reason', value: 'User is not authenticated for the specified resource' }],
  };
}

/**
 * The 406 for an Accept other than exactly `application/json`: the status is Citrix Cloud's; the detail text is a
 * guess, and so is refusing what only differs in case (`Application/JSON`), which the simulator does.
 */
export function notAcceptableBody(): Record<string, unknown> {
  return {
    type: 'https://errors-api.cloud.com/common/notAcceptable',
    detail: 'Must accept application/json media type',
  };
}

/** The 400 for a token request with `; charset=…`: `invalid_request` is OAuth's; the description is a guess. */
export const CHARSET_TOKEN_ERROR = {
  error: 'invalid_request',
  error_description: 'The Content-Type must be application/x-www-form-urlencoded, without parameters.',
} as const;

/**
 * `$updateImage` without `citrixPrepared`: bound as `false`, the ASP.NET default for a missing boolean, and so refused
 * for a Citrix-prepared image. That the mismatch is refused is settled; the status (400) and message are guesses.
 */
export const CITRIX_PREPARED_DEFAULT = false;

export function citrixPreparedMismatch(image: { id: string; name: string; citrixPrepared: boolean }): string {
  return image.citrixPrepared
    ? `Template image ${image.name} (${image.id}) is a Citrix-prepared image: citrixPrepared must be true.`
    : `Template image ${image.name} (${image.id}) is not a Citrix-prepared image: citrixPrepared must be false.`;
}

/** The CWS auth layer's error body, as the US Gov trust service and Citrix Cloud's auth layer answer. */
export function cwsAuthError(message: string): { Error: { Message: string; Type: string } } {
  return { Error: { Message: message, Type: 'CWSAuthException' } };
}

/**
 * US Gov token flow (`POST /{customerId}/tokens/clients`). Its request and answer shapes are Citrix's; unconfirmed:
 * - wrong credentials or an unknown customer: 401 with this exact body;
 * - a content type other than exactly `application/json` (a `; charset=` too, as on the OAuth endpoint), a body that
 *   is not a JSON object or lacks ClientId/ClientSecret: 400 in the CWS shape;
 * - property names bound case-insensitively, as ASP.NET does;
 * - `ExpiresAt`: Citrix's Go SDK reads it as seconds from now, so the simulator answers the token lifetime in
 *   seconds; it may instead be an absolute time (epoch seconds), which a client reading it as a lifetime would
 *   take for decades.
 */
export const GOV_WRONG_CREDENTIALS = { status: 401, body: cwsAuthError('Invalid client id or client secret.') };
export const GOV_BAD_REQUEST_STATUS = 400;

/** `ExpiresAt` of a US Gov token answer, for a token that lives `ttlSeconds`. */
export const govExpiresAt = (ttlSeconds: number): number => ttlSeconds;

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

/**
 * The warning a failed image update leaves on the catalog (type and text are guesses). Unconfirmed too is what a
 * failed update ends in: `Error`, or `Active` on the previous image with this warning (the `failNextUpdate` fault's
 * `endState` picks one).
 */
export function failedUpdateWarning(imageName: string): SimWarning {
  return {
    type: 'ImageRollback',
    isDismissible: true,
    warningMessage: `Updating to image ${imageName} failed; the catalog keeps its previous image.`,
    isError: true,
  };
}

/**
 * The warning an update with `vdaUpdateDelay` -1 or N > 0 leaves until the machines have restarted. The type is
 * Citrix's; the texts and `isDismissible` are guesses, and so is the catalog's `subState` meanwhile: the simulator
 * leaves it null rather than invent a sub-state Citrix may not have.
 */
export function pendingVdaUpdateWarning(vdaUpdateDelay: number): SimWarning {
  return {
    type: 'PendingVdaUpdate',
    isDismissible: false,
    warningMessage:
      vdaUpdateDelay < 0
        ? 'Machines will update to the new image at their next restart.'
        : `Machines will restart to update to the new image over the next ${vdaUpdateDelay} minutes.`,
    isError: false,
  };
}

/** `vdaUpdateDelay` left out of `$updateImage`: -1 (each machine at its next shutdown), the documented default. */
export const DEFAULT_VDA_UPDATE_DELAY = -1;

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
 * The Citrix Cloud common error model's `type` names, from Citrix's "common error codes" page. Which of them the
 * catalog service's gateway uses for which status is unknown. A status missing here borrows the name of its class
 * (400 for 4xx, 500 otherwise), so that no body names a type Citrix does not have.
 */
const COMMON_ERROR_TYPES: Record<number, [type: string, detail: string]> = {
  400: ['invalidJson', 'Bad request'],
  401: ['authentication', 'Missing or invalid authentication details'],
  403: ['authorization', 'Access denied'],
  404: ['notFound', 'Not found'],
  406: ['notAcceptable', 'Not acceptable'],
  415: ['unsupportedMediaType', 'Must use application/json media type'],
  429: ['rateLimitExceeded', 'Rate limit exceeded'],
  500: ['internalServerError', 'Internal server error'],
  501: ['notImplemented', 'Not implemented'],
  502: ['badGateway', 'Bad gateway'],
  503: ['serviceUnavailable', 'Service is unavailable'],
  504: ['gatewayTimeout', 'Gateway timeout'],
};

function commonErrorType(status: number): [type: string, detail: string] {
  const known = COMMON_ERROR_TYPES[status];
  if (known) return known;
  const [type] = COMMON_ERROR_TYPES[status >= 400 && status < 500 ? 400 : 500] as [string, string];
  return [type, `HTTP ${status}`];
}

export type ErrorShape = 'service' | 'common' | 'auth' | 'text';

export interface ErrorBodyOptions {
  /** @default 'common' */
  shape?: ErrorShape;
  retryDelaySeconds?: number;
  /** Where the common model carries `retryDelay`: `[{"name":"retryDelay","value":"N"}]` or `{"retryDelay":"N"}`. */
  retryDelayAs?: 'array' | 'object';
}

/**
 * Default bodies for injected status faults, in the three shapes Citrix's services answer (the catalog service's flat
 * `message`, the common model, the CWS auth layer's `Error`) or, as gateways often do, plain text. Which layer answers
 * which status, and the texts, are guesses; the shapes are Citrix's. A string is sent as text/plain.
 */
export function errorBody(status: number, options: ErrorBodyOptions = {}): string | Record<string, unknown> {
  const { shape = 'common', retryDelaySeconds, retryDelayAs = 'array' } = options;
  const [type, typeDetail] = commonErrorType(status);
  const detail =
    retryDelaySeconds === undefined ? typeDetail : `${typeDetail}; try again in ${retryDelaySeconds} seconds`;
  switch (shape) {
    case 'service':
      return serviceError(detail);
    case 'auth':
      return cwsAuthError(detail);
    case 'text':
      return `${status} ${STATUS_CODES[status] ?? 'Error'}${retryDelaySeconds === undefined ? '' : `: ${detail}`}`;
    case 'common': {
      const body: Record<string, unknown> = { type: `https://errors-api.cloud.com/common/${type}`, detail };
      if (retryDelaySeconds !== undefined) {
        const value = String(retryDelaySeconds);
        body.parameters = retryDelayAs === 'object' ? { retryDelay: value } : [{ name: 'retryDelay', value }];
      }
      return body;
    }
  }
}

/** The statuses a gateway in front of the service answers without a `citrix-transactionId` (by default). */
export const GATEWAY_STATUSES: ReadonlySet<number> = new Set([429, 502, 504]);

/**
 * The per-customer rate limit (`rateLimit`, off by default). Citrix publishes no limit for the Catalog Service, only
 * that its gateway answers 429; the window (a sliding second, in which refused requests do not count) and the rate are
 * the simulator's assumption. The 429 carries `retryDelay` in the common body and no transaction id; whether the
 * gateway also sends `Retry-After` is unknown, and the simulator sends none.
 */
export const RATE_LIMIT_WINDOW_MS = 1_000;

// Tolerated because Citrix's reaction is unknown: `$updateImage` without `?async=true` (required by the how-to page,
// absent from the spec). The request log keeps the query string, so tests can check that the client sent
// `async=true`.

// The DaaS REST API (`/cvad/manage`). Its paths, headers, paging parameters and `MachineResponseModel` fields are
// Citrix's (Go SDK, Terraform provider, developer pages); what is guessed is below.

/**
 * Quick Deploy ↔ DaaS ids, none pinned by a source: a catalog's `deliveryGroupId` is its `DeliveryGroup.Id`; its `id`
 * is its DaaS `MachineCatalog.Id`; its `vdaProvisioningSchemeId` is that machine catalog's `ProvisioningScheme.Id`
 * (derived from the catalog id when the data set has none, as the built-in seed does); the Catalog Service's site id
 * is the DaaS instance id (`Citrix-InstanceId`); the delivery group and the machine catalog bear the catalog's name;
 * `ProvisioningScheme.MasterImage` names the catalog's template image by its Quick Deploy id.
 */
export function provisioningSchemeIdOf(catalog: SimCatalog): string {
  if (catalog.vdaProvisioningSchemeId) return catalog.vdaProvisioningSchemeId;
  const h = createHash('sha256').update(`provisioning-scheme:${catalog.id.toLowerCase()}`).digest('hex');
  return `9e0c5c4e-${h.slice(0, 4)}-4000-8000-${h.slice(4, 16)}`;
}

/**
 * Header checks: a missing `Citrix-CustomerId` or `Citrix-InstanceId` is answered 400, another customer 403 (as the
 * Catalog Service does), another site 404 (as the Catalog Service does for a site in the path). The statuses and the
 * texts are guesses; that both headers are required is Citrix's.
 */
export const DAAS_MISSING_HEADER_STATUS = 400;
export const DAAS_UNKNOWN_CUSTOMER_STATUS = 403;
export const DAAS_UNKNOWN_SITE_STATUS = 404;

/**
 * The DaaS error body: the common model `{type, detail, parameters}` of Citrix's Go SDK (`ErrorResponse`), with type
 * names borrowed from the common error codes. Citrix's Terraform provider reads an `ErrorMessage` field instead; which
 * one each error carries is unknown (a `status` fault with a `body` can answer the other).
 */
export function daasError(status: number, detail: string, parameters: { name: string; value: string }[] = []) {
  const [type] = commonErrorType(status);
  return { type: `https://errors-api.cloud.com/common/${type}`, detail, parameters };
}

/**
 * Paging: `limit` defaults to 250 (Citrix's Go SDK documents "may be 250"); a `limit` that is not an integer from 1 to
 * 1000 and a continuation token the simulator did not issue are answered 400 (Citrix's reaction is unknown). The
 * token's format is the simulator's own: opaque to clients. An empty `continuationToken` (Citrix's Terraform provider
 * sends one on the first page) reads as the first page. Plain lists carry no `TotalItems` (only `$search` is said to).
 */
export const DAAS_DEFAULT_PAGE_LIMIT = 250;
export const DAAS_MAX_PAGE_LIMIT = 1000;

export function continuationTokenFor(offset: number): string {
  return Buffer.from(`page:${offset}`, 'utf8').toString('base64url');
}

export function offsetOfContinuationToken(token: string): number | undefined {
  const match = /^page:(\d{1,9})$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  return match ? Number(match[1]) : undefined;
}

/**
 * `{nameOrId}`: an id or a name, matched without regard to case; folder paths (`F1|F2|Name`) are not modelled.
 * `fields`: the top-level fields to answer, comma separated and matched without regard to case; names the model does
 * not have are ignored, and an empty `fields` answers every field.
 */
export function selectFields(item: Record<string, unknown>, fields: string | null): Record<string, unknown> {
  const wanted = new Set(
    (fields ?? '')
      .split(',')
      .map((name) => name.trim().toLowerCase())
      .filter(Boolean),
  );
  if (wanted.size === 0) return item;
  return Object.fromEntries(Object.entries(item).filter(([name]) => wanted.has(name.toLowerCase())));
}

/**
 * When machine `index` of `count` restarts after an update's end, by its `vdaUpdateDelay`: 0 at once; N > 0 one after
 * another, evenly over N minutes, the last at the end (so the `PendingVdaUpdate` warning clears with the last
 * restart); -1 all together `machineRestartMs` later, or never for null. Citrix documents what the delay means, not
 * the order or pace of the restarts.
 */
export function restartDelayMs(
  update: { vdaUpdateDelay: number; minuteMs: number; machineRestartMs: number | null },
  index: number,
  count: number,
): number {
  const delay = update.vdaUpdateDelay;
  if (delay === 0) return 0;
  if (delay > 0) return ((index + 1) / Math.max(1, count)) * delay * update.minuteMs;
  return update.machineRestartMs ?? Infinity;
}

/**
 * Machine states, whose names are Citrix's and whose sequence is a guess: a restarting machine reads `Unregistered` and
 * `TurningOn` (`FaultState` `None`) while it boots, then `Registered` and `On`, its last deregistration `AgentShutdown`
 * at the restart. One that an `unhealthyImage` fault keeps from registering reads `Unregistered`, `On`, `FaultState`
 * `Unregistered`, deregistered `AgentNotContactable` when its boot ended. `Hosting.ImageOutOfDate` turns false as the
 * restart begins. The plain `LastDeregistrationTime` is left out: its format is unknown.
 */
export const MACHINE_STATES = {
  booting: { registrationState: 'Unregistered', powerState: 'TurningOn', faultState: 'None' },
  registered: { registrationState: 'Registered', powerState: 'On', faultState: 'None' },
  unregistered: { registrationState: 'Unregistered', powerState: 'On', faultState: 'Unregistered' },
  restartReason: 'AgentShutdown',
  unregisteredReason: 'AgentNotContactable',
} as const;

/** Sessions on a registered machine: invented, steady, none in a catalog without users. */
export function machineSessions(catalog: SimCatalog, index: number): number {
  if (!catalog.numOfUsers) return 0;
  return catalog.sessionSupport === 'SingleSession' ? index % 2 : 1 + (index % 3);
}

/**
 * The catalog's warning while machines fail to register. The type is Quick Deploy's; the text, `isDismissible`, and
 * that it lasts exactly as long as some machine is unregistered are guesses.
 */
export function registerFailureWarning(): SimWarning {
  return {
    type: 'VdaRegisterFailure',
    isDismissible: false,
    warningMessage: 'Some machines of this catalog failed to register with Citrix Cloud after starting.',
    isError: true,
  };
}

/**
 * `MachineCatalog.ImageUpdateStatus` (values Citrix's, mapping a guess): `PreparingImage` while an update processes,
 * else by the machines that run another image than the catalog's: none `UpdateToDate` (sic), all `PendingUpdate`, some
 * `PartiallyUpdated`.
 */
export function imageUpdateStatus(processing: boolean, outOfDate: number, total: number): string {
  if (processing) return 'PreparingImage';
  if (outOfDate === 0) return 'UpdateToDate';
  return outOfDate === total ? 'PendingUpdate' : 'PartiallyUpdated';
}

/** `GET /me` (`MeResponseModel`): `Customers[].Sites[].Id` is Citrix's; the other fields' values are guesses. */
export function meBody(seed: {
  customerId: string;
  clientId: string;
  site: { id: string; displayName: string | null };
}) {
  return {
    UserId: seed.clientId,
    DisplayName: seed.clientId,
    ExpiryTime: null,
    RefreshExpirationTime: null,
    VerifiedEmail: null,
    Customers: [
      { Id: seed.customerId, Name: seed.customerId, Sites: [{ Id: seed.site.id, Name: seed.site.displayName }] },
    ],
  };
}
