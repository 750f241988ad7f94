import { randomUUID } from 'node:crypto';
import { Agent, type Dispatcher, errors as undiciErrors, request } from 'undici';
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
import type { Catalog, CatalogSummary, Site, TemplateImage, UpdateImageAccepted, UpdateImageRequest } from './types';

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
   * @default `https://api.cloud.com/cctrustoauth2/{customerId}/tokens/clients` (the region's host)
   */
  tokenUrl?: string;
  /** The site to work in. Discovered with `GET /{customerId}/sites` when the customer has exactly one. */
  siteId?: string;
  /**
   * Upper bound for one HTTP exchange, from sending the request to reading the whole body.
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
}

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
 * keep-alive connection pooling, a timeout on every call, and typed errors that carry `citrix-transactionId`.
 */
export class CitrixClient {
  readonly customerId: string;
  readonly apiBaseUrl: string;
  readonly tokenUrl: string;
  private readonly clientId: string;
  private readonly clientSecret: string;
  private readonly requestTimeoutMs: number;
  private readonly tokenRefreshMarginMs: number;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly onExchange?: (exchange: CitrixExchange) => void;
  private token?: CachedToken;
  private pendingToken?: Promise<CachedToken>;
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
    this.customerId = options.customerId;
    this.clientId = options.clientId;
    this.clientSecret = options.clientSecret;
    this.apiBaseUrl = (options.apiBaseUrl ?? `https://${host}/catalogservice`).replace(/\/+$/, '');
    this.tokenUrl =
      options.tokenUrl ?? `https://${host}/cctrustoauth2/${encodeURIComponent(options.customerId)}/tokens/clients`;
    this.siteId = options.siteId;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.tokenRefreshMarginMs = options.tokenRefreshMarginMs ?? 60_000;
    this.onExchange = options.onExchange;
    this.ownsDispatcher = !options.dispatcher;
    this.dispatcher =
      options.dispatcher ??
      new Agent({ connections: options.maxConnections ?? 32, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 120_000 });
  }

  async listSites(): Promise<Site[]> {
    const body = await this.send({ method: 'GET', path: `${this.customerPath()}/sites`, operation: 'sites' });
    return listItems<Site>(body, 'sites');
  }

  /** The configured site id, or the customer's only site. */
  async getSiteId(): Promise<string> {
    if (this.siteId) return this.siteId;
    this.pendingSiteId ??= this.discoverSiteId().finally(() => (this.pendingSiteId = undefined));
    return this.pendingSiteId;
  }

  async listCatalogs(): Promise<CatalogSummary[]> {
    const body = await this.send({ method: 'GET', path: await this.sitePath('catalogs'), operation: 'catalogs' });
    return listItems<CatalogSummary>(body, 'catalogs');
  }

  async getCatalog(catalogId: string): Promise<Catalog> {
    const path = await this.sitePath('catalogs', guidSegment('catalog', catalogId));
    const body = await this.send({ method: 'GET', path, operation: 'catalogs/{catalogId}' });
    return expectObject<Catalog>(body, ['id', 'state'], `catalog ${catalogId}`);
  }

  async listImages(): Promise<TemplateImage[]> {
    const body = await this.send({ method: 'GET', path: await this.sitePath('images'), operation: 'images' });
    return listItems<TemplateImage>(body, 'overviews');
  }

  async getImage(imageId: string): Promise<TemplateImage> {
    const path = await this.sitePath('images', imageSegment(imageId));
    const body = await this.send({ method: 'GET', path, operation: 'images/{imageId}' });
    return expectObject<TemplateImage>(body, ['id', 'state'], `image ${imageId}`);
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
    const location = response.headers['location'];
    return {
      catalogId: typeof response.body === 'string' && response.body ? response.body : catalogId,
      transactionId: response.transactionId,
      location: Array.isArray(location) ? location[0] : location,
    };
  }

  /** Closes the keep-alive connections (when the client created its own pool). */
  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
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

  private async send(spec: RequestSpec): Promise<unknown> {
    return (await this.exchangeWithAuth(spec)).body;
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
    throw errorForResponse(spec.method, response);
  }

  private async getToken(): Promise<CachedToken> {
    if (this.token && this.token.expiresAtMs - this.tokenRefreshMarginMs > Date.now()) return this.token;
    this.pendingToken ??= this.fetchToken().finally(() => (this.pendingToken = undefined));
    return this.pendingToken;
  }

  private dropToken(token: CachedToken): void {
    if (this.token === token) this.token = undefined;
  }

  private async fetchToken(): Promise<CachedToken> {
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: this.clientId,
      client_secret: this.clientSecret,
    });
    const response = await this.http('POST', this.tokenUrl, 'token', {
      // Citrix warns that a `; charset=` suffix on this content type breaks the token endpoint.
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
    });
    const details = detailsOf('POST', response);
    if (response.status === 400 || response.status === 401 || response.status === 403) {
      throw new CitrixAuthError(
        `Citrix Cloud refused the API client credentials for customer ${this.customerId} ` +
          `(${describeErrorBody(response.body) ?? `HTTP ${response.status}`}): check the client id, the secret and ` +
          `the customer id, and that the API client has not been deleted`,
        details,
      );
    }
    if (response.status < 200 || response.status >= 300) throw errorForResponse('POST', response);
    const body = response.body as { access_token?: unknown; expires_in?: unknown } | null;
    // Citrix's sample answers `expires_in` as a string of seconds; accept a number too.
    const expiresInSeconds = Number(body?.expires_in ?? 3600);
    if (!body || typeof body.access_token !== 'string' || !body.access_token || !Number.isFinite(expiresInSeconds)) {
      throw new CitrixInvalidResponseError('the Citrix token endpoint answered without an access token', {
        ...details,
        body: undefined,
      });
    }
    const token = { value: body.access_token, expiresAtMs: Date.now() + expiresInSeconds * 1000 };
    this.token = token;
    return token;
  }

  private exchange(spec: RequestSpec, token: string): Promise<Exchanged> {
    const headers: Record<string, string> = {
      authorization: `CwsAuth Bearer=${token}`,
      accept: 'application/json',
      'citrix-transactionid': spec.transactionId ?? randomUUID(),
    };
    let body: string | undefined;
    if (spec.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(spec.body);
    }
    return this.http(spec.method, `${this.apiBaseUrl}${spec.path}`, spec.operation, { headers, body });
  }

  private async http(
    method: 'GET' | 'POST',
    url: string,
    operation: string,
    init: { headers: Record<string, string>; body?: string },
  ): Promise<Exchanged> {
    const started = performance.now();
    let status: number | 'error' = 'error';
    try {
      const response = await request(url, {
        method,
        headers: init.headers,
        body: init.body,
        dispatcher: this.dispatcher,
        headersTimeout: this.requestTimeoutMs,
        bodyTimeout: this.requestTimeoutMs,
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
      const text = await response.body.text();
      status = response.statusCode;
      const transactionId = headerValue(response.headers['citrix-transactionid']);
      return { status, body: parseBody(text), headers: response.headers, transactionId, url };
    } catch (error) {
      throw networkError(method, url, error, this.requestTimeoutMs);
    } finally {
      this.onExchange?.({ method, operation, status, durationMs: performance.now() - started });
    }
  }
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

function listItems<T>(body: unknown, legacyAlias: string): T[] {
  if (body && typeof body === 'object') {
    const fields = body as Record<string, unknown>;
    const items = fields['items'] ?? fields[legacyAlias];
    if (Array.isArray(items)) return items as T[];
  }
  throw new CitrixInvalidResponseError(`expected a list with "items", got ${describeShape(body)}`, { body });
}

function expectObject<T>(body: unknown, required: string[], what: string): T {
  if (body && typeof body === 'object' && required.every((field) => field in body)) return body as T;
  throw new CitrixInvalidResponseError(
    `${what}: expected an object with ${required.join(', ')}, got ${describeShape(body)}`,
    {
      body,
    },
  );
}

function describeShape(body: unknown): string {
  if (body === undefined) return 'an empty body';
  return Array.isArray(body) ? 'an array' : typeof body;
}

function detailsOf(method: string, response: Exchanged): CitrixErrorDetails {
  return {
    method,
    url: response.url,
    status: response.status,
    body: response.body,
    transactionId: response.transactionId,
  };
}

/** `Retry-After` (seconds or an HTTP date) wins over the Citrix Cloud error model's `retryDelay` parameter. */
export function retryAfterMs(headers: Exchanged['headers'], body: unknown): number | undefined {
  const header = headerValue(headers['retry-after']);
  if (header) {
    const seconds = Number(header);
    if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
    const date = Date.parse(header);
    if (Number.isFinite(date)) return Math.max(0, date - Date.now());
  }
  const parameters = (body as { parameters?: unknown } | undefined)?.parameters;
  if (Array.isArray(parameters)) {
    const delay = parameters.find((p: { name?: unknown }) => p?.name === 'retryDelay') as
      { value?: unknown } | undefined;
    const seconds = Number(delay?.value);
    if (delay && Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  }
  return undefined;
}

function errorForResponse(method: string, response: Exchanged): CitrixError {
  const details: CitrixErrorDetails = {
    ...detailsOf(method, response),
    retryAfterMs: retryAfterMs(response.headers, response.body),
  };
  const said = describeErrorBody(response.body);
  const message =
    `${method} ${response.url} answered ${response.status}${said ? `: ${said}` : ''}` +
    (response.transactionId ? ` (citrix-transactionId ${response.transactionId})` : '');
  const status = response.status;
  if (status === 400 || status === 409 || status === 422) return new CitrixBadRequestError(message, details);
  if (status === 401) return new CitrixAuthError(message, details);
  if (status === 403) return new CitrixForbiddenError(message, details);
  if (status === 404) return new CitrixNotFoundError(message, details);
  if (status === 429) return new CitrixRateLimitError(message, details);
  if (status >= 500) return new CitrixServerError(message, details);
  return new CitrixInvalidResponseError(message, details);
}

function networkError(method: string, url: string, error: unknown, timeoutMs: number): CitrixError {
  const details: CitrixErrorDetails = { method, url, cause: error };
  const name = (error as { name?: string } | undefined)?.name;
  if (
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError ||
    name === 'TimeoutError' ||
    name === 'AbortError'
  ) {
    return new CitrixTimeoutError(`${method} ${url} did not answer within ${timeoutMs} ms`, details);
  }
  const reason = (error as { code?: string; message?: string } | undefined)?.code ?? String(error);
  return new CitrixNetworkError(`${method} ${url} failed before an answer arrived (${reason})`, details);
}
