import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { Agent, type Dispatcher, errors as undiciErrors, request } from 'undici';
import type { z } from 'zod';
import {
  CitrixAuthError,
  CitrixBadRequestError,
  type CitrixError,
  type CitrixErrorDetails,
  CitrixForbiddenError,
  CitrixInvalidArgumentError,
  CitrixInvalidResponseError,
  CitrixNetworkError,
  CitrixNotFoundError,
  CitrixRateLimitError,
  CitrixServerError,
  CitrixTimeoutError,
  describeErrorBody,
} from './errors';
import { isCustomerId, isGuid, isImageId } from './ids';
import { SecretRedactor } from './sanitize';
import { type ResponseShapes, describeIssues, responseShapes } from './shapes';
import type { Catalog, CatalogSummary, Site, TemplateImage, UpdateImageAccepted, UpdateImageRequest } from './types';
import { outboundUrlProblem } from './urls';

/** Citrix Cloud API hosts by region. The catalog service is geo-dependent: use the region the tenant lives in. */
export const CITRIX_API_HOSTS = {
  global: 'api.cloud.com',
  us: 'api-us.cloud.com',
  eu: 'api-eu.cloud.com',
  'ap-s': 'api-ap-s.cloud.com',
  jp: 'api.citrixcloud.jp',
  'us-gov': 'api.cloud.us',
} as const;
export type CitrixRegion = keyof typeof CITRIX_API_HOSTS;

/**
 * How the client gets a token: `oauth`, the form-encoded client-credentials flow of `cctrustoauth2` that every
 * commercial region serves; `cctrust`, the JSON flow of US Gov's trust service (`{ClientId, ClientSecret}` in,
 * `{Token, ExpiresAt}` out), which US Gov tenants must use.
 */
export type CitrixAuthFlow = 'oauth' | 'cctrust';

/** The token endpoint of US Gov tenants (Citrix's Terraform provider and Go SDK). */
const US_GOV_TRUST_HOST = 'trust.citrixworkspacesapi.us';

export interface CitrixClientOptions {
  /** The Citrix Cloud customer id (shown in Citrix Cloud under Identity and Access Management > API Access). */
  customerId: string;
  /** The API client id. */
  clientId: string;
  /** The API client secret. Kept in this object only; never logged, never part of an error. */
  clientSecret: string;
  /**
   * Which Citrix Cloud region's hosts to use when `apiBaseUrl` / `tokenUrl` are not given.
   * @default 'global'
   */
  region?: CitrixRegion;
  /**
   * Base URL of the Catalog Service.
   * @default `https://api.cloud.com/catalogservice` (the region's host)
   */
  apiBaseUrl?: string;
  /**
   * Token endpoint.
   * @default `https://api.cloud.com/cctrustoauth2/{customerId}/tokens/clients` (the region's host); for `us-gov`,
   * `https://trust.citrixworkspacesapi.us/{customerId}/tokens/clients`
   */
  tokenUrl?: string;
  /** @default 'cctrust' for the `us-gov` region or a token URL on its trust host, else 'oauth' */
  authFlow?: CitrixAuthFlow;
  /** Sent as `User-Agent`, so that Citrix's logs tell this tool's calls apart. @default 'catalog-rollout' */
  userAgent?: string;
  /** The site to work in. Discovered with `GET /{customerId}/sites` when the customer has exactly one. */
  siteId?: string;
  /**
   * Upper bound for one HTTP exchange, from sending the request to reading the whole body (at most 10 minutes).
   * @default 30_000
   */
  requestTimeoutMs?: number;
  /**
   * A cached token is replaced once less than this is left of its life (Citrix's own SDK uses one minute).
   * @default 60_000
   */
  tokenRefreshMarginMs?: number;
  /**
   * Most keep-alive connections kept open to each Citrix host.
   * @default 32
   */
  maxConnections?: number;
  /** An undici dispatcher to use instead of the client's own keep-alive `Agent`. */
  dispatcher?: Dispatcher;
  /** Called after every HTTP exchange, for metrics and tests. */
  onExchange?: (exchange: CitrixExchange) => void;
  /**
   * Learns the client secret and every token the client is issued, and cleans what the client quotes from answers.
   * Share one with the process's log redaction so that log lines are cleaned of the same secrets.
   * @default a redactor of its own
   */
  redactor?: SecretRedactor;
}

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

