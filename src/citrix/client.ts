import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import type { Dispatcher } from 'undici';
import type { z } from 'zod';
import {
  type CachedToken,
  type CitrixAuthFlow,
  TokenSource,
  authorizationHeader,
  defaultAuthFlow,
  defaultTokenUrl,
} from './auth';
import type { RequestBudget } from './budget';
import { type CatalogMachinesQuery, DaasApi, type ListMachinesOptions } from './daas';
import { CitrixInvalidArgumentError, CitrixInvalidResponseError } from './errors';
import { type CitrixExchange, type Exchanged, HttpTransport, MAX_RESPONSE_BYTES } from './http';
import { isCustomerId, isGuid, isImageId } from './ids';
import type { CatalogMachines } from './machines';
import { type CitrixRegion, defaultDaasBaseUrl, regionHost } from './regions';
import { detailsOf, errorForResponse, headerValue, retryAfterMs, transactionNote } from './responses';
import { SecretRedactor } from './sanitize';
import { type ResponseShapes, describeIssues, responseShapes } from './shapes';
import type { Catalog, CatalogSummary, Site, TemplateImage, UpdateImageAccepted, UpdateImageRequest } from './types';
import { outboundUrlProblem } from './urls';

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
   * Base URL of the DaaS REST API, which lists the machines behind a catalog.
   * @default `https://api.cloud.com/cvad/manage` (the region's host; confirmed for `global` and `jp` only, see
   * `UNCONFIRMED_DAAS_REGIONS`)
   */
  daasBaseUrl?: string;
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
  /**
   * This worker's part of the tenant's budget of Catalog Service and DaaS requests: each one waits for a slot, and a
   * 429 slows them all down. Token requests go to the trust service and are not counted. @default no budget
   */
  budget?: RequestBudget;
}

/** How long a 429 closes the budget's gate when Citrix names no delay. */
const DEFAULT_RATE_LIMIT_WAIT_MS = 1_000;

export const MAX_REQUEST_TIMEOUT_MS = 10 * 60_000;

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

/**
 * A client for the Citrix Cloud Catalog Service (Quick Deploy) on undici: one cached bearer token per API client,
 * keep-alive connection pooling, a timeout on every call, answers read with a size cap and checked by shape, and
 * typed errors that carry `citrix-transactionId`. The secret and tokens live in private fields: inspecting or
 * serialising a client shows neither.
 */