/** A `Retry-After` or `retryDelay` longer than this is taken as this. */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;
/** A token is reused for at least this long, whatever lifetime its answer claims (0 would mean a token per call). */
export const MIN_TOKEN_REUSE_MS = 30_000;
/** And at most this long. */
export const MAX_TOKEN_LIFETIME_MS = 24 * 3_600_000;
export const MAX_REQUEST_TIMEOUT_MS = 10 * 60_000;

export interface CitrixExchange {
  method: string;
  /** The path template, such as `catalogs/{catalogId}`; never holds secrets. */
  operation: string;
  status: number | 'error';
  durationMs: number;
}

interface RequestSpec {
  method: 'GET' | 'POST';
  /** Path below the API base, already encoded. */
  path: string;
  operation: string;
  body?: unknown;
  transactionId?: string;
  /** @default MAX_RESPONSE_BYTES.item */
  maxBytes?: number;
}

interface Exchanged {
  status: number;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
  transactionId?: string;
  url: string;
}

interface CachedToken {
  value: string;
  expiresAtMs: number;
}

/**
 * A client for the Citrix Cloud Catalog Service (Quick Deploy) on undici: one cached bearer token per API client,
 * keep-alive connection pooling, a timeout on every call, answers read with a size cap and checked by shape, and
 * typed errors that carry `citrix-transactionId`. The secret and tokens live in private fields: inspecting or
 * serialising a client shows neither.
 */
export class CitrixClient {
  readonly customerId: string;
  readonly apiBaseUrl: string;
  readonly tokenUrl: string;
  readonly authFlow: CitrixAuthFlow;
  readonly #userAgent: string;
  readonly #clientId: string;
  readonly #clientSecret: string;
  readonly #redactor: SecretRedactor;
  readonly #shapes: ResponseShapes;
  private readonly requestTimeoutMs: number;
  private readonly tokenRefreshMarginMs: number;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly onExchange?: (exchange: CitrixExchange) => void;
  #token?: CachedToken;
  #pendingToken?: Promise<CachedToken>;
  private siteId?: string;
  private pendingSiteId?: Promise<string>;

  constructor(options: CitrixClientOptions) {
    if (!isCustomerId(options.customerId)) {
      throw new CitrixInvalidArgumentError(`customer id "${options.customerId}" is not a Citrix Cloud customer id`);
    }
    if (!options.clientId || !options.clientSecret) {
      throw new CitrixInvalidArgumentError('a Citrix API client id and secret are both required');
    }
    if (options.siteId !== undefined && !isGuid(options.siteId)) {
      throw new CitrixInvalidArgumentError(`site id "${options.siteId}" is not a GUID`);
    }
    const host = CITRIX_API_HOSTS[options.region ?? 'global'];
    if (!host) throw new CitrixInvalidArgumentError(`unknown Citrix Cloud region "${options.region}"`);
    const timeout = options.requestTimeoutMs ?? 30_000;
    if (!Number.isInteger(timeout) || timeout < 1 || timeout > MAX_REQUEST_TIMEOUT_MS) {
      throw new CitrixInvalidArgumentError(`requestTimeoutMs must be from 1 to ${MAX_REQUEST_TIMEOUT_MS} ms`);
    }
    this.customerId = options.customerId;
    this.#clientId = options.clientId;
    this.#clientSecret = options.clientSecret;
    this.#redactor = options.redactor ?? new SecretRedactor();
    this.#redactor.add(options.clientSecret);
    this.#shapes = responseShapes(this.#redactor);
    this.apiBaseUrl = (options.apiBaseUrl ?? `https://${host}/catalogservice`).replace(/\/+$/, '');
    const customer = encodeURIComponent(options.customerId);
    this.tokenUrl =
      options.tokenUrl ??
      (options.region === 'us-gov'
        ? `https://${US_GOV_TRUST_HOST}/${customer}/tokens/clients`
        : `https://${host}/cctrustoauth2/${customer}/tokens/clients`);
    this.authFlow =
      options.authFlow ??
      (options.region === 'us-gov' || new URL(this.tokenUrl).hostname === US_GOV_TRUST_HOST ? 'cctrust' : 'oauth');
    this.#userAgent = options.userAgent ?? 'catalog-rollout';
    for (const [name, url] of [
      ['apiBaseUrl', this.apiBaseUrl],
      ['tokenUrl', this.tokenUrl],
    ] as const) {
      const problem = outboundUrlProblem(url, name);
      if (problem) throw new CitrixInvalidArgumentError(problem);
    }
    this.siteId = options.siteId;
    this.requestTimeoutMs = timeout;
    this.tokenRefreshMarginMs = options.tokenRefreshMarginMs ?? 60_000;
    this.onExchange = options.onExchange;
    this.ownsDispatcher = !options.dispatcher;
    this.dispatcher =
      options.dispatcher ??
      new Agent({ connections: options.maxConnections ?? 32, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 120_000 });
  }

  async listSites(): Promise<Site[]> {
    const spec = { method: 'GET', path: `${this.customerPath()}/sites`, operation: 'sites' } as const;
    return this.read(spec, this.#shapes.sites, 'site list');
  }

  /** The configured site id, or the customer's only site. */
  async getSiteId(): Promise<string> {
    if (this.siteId) return this.siteId;
    this.pendingSiteId ??= this.discoverSiteId().finally(() => (this.pendingSiteId = undefined));
    return this.pendingSiteId;
  }

  async listCatalogs(): Promise<CatalogSummary[]> {
    const spec = { method: 'GET', path: await this.sitePath('catalogs'), operation: 'catalogs' } as const;
    return this.read({ ...spec, maxBytes: MAX_RESPONSE_BYTES.list }, this.#shapes.catalogs, 'catalog list');
  }

  async getCatalog(catalogId: string): Promise<Catalog> {
    const path = await this.sitePath('catalogs', guidSegment('catalog', catalogId));
    const spec = { method: 'GET', path, operation: 'catalogs/{catalogId}' } as const;
    return this.read(spec, this.#shapes.catalog, `catalog ${catalogId}`);
  }

  async listImages(): Promise<TemplateImage[]> {
    const spec = { method: 'GET', path: await this.sitePath('images'), operation: 'images' } as const;
    return this.read({ ...spec, maxBytes: MAX_RESPONSE_BYTES.list }, this.#shapes.images, 'image list');
  }

  async getImage(imageId: string): Promise<TemplateImage> {
    const path = await this.sitePath('images', imageSegment(imageId));
    const spec = { method: 'GET', path, operation: 'images/{imageId}' } as const;
    return this.read(spec, this.#shapes.image, `image ${imageId}`);
  }

  /**
   * `POST .../catalogs/{catalogId}/$updateImage?async=true`. Citrix answers 202 and the catalog goes `Processing`
   * a little later. This call is never retried here: a POST whose outcome is unknown must be reconciled by reading the
   * catalog, which only the caller can do.
   */
  async updateImage(
    catalogId: string,
    update: UpdateImageRequest,
    options: { transactionId?: string } = {},
  ): Promise<UpdateImageAccepted> {
    if (!isImageId(update.templateId)) {
      throw new CitrixInvalidArgumentError(`image id "${update.templateId}" is not a valid Citrix image id`);
    }
    const path = `${await this.sitePath('catalogs', guidSegment('catalog', catalogId))}/$updateImage?async=true`;
    const response = await this.exchangeWithAuth({
      method: 'POST',
      path,
      operation: 'catalogs/{catalogId}/$updateImage',
      body: update,
      transactionId: options.transactionId,
    });
    const location = headerValue(response.headers['location']);
    return {
      catalogId,
      transactionId: response.transactionId,
      location: location === undefined ? undefined : this.#redactor.excerpt(location, 1000),
    };
  }

  /** Closes the keep-alive connections (when the client created its own pool). */
  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  /** What `util.inspect` and `console.log` show: where the client points, never its credentials. */
  [inspect.custom](): string {
    return `CitrixClient { customerId: '${this.customerId}', apiBaseUrl: '${this.apiBaseUrl}' }`;
  }

  toJSON(): Record<string, string> {
    return { customerId: this.customerId, apiBaseUrl: this.apiBaseUrl, tokenUrl: this.tokenUrl };
  }

  private customerPath(): string {
    return `/${encodeURIComponent(this.customerId)}`;
  }

  private async sitePath(...segments: string[]): Promise<string> {
    const siteId = await this.getSiteId();
    return [this.customerPath(), encodeURIComponent(siteId), ...segments].join('/');
  }

  private async discoverSiteId(): Promise<string> {
    const sites = await this.listSites();
    const [only] = sites;
    if (sites.length !== 1 || !only || !isGuid(only.id)) {
      const found = sites.map((site) => `${site.id} (${site.displayName ?? 'unnamed'})`).join(', ') || 'none';
      throw new CitrixInvalidArgumentError(
        `cannot choose a site for customer ${this.customerId} (sites found: ${found}): set the site id explicitly`,
      );
    }
    this.siteId = only.id;
    return only.id;
  }

  /** A GET whose answer must have `shape`; anything else is a `CitrixInvalidResponseError` naming the field. */
  private async read<T>(spec: RequestSpec, shape: z.ZodType<T>, what: string): Promise<T> {
    const response = await this.exchangeWithAuth(spec);
    const parsed = shape.safeParse(response.body);
    if (parsed.success) return parsed.data;
    throw new CitrixInvalidResponseError(
      `${spec.method} ${response.url} answered ${response.status} with a malformed ${what} ` +
        `(${describeIssues(parsed.error)})${transactionNote(response.transactionId)}`,
      { ...detailsOf(spec.method, response), detail: undefined },
    );
  }

  private async exchangeWithAuth(spec: RequestSpec): Promise<Exchanged> {
    let token = await this.getToken();
    let response = await this.exchange(spec, token.value);
    if (response.status === 401) {
      // Tokens cannot be refreshed; a 401 means it expired or was revoked early. One new token, one more try.
      this.dropToken(token);
      token = await this.getToken();
      response = await this.exchange(spec, token.value);
    }
    if (response.status >= 200 && response.status < 300) return response;
    throw this.errorForResponse(spec.method, response);
  }

  private async getToken(): Promise<CachedToken> {
    if (this.#token && this.#token.expiresAtMs - this.tokenRefreshMarginMs > Date.now()) return this.#token;
    this.#pendingToken ??= this.fetchToken().finally(() => (this.#pendingToken = undefined));
    return this.#pendingToken;
  }

  private dropToken(token: CachedToken): void {
    if (this.#token === token) this.#token = undefined;
  }

  /**
   * Nothing of a token endpoint's answer is ever quoted: a wrong URL or a proxy may echo the form, and with it the
   * secret. An error says the status and, for a refusal, the OAuth `error` code when it is one of the standard ones.
   */
  private async fetchToken(): Promise<CachedToken> {
    const oauth = this.authFlow === 'oauth';
    const body = oauth
      ? new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: this.#clientId,
          client_secret: this.#clientSecret,
        }).toString()
      : JSON.stringify({ ClientId: this.#clientId, ClientSecret: this.#clientSecret });
    const response = await this.http('POST', this.tokenUrl, 'token', {
      // Citrix warns that a `; charset=` suffix on the form's content type breaks the token endpoint.
      headers: {
        'content-type': oauth ? 'application/x-www-form-urlencoded' : 'application/json',
        accept: 'application/json',
        'user-agent': this.#userAgent,
      },
      body,
      maxBytes: MAX_RESPONSE_BYTES.token,
    });
    const trace = this.#redactor.excerpt(headerValue(response.headers['x-cws-transactionid']) ?? '', 64);
    const details: CitrixErrorDetails = {
      method: 'POST',
      url: this.tokenUrl,
      status: response.status,
      transactionId: trace || undefined,
    };
    const answered = `POST ${this.tokenUrl} answered ${response.status}${trace ? ` (X-Cws-TransactionId ${trace})` : ''}`;
    if (response.status === 400 || response.status === 401 || response.status === 403) {
      const code = oauthErrorCode(response.body);
      throw new CitrixAuthError(
        `Citrix Cloud refused the API client credentials for customer ${this.customerId} ` +
          `(${answered}${code ? `, ${code}` : ''}): check the client id, the secret and the customer id, and that ` +
          `the API client has not been deleted`,
        details,
      );
    }
    if (response.status < 200 || response.status >= 300) {
      throw errorForStatus(response.status, `${answered}: the token endpoint is not available`, {
        ...details,
        retryAfterMs: retryAfterMs(response.headers, undefined),
      });
    }
    const answer = (response.body ?? {}) as Record<string, unknown>;
    // OAuth: `access_token` and `expires_in`, a string of seconds in Citrix's sample (a number is accepted too).
    // US Gov's trust service: `Token` and `ExpiresAt`, seconds from now as Citrix's Go SDK reads it.
    const value = oauth ? answer['access_token'] : answer['Token'];
    const expiresInSeconds = Number((oauth ? answer['expires_in'] : answer['ExpiresAt']) ?? 3600);
    if (typeof value !== 'string' || !value || !Number.isFinite(expiresInSeconds)) {
      throw new CitrixInvalidResponseError(
        `${answered} without an access token and its lifetime: check CITRIX_TOKEN_URL`,
        details,
      );
    }
    this.#redactor.add(value);
    const lifetimeMs = Math.min(
      Math.max(expiresInSeconds * 1000, this.tokenRefreshMarginMs + MIN_TOKEN_REUSE_MS),
      MAX_TOKEN_LIFETIME_MS,
    );
    const token = { value, expiresAtMs: Date.now() + lifetimeMs };
    this.#token = token;
    return token;
  }

  private errorForResponse(method: string, response: Exchanged): CitrixError {
    const said = describeErrorBody(response.body);
    const excerpt = said === undefined ? undefined : this.#redactor.excerpt(said);
    const message =
      `${method} ${response.url} answered ${response.status}${excerpt ? `: ${excerpt}` : ''}` +
      transactionNote(response.transactionId);
    return errorForStatus(response.status, message, {
      ...detailsOf(method, response),
      detail: excerpt,
      retryAfterMs: retryAfterMs(response.headers, response.body),
    });
  }

  private exchange(spec: RequestSpec, token: string): Promise<Exchanged> {
    const headers: Record<string, string> = {
      // The scheme as each flow's Citrix samples write it; Citrix matches it case-insensitively.
      authorization: this.authFlow === 'oauth' ? `CwsAuth Bearer=${token}` : `CWSAuth bearer=${token}`,
      'user-agent': this.#userAgent,
      accept: 'application/json',
      'citrix-transactionid': spec.transactionId ?? randomUUID(),
    };
    let body: string | undefined;
    if (spec.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(spec.body);
    }
    const maxBytes = spec.maxBytes ?? MAX_RESPONSE_BYTES.item;
    return this.http(spec.method, `${this.apiBaseUrl}${spec.path}`, spec.operation, { headers, body, maxBytes });
  }

  private async http(
    method: 'GET' | 'POST',
    url: string,
    operation: string,
    init: { headers: Record<string, string>; body?: string; maxBytes: number },
  ): Promise<Exchanged> {
    const started = performance.now();
    let status: number | 'error' = 'error';
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
      this.onExchange?.({ method, operation, status, durationMs: performance.now() - started });
      throw this.networkError(method, url, error);
    }
    try {
      status = response.statusCode;
      const transactionId = this.#redactor.excerpt(headerValue(response.headers['citrix-transactionid']) ?? '', 64);
      const ok = status >= 200 && status < 300;
      const limit = ok ? init.maxBytes : Math.min(init.maxBytes, MAX_RESPONSE_BYTES.error);
      const text = await readAtMost(response.body, limit, ok);
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
      if (error instanceof CitrixInvalidResponseError) throw error;
      throw this.networkError(method, url, error);
    } finally {
      this.onExchange?.({ method, operation, status, durationMs: performance.now() - started });
    }
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
 * dropped, so that an endless or huge answer costs at most that much memory. A declared `content-length` over the
 * limit is refused before anything is read. Error answers (`ok` false) are cut instead: only an excerpt is needed.
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

function transactionNote(transactionId: string | undefined): string {
  return transactionId ? ` (citrix-transactionId ${transactionId})` : '';
}

/** The standard OAuth 2.0 error codes (RFC 6749, 5.2): the only part of a token endpoint's answer ever quoted. */
const OAUTH_ERROR_CODES = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
]);

function oauthErrorCode(body: unknown): string | undefined {
  const code = (body as { error?: unknown } | undefined)?.error;
  return typeof code === 'string' && OAUTH_ERROR_CODES.has(code) ? code : undefined;
}

function guidSegment(what: string, id: string): string {
  if (typeof id !== 'string' || !isGuid(id)) {
    throw new CitrixInvalidArgumentError(`${what} id "${String(id)}" is not a GUID (for example 3f2a…-…-…-…-…)`);
  }
  return encodeURIComponent(id);
}

function imageSegment(id: string): string {
  if (typeof id !== 'string' || !isImageId(id)) {
    throw new CitrixInvalidArgumentError(`image id "${String(id)}" is not a valid Citrix image id`);
  }
  return encodeURIComponent(id);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function parseBody(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function detailsOf(method: string, response: Exchanged): CitrixErrorDetails {
  return { method, url: response.url, status: response.status, transactionId: response.transactionId };
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

function errorForStatus(status: number, message: string, details: CitrixErrorDetails): CitrixError {
  if (status === 400 || status === 409 || status === 422) return new CitrixBadRequestError(message, details);
  if (status === 401) return new CitrixAuthError(message, details);
  if (status === 403) return new CitrixForbiddenError(message, details);
  if (status === 404) return new CitrixNotFoundError(message, details);
  if (status === 429) return new CitrixRateLimitError(message, details);
  if (status >= 500) return new CitrixServerError(message, details);
  return new CitrixInvalidResponseError(message, details);
}