export class CitrixClient {
  readonly customerId: string;
  readonly apiBaseUrl: string;
  readonly daasBaseUrl: string;
  readonly tokenUrl: string;
  readonly authFlow: CitrixAuthFlow;
  readonly #userAgent: string;
  readonly #redactor: SecretRedactor;
  readonly #shapes: ResponseShapes;
  readonly #http: HttpTransport;
  readonly #tokens: TokenSource;
  readonly #daas: DaasApi;
  readonly #budget: RequestBudget | undefined;
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
    const host = regionHost(options.region);
    const timeout = options.requestTimeoutMs ?? 30_000;
    if (!Number.isInteger(timeout) || timeout < 1 || timeout > MAX_REQUEST_TIMEOUT_MS) {
      throw new CitrixInvalidArgumentError(`requestTimeoutMs must be from 1 to ${MAX_REQUEST_TIMEOUT_MS} ms`);
    }
    this.customerId = options.customerId;
    this.#redactor = options.redactor ?? new SecretRedactor();
    this.#redactor.add(options.clientSecret);
    this.#shapes = responseShapes(this.#redactor);
    this.apiBaseUrl = (options.apiBaseUrl ?? `https://${host}/catalogservice`).replace(/\/+$/, '');
    this.daasBaseUrl = (options.daasBaseUrl ?? defaultDaasBaseUrl(options.region)).replace(/\/+$/, '');
    this.tokenUrl = options.tokenUrl ?? defaultTokenUrl(options.region, host, options.customerId);
    this.authFlow = options.authFlow ?? defaultAuthFlow(options.region, this.tokenUrl);
    this.#userAgent = options.userAgent ?? 'catalog-rollout';
    for (const [name, url] of [
      ['apiBaseUrl', this.apiBaseUrl],
      ['daasBaseUrl', this.daasBaseUrl],
      ['tokenUrl', this.tokenUrl],
    ] as const) {
      const problem = outboundUrlProblem(url, name);
      if (problem) throw new CitrixInvalidArgumentError(problem);
    }
    this.siteId = options.siteId;
    this.#budget = options.budget;
    this.#http = new HttpTransport({
      requestTimeoutMs: timeout,
      maxConnections: options.maxConnections,
      dispatcher: options.dispatcher,
      onExchange: options.onExchange,
      redactor: this.#redactor,
    });
    this.#tokens = new TokenSource({
      customerId: this.customerId,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      tokenUrl: this.tokenUrl,
      authFlow: this.authFlow,
      userAgent: this.#userAgent,
      refreshMarginMs: options.tokenRefreshMarginMs ?? 60_000,
      http: this.#http,
      redactor: this.#redactor,
    });
    this.#daas = new DaasApi({
      baseUrl: this.daasBaseUrl,
      customerId: this.customerId,
      userAgent: this.#userAgent,
      siteId: () => this.getSiteId(),
      get: (url, operation, headers, maxBytes) =>
        this.withToken('GET', (token) => this.#http.send('GET', url, operation, { headers: headers(token), maxBytes })),
      redactor: this.#redactor,
    });
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

  /**
   * The machines of a catalog's delivery group, from the DaaS REST API (`GET /DeliveryGroups/{id}/Machines`, page by
   * page), with the same token as the Catalog Service. Pass the catalog's `vdaProvisioningSchemeId` to keep only the
   * machines of its own machine catalog. At most `MAX_MACHINES_PER_CATALOG` machines: past that `truncated` is true.
   */
  listCatalogMachines(catalog: CatalogMachinesQuery, options?: ListMachinesOptions): Promise<CatalogMachines> {
    return this.#daas.listCatalogMachines(catalog, options);
  }

  /** Closes the keep-alive connections (when the client created its own pool). */
  async close(): Promise<void> {
    await this.#http.close();
  }

  /** What `util.inspect` and `console.log` show: where the client points, never its credentials. */
  [inspect.custom](): string {
    return (
      `CitrixClient { customerId: '${this.customerId}', apiBaseUrl: '${this.apiBaseUrl}', ` +
      `daasBaseUrl: '${this.daasBaseUrl}' }`
    );
  }

  toJSON(): Record<string, string> {
    return {
      customerId: this.customerId,
      apiBaseUrl: this.apiBaseUrl,
      daasBaseUrl: this.daasBaseUrl,
      tokenUrl: this.tokenUrl,
    };
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

  private exchangeWithAuth(spec: RequestSpec): Promise<Exchanged> {
    return this.withToken(spec.method, (token) => this.exchange(spec, token));
  }

  /** `send` with the cached token; an answer outside 2xx is thrown as the error its status means. */
  private async withToken(method: string, send: (token: string) => Promise<Exchanged>): Promise<Exchanged> {
    const [first, token] = await this.budgeted(send);
    let response = first;
    if (response.status === 401) {
      // Tokens cannot be refreshed; a 401 means it expired or was revoked early. One new token, one more try.
      this.#tokens.drop(token);
      [response] = await this.budgeted(send);
    }
    if (response.status >= 200 && response.status < 300) return response;
    throw errorForResponse(method, response, this.#redactor);
  }

  /**
   * One request within the budget: it waits for its slot, then takes the token (a wait may outlast a cached one). A 429
   * tells the budget to hold every request back for as long as Citrix asked.
   */
  private async budgeted(send: (token: string) => Promise<Exchanged>): Promise<[Exchanged, CachedToken]> {
    await this.#budget?.acquire();
    const token = await this.#tokens.get();
    const response = await send(token.value);
    if (response.status === 429) {
      this.#budget?.rateLimited(retryAfterMs(response.headers, response.body) ?? DEFAULT_RATE_LIMIT_WAIT_MS);
    }
    return [response, token];
  }

  private exchange(spec: RequestSpec, token: string): Promise<Exchanged> {
    const headers: Record<string, string> = {
      authorization: authorizationHeader(this.authFlow, token),
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
    return this.#http.send(spec.method, `${this.apiBaseUrl}${spec.path}`, spec.operation, { headers, body, maxBytes });
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
