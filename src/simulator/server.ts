import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  FaultList,
  validateFaultSpec,
  type FaultAction,
  type FaultSpec,
  type Operation,
  type StoredFault,
} from './faults';
import { DEFAULT_SEED, type SimCatalog, type SimImage, type SimulatorSeed } from './seed';
import { SimState, type Timing } from './state';
import {
  CHARSET_TOKEN_ERROR,
  CITRIX_PREPARED_DEFAULT,
  DEFAULT_VDA_UPDATE_DELAY,
  GATEWAY_STATUSES,
  GOV_BAD_REQUEST_STATUS,
  GOV_WRONG_CREDENTIALS,
  UNKNOWN_CUSTOMER_STATUS,
  UNKNOWN_TOKEN_CUSTOMER_STATUS,
  WRONG_STATE_STATUS,
  citrixPreparedMismatch,
  cwsAuthError,
  errorBody,
  govExpiresAt,
  notAcceptableBody,
  serviceError,
  unknownCustomerBody,
  updateStatusBody,
} from './unconfirmed';

export interface SimulatorOptions {
  /** Port on 127.0.0.1. @default 0 (ephemeral) */
  port?: number;
  /** The data set to serve. @default DEFAULT_SEED */
  seed?: SimulatorSeed;
  /** How long an accepted image update stays `Processing`; `Infinity` waits for `completeUpdate`. @default 20_000 */
  updateDurationMs?: number;
  /**
   * After a 202 the catalog still reads as before (its old `Active` state) for this long, as Citrix's does.
   * @default 1_500
   */
  acceptLagMs?: number;
  /**
   * After an update with `vdaUpdateDelay` -1 finishes, how long its `PendingVdaUpdate` warning stays (the machines
   * restarting by themselves); null or `Infinity`: until `restartMachines`. @default 5_000
   */
  machineRestartMs?: number | null;
  /** How long one minute of `vdaUpdateDelay` lasts, so that an update's spread restarts take N × this. @default 1_000 */
  minuteMs?: number;
  /** Lifetime of issued tokens, in seconds. @default 3600 */
  tokenTtlSeconds?: number;
  /**
   * The token that every `/__admin/*` request must carry as `Authorization: Bearer <token>`.
   * @default 32 random bytes, base64url
   */
  adminToken?: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  /** The query string without `?`, e.g. `async=true`. */
  query: string;
  operation: Operation | 'admin' | 'unknown';
  /** 0 when the socket was destroyed without an answer. */
  status: number;
  /** When the request arrived (ISO 8601). */
  time: string;
  durationMs: number;
  /** The `citrix-transactionId` the response carried; absent when it carried none (a gateway-style status fault). */
  transactionId?: string;
  /**
   * Set when an `acceptThenReset`/`acceptThenStall` fault withheld the answer: the status the request was handled
   * with (202 for an accepted update). Such requests are logged the moment they are handled.
   */
  withheldStatus?: number;
  /**
   * Set for an answer streamed by a `hugeBody` or `trickle` fault: the body bytes handed to the connection before the
   * answer was complete or the client went away. Such requests are logged when the streaming stops.
   */
  streamedBytes?: number;
}

export interface RunningSimulator {
  /** `http://127.0.0.1:{port}/catalogservice` */
  baseUrl: string;
  /** `http://127.0.0.1:{port}/cctrustoauth2/{customerId}/tokens/clients` */
  tokenUrl: string;
  /** The US Gov token endpoint: `http://127.0.0.1:{port}/{customerId}/tokens/clients` (JSON in, JSON out). */
  govTokenUrl: string;
  /** `http://127.0.0.1:{port}/__admin` */
  adminUrl: string;
  /** What every request to `adminUrl` must carry as `Authorization: Bearer <adminToken>`; the methods below need none. */
  adminToken: string;
  customerId: string;
  siteId: string;
  clientId: string;
  clientSecret: string;
  /** Everything a Catalog Service client needs to talk to this simulator (the shape `CitrixClient` takes). */
  clientOptions(): { customerId: string; clientId: string; clientSecret: string; apiBaseUrl: string; tokenUrl: string };
  /** The same for a client of a US Gov tenant: `tokenUrl` is `govTokenUrl`, and the flow is Citrix's trust service. */
  govClientOptions(): ReturnType<RunningSimulator['clientOptions']> & { authFlow: 'cctrust' };
  /** The request log in the order answered (what `GET /__admin/requests` answers). Admin calls are not logged. */
  requests(): RecordedRequest[];
  /** Every access token issued since start or the last reset. */
  issuedTokens(): string[];
  /** Adds a fault (as `POST /__admin/faults`) and returns its id. */
  addFault(fault: FaultSpec): string;
  /** The faults still in force (as `GET /__admin/faults`); a fault disappears once it has applied `times` times. */
  faults(): StoredFault[];
  /** Removes a fault (as `DELETE /__admin/faults/{id}`); false when it is gone already. */
  removeFault(id: string): boolean;
  /** Overwrites catalog fields, cancelling any update in flight (as `POST /__admin/catalogs/{id}`). Throws for an unknown catalog. */
  patchCatalog(catalogId: string, patch: Partial<SimCatalog>): void;
  /** Finishes the catalog's update in flight now, if any (as `POST /__admin/catalogs/{id}/complete`). */
  completeUpdate(catalogId: string): void;
  /**
   * Has the catalog's machines restart onto its image now, clearing its `PendingVdaUpdate` warning (as
   * `POST /__admin/catalogs/{id}/restartMachines`). Throws for an unknown catalog.
   */
  restartMachines(catalogId: string): void;
  /**
   * Changes the timing of updates accepted from now on (as `POST /__admin/settings`, where JSON's null stands for an
   * `updateDurationMs` of `Infinity` and for a `machineRestartMs` of never).
   */
  setTiming(timing: Partial<Timing>): void;
  /** Back to the seed data and the start timing; clears the log, faults and tokens (as `POST /__admin/reset`). */
  reset(): void;
  /** Stops listening and destroys every open socket. */
  close(): Promise<void>;
}

interface Route {
  operation: Operation | 'unknown';
  /** For `token`: `flow` is `oauth` or `cctrust` (the US Gov endpoint). */
  params: Record<string, string>;
  /** Set when the path is known but the method is not. */
  allow?: string;
}

const API_ROUTES: { method: string; segments: string[]; operation: Operation }[] = [
  { method: 'GET', segments: [':customerId', 'sites'], operation: 'sites' },
  { method: 'GET', segments: [':customerId', ':siteId', 'catalogs'], operation: 'catalogs' },
  { method: 'GET', segments: [':customerId', ':siteId', 'catalogs', ':catalogId'], operation: 'catalog' },
  {
    method: 'POST',
    segments: [':customerId', ':siteId', 'catalogs', ':catalogId', '$updateimage'],
    operation: 'updateImage',
  },
  {
    method: 'POST',
    segments: [':customerId', ':siteId', 'catalogs', ':catalogId', 'updateimage'],
    operation: 'legacyUpdateImage',
  },
  {
    method: 'GET',
    segments: [':customerId', ':siteId', 'catalogs', ':catalogId', 'updatestatus'],
    operation: 'updateStatus',
  },
  { method: 'GET', segments: [':customerId', ':siteId', 'images'], operation: 'images' },
  { method: 'GET', segments: [':customerId', ':siteId', 'images', ':imageId'], operation: 'image' },
];

const AUTHORIZATION = /^\s*cwsauth\s+bearer\s*=\s*([^\s,;]+)\s*$/i;
const ACCEPT = 'application/json';
/** Path roots that are not a customer id, so `/{root}/tokens/clients` is never the US Gov token endpoint. */
const RESERVED_ROOTS = new Set(['catalogservice', 'cctrustoauth2', '__admin']);
const JSON_CONTENT_TYPE = /^(application\/(json|json-patch\+json|[\w.+-]+\+json)|text\/json)\s*(;|$)/i;
const MAX_BODY_BYTES = 64 * 1024;
const MAX_LOGGED_REQUESTS = 100_000;
const ADMIN_AUTHORIZATION = /^\s*bearer\s+(\S+)\s*$/i;
/** Chunks of a `hugeBody` answer. */
const STREAM_CHUNK_BYTES = 64 * 1024;
/** Chunks written back to back before a `hugeBody` answer lets other work run, when the socket takes them all. */
const CHUNKS_PER_TURN = 16;
/** The largest chunk of a `trickle` answer. */
const MAX_TRICKLE_CHUNK_BYTES = 16 * 1024;
const DEFAULT_TRICKLE_BYTES = 1024 * 1024;
const UPDATE_FIELDS = new Map(
  ['templateId', 'citrixPrepared', 'vdaUpdateDelay', 'warningTitle', 'warningMessage'].map((name) => [
    name.toLowerCase(),
    name,
  ]),
);

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(typeof body === 'object' && body && 'message' in body ? String(body.message) : `HTTP ${status}`);
  }
}

const badRequest = (message: string) => new HttpError(400, serviceError(message));
const notFound = (message: string) => new HttpError(404, serviceError(message));

function splitPath(path: string): string[] | undefined {
  try {
    const segments = path.split('/').slice(1).map(decodeURIComponent);
    if (segments.length > 1 && segments.at(-1) === '') segments.pop();
    return segments;
  } catch {
    return undefined;
  }
}

function matchRoute(method: string, segments: string[]): Route {
  const [root, ...rest] = segments;
  const tokenPath = (parts: (string | undefined)[]) =>
    parts.length === 3 && !!parts[0] && parts[1]?.toLowerCase() === 'tokens' && parts[2]?.toLowerCase() === 'clients';
  const tokenRoute = (customerId: string, flow: string): Route =>
    method === 'POST'
      ? { operation: 'token', params: { customerId, flow } }
      : { operation: 'unknown', params: {}, allow: 'POST' };
  if (root?.toLowerCase() === 'cctrustoauth2' && tokenPath(rest)) return tokenRoute(rest[0] ?? '', 'oauth');
  if (root && !RESERVED_ROOTS.has(root.toLowerCase()) && tokenPath(segments)) return tokenRoute(root, 'cctrust');
  if (root?.toLowerCase() !== 'catalogservice') return { operation: 'unknown', params: {} };
  const allowed: string[] = [];
  for (const route of API_ROUTES) {
    if (route.segments.length !== rest.length) continue;
    const params: Record<string, string> = {};
    const fits = route.segments.every((pattern, i) => {
      const segment = rest[i] ?? '';
      if (pattern.startsWith(':')) params[pattern.slice(1)] = segment;
      return pattern.startsWith(':') ? segment !== '' : pattern === segment.toLowerCase();
    });
    if (!fits) continue;
    if (route.method === method) return { operation: route.operation, params };
    allowed.push(route.method);
  }
  return { operation: 'unknown', params: {}, allow: allowed.length ? allowed.join(', ') : undefined };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) reject(new HttpError(413, serviceError(`request body over ${MAX_BODY_BYTES} bytes`)));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badRequest(`The request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** Logs a request once its answer is written (or its socket is destroyed). */
const onAnswered = new WeakMap<ServerResponse, () => void>();
/** Answers that an `acceptThen…` fault withholds: called with the status instead of writing the answer. */
const withheld = new WeakMap<ServerResponse, (status: number) => void>();
/** Body bytes written so far by a `hugeBody` or `trickle` fault. */
const streamed = new WeakMap<ServerResponse, number>();

const ITEMS_PREFIX = '{"items":[';
const ITEMS_SUFFIX = ']}';
const ITEM_DIGITS = 12;
const item = (i: number) => {
  const n = String(i + 1).padStart(ITEM_DIGITS, '0');
  return `{"id":"1fe0b0d1-0000-4000-8000-${n}","name":"Item ${n}"}`;
};
const ITEM_BYTES = item(0).length;

/**
 * `{"items":[{"id":"…","name":"…"},…]}` of exactly `total` bytes (ASCII), generated as it is read: items up to the
 * last one that fits, then spaces. A total under 12 bytes gives the start of `{"items":[]}`.
 */
class ItemsBody {
  private readonly items: number;
  private readonly padding: number;
  /** 0: the prefix is next, 1: items, 2: padding, 3: the suffix, 4: done. */
  private stage = 0;
  private next = 0;
  private sent = 0;
  private pending = '';

  constructor(readonly total: number) {
    const room = total - ITEMS_PREFIX.length - ITEMS_SUFFIX.length;
    this.items = room < ITEM_BYTES ? 0 : Math.floor((room + 1) / (ITEM_BYTES + 1));
    this.padding = Math.max(0, room - (this.items === 0 ? 0 : this.items * (ITEM_BYTES + 1) - 1));
  }

  get remaining(): number {
    return this.total - this.sent;
  }

  /** The next `max` bytes at most; '' once all are read. */
  read(max: number): string {
    const size = Math.min(max, this.remaining);
    while (this.pending.length < size) {
      const more = this.produce();
      if (more === undefined) break;
      this.pending += more;
    }
    const chunk = this.pending.slice(0, size);
    this.pending = this.pending.slice(size);
    this.sent += chunk.length;
    return chunk;
  }

  private produce(): string | undefined {
    switch (this.stage) {
      case 0:
        this.stage = 1;
        return ITEMS_PREFIX;
      case 1: {
        if (this.next < this.items) {
          // About a chunk's worth of items, each after a comma but the first.
          const end = Math.min(this.items, this.next + Math.ceil(STREAM_CHUNK_BYTES / ITEM_BYTES));
          const batch: string[] = [];
          for (let i = this.next; i < end; i++) batch.push(i === 0 ? item(i) : `,${item(i)}`);
          this.next = end;
          return batch.join('');
        }
        this.stage = 2;
        return '';
      }
      case 2:
        this.stage = 3;
        return ' '.repeat(this.padding);
      case 3:
        this.stage = 4;
        return ITEMS_SUFFIX;
      default:
        return undefined;
    }
  }
}

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  writeResponse(
    res,
    status,
    body === undefined ? '' : JSON.stringify(body),
    'application/json; charset=utf-8',
    headers,
  );
}

function writeResponse(
  res: ServerResponse,
  status: number,
  payload: string,
  contentType: string,
  headers: Record<string, string>,
): void {
  if (res.headersSent || res.destroyed) return;
  const withhold = withheld.get(res);
  if (withhold) {
    withheld.delete(res);
    return withhold(status);
  }
  res.writeHead(status, {
    ...(payload ? { 'content-type': contentType, 'content-length': String(Buffer.byteLength(payload)) } : {}),
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(payload);
  onAnswered.get(res)?.();
}

/** `UpdateCatalogTemplateImageModel`, bound case-insensitively as ASP.NET does (camelCase and PascalCase both work). */
function parseUpdateBody(body: unknown): { templateId: string; citrixPrepared: boolean; vdaUpdateDelay: number } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('The request body must be a JSON object.');
  }
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    const name = UPDATE_FIELDS.get(key.toLowerCase());
    if (!name) throw badRequest(`The request body has an unknown property '${key}'.`);
    fields[name] = value;
  }
  const { templateId, citrixPrepared, vdaUpdateDelay, warningTitle, warningMessage } = fields;
  if (typeof templateId !== 'string' || !templateId) throw badRequest('The templateId field is required.');
  if (citrixPrepared !== undefined && typeof citrixPrepared !== 'boolean') {
    throw badRequest('citrixPrepared must be a boolean.');
  }
  if (
    vdaUpdateDelay !== undefined &&
    !(Number.isInteger(vdaUpdateDelay) && (vdaUpdateDelay as number) >= -1 && (vdaUpdateDelay as number) <= 2147483647)
  ) {
    throw badRequest('vdaUpdateDelay must be an integer between -1 and 2147483647.');
  }
  for (const [name, value] of Object.entries({ warningTitle, warningMessage })) {
    if (value !== undefined && value !== null && typeof value !== 'string') {
      throw badRequest(`${name} must be a string.`);
    }
  }
  return {
    templateId,
    citrixPrepared: (citrixPrepared as boolean | undefined) ?? CITRIX_PREPARED_DEFAULT,
    vdaUpdateDelay: (vdaUpdateDelay as number | undefined) ?? DEFAULT_VDA_UPDATE_DELAY,
  };
}

function imageOverview(image: SimImage, linked: SimCatalog[]): Record<string, unknown> {
  const { applications: _applications, ...overview } = image;
  return { ...overview, linkedCatalogs: linked.length, linkedCatalogsNames: linked.map((catalog) => catalog.name) };
}

class CatalogServiceSimulator {
  readonly log: RecordedRequest[] = [];
  readonly faults = new FaultList();
  readonly state: SimState;
  readonly server: Server;
  readonly adminToken: string;
  baseUrl = '';
  private readonly seed: SimulatorSeed;
  private readonly adminTokenDigest: Buffer;
  private readonly tokenTtlSeconds: number;
  private readonly pendingDelays = new Set<NodeJS.Timeout>();

  constructor(options: SimulatorOptions) {
    this.seed = structuredClone(options.seed ?? DEFAULT_SEED);
    this.tokenTtlSeconds = options.tokenTtlSeconds ?? 3600;
    if (options.adminToken !== undefined && !/^\S+$/.test(options.adminToken)) {
      throw new TypeError('adminToken must be a non-empty string without whitespace');
    }
    this.adminToken = options.adminToken ?? randomBytes(32).toString('base64url');
    this.adminTokenDigest = digest(this.adminToken);
    const timing: Timing = {
      updateDurationMs: 20_000,
      acceptLagMs: 1_500,
      machineRestartMs: 5_000,
      minuteMs: 1_000,
    };
    applyTiming(timing, { ...options });
    this.state = new SimState(this.seed, timing);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        const { status, body } =
          error instanceof HttpError ? error : { status: 500, body: serviceError(String(error)) };
        send(res, status, body);
      });
    });
    // Outlive client pools' idle timeouts, so that keep-alive sockets are not closed under a request.
    this.server.keepAliveTimeout = 65_000;
  }

  addFault(spec: unknown): string {
    validateFaultSpec(spec);
    if (spec.action.type === 'expireTokens') {
      this.state.expireTokens();
      return randomUUID();
    }
    return this.faults.add(spec).id;
  }

  reset(): void {
    this.state.reset();
    this.faults.clear();
    this.log.length = 0;
  }

  async close(): Promise<void> {
    for (const timer of this.pendingDelays) clearTimeout(timer);
    this.pendingDelays.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pendingDelays.delete(timer);
        resolve();
      }, ms);
      this.pendingDelays.add(timer);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedMs = performance.now();
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt < 0 ? url : url.slice(0, queryAt);
    const query = queryAt < 0 ? '' : url.slice(queryAt + 1);
    const method = req.method ?? 'GET';
    const segments = splitPath(path) ?? [];
    if (segments[0] === '__admin') {
      if (!this.isAdmin(req.headers.authorization)) {
        // Says nothing about the request: a caller without the token learns only that one is needed.
        return send(
          res,
          401,
          serviceError('The admin API needs the header Authorization: Bearer <adminToken>, as printed at start.'),
          { 'www-authenticate': 'Bearer realm="simulator admin"' },
        );
      }
      return this.handleAdmin(req, res, method, segments.slice(1));
    }

    const transactionIdHeader = req.headers['citrix-transactionid'];
    const transactionId =
      (Array.isArray(transactionIdHeader) ? transactionIdHeader[0] : transactionIdHeader) || randomUUID();
    res.setHeader('citrix-transactionId', transactionId);
    const route = matchRoute(method, segments);
    if (route.operation === 'token') res.setHeader('X-Cws-TransactionId', randomUUID());
    const time = new Date().toISOString();
    let withheldStatus: number | undefined;
    // Logged as the answer is written, not on 'close': a client may read the answer before 'close' fires here.
    const record = () => {
      if (!onAnswered.delete(res)) return;
      const durationMs = Math.round((performance.now() - startedMs) * 100) / 100;
      const status = res.headersSent ? res.statusCode : 0;
      // A gateway-style fault answers without one.
      const sentTransactionId = res.getHeader('citrix-transactionId');
      this.record({
        method,
        path,
        query,
        operation: route.operation,
        status,
        time,
        durationMs,
        ...(sentTransactionId !== undefined && { transactionId: String(sentTransactionId) }),
        ...(withheldStatus !== undefined && { withheldStatus }),
        ...(streamed.has(res) && { streamedBytes: streamed.get(res) }),
      });
    };
    onAnswered.set(res, record);
    res.once('close', record);

    const actions = this.faults.takeForRequest({
      operation: route.operation,
      method,
      catalogId: route.params.catalogId,
    });
    for (const action of actions) {
      if (action.type === 'latency') await this.delay(action.ms);
      else if (action.type === 'acceptThenReset' || action.type === 'acceptThenStall') {
        // Handled as usual below; only the answer is withheld. Logged now: the caller never hears of it.
        withheld.set(res, (status) => {
          withheldStatus = status;
          record();
          if (action.type === 'acceptThenReset') req.socket.destroy();
        });
      } else return this.injectFault(req, res, action);
    }

    // Citrix Cloud's front door refuses anything but exactly this, before it looks at the path.
    if (req.headers.accept !== ACCEPT) return send(res, 406, notAcceptableBody());
    if (route.operation === 'unknown') {
      const headers: Record<string, string> = route.allow ? { allow: route.allow } : {};
      return send(res, route.allow ? 405 : 404, serviceError(`No resource at ${method} ${path}`), headers);
    }
    if (route.operation === 'token') {
      const customerId = route.params.customerId ?? '';
      return route.params.flow === 'cctrust'
        ? this.issueGovToken(req, res, customerId)
        : this.issueToken(req, res, customerId);
    }
    const authorization = AUTHORIZATION.exec(req.headers.authorization ?? '');
    if (!authorization?.[1] || !this.state.isTokenValid(authorization[1])) {
      return send(res, 401, {
        type: 'https://errors-api.cloud.com/common/authentication',
        detail: 'Missing or invalid authentication details',
        parameters: [{ name: 'reason', value: req.headers.authorization ? 'invalid' : 'missing' }],
      });
    }
    const { customerId = '', siteId, catalogId, imageId } = route.params;
    if (customerId.toLowerCase() !== this.seed.customerId.toLowerCase()) {
      return send(res, UNKNOWN_CUSTOMER_STATUS, unknownCustomerBody());
    }
    if (siteId !== undefined && siteId.toLowerCase() !== this.seed.site.id.toLowerCase()) {
      throw notFound(`Site ${siteId} was not found for customer ${customerId}.`);
    }
    if (catalogId !== undefined && !this.state.hasCatalog(catalogId)) {
      throw notFound(`Catalog ${catalogId} was not found.`);
    }

    switch (route.operation) {
      case 'sites':
        return send(res, 200, { items: [this.seed.site], sites: [this.seed.site] });
      case 'catalogs': {
        const items = this.state.readCatalogs();
        return send(res, 200, { items, catalogs: items, staleData: false });
      }
      case 'catalog':
        return send(res, 200, this.state.readCatalog(catalogId ?? ''));
      case 'updateStatus': {
        const catalog = this.state.readCatalog(catalogId ?? '') as SimCatalog;
        return send(res, 200, updateStatusBody(catalog, this.state.processingStartedAt(catalog.id)));
      }
      case 'images': {
        const items = this.readImages().map(({ image, linked }) => imageOverview(image, linked));
        return send(res, 200, { items, overviews: items, staleData: false });
      }
      case 'image': {
        const found = this.readImages().find(({ image }) => image.id.toLowerCase() === imageId?.toLowerCase());
        if (!found) throw notFound(`Template image ${imageId} was not found.`);
        const { image, linked } = found;
        return send(res, 200, {
          ...imageOverview(image, linked),
          applications: image.applications ?? [],
          catalogs: linked.map((catalog) => ({
            catalogId: catalog.id,
            catalogName: catalog.name,
            state: catalog.state,
            azureSubscription: catalog.subscriptionName,
          })),
        });
      }
      case 'updateImage':
      case 'legacyUpdateImage':
        return this.updateImage(req, res, route.operation, customerId, catalogId ?? '', transactionId);
    }
  }

  private readImages(): { image: SimImage; linked: SimCatalog[] }[] {
    const catalogs = this.state.readCatalogs();
    return this.state.listImages().map((image) => ({
      image,
      linked: catalogs.filter((catalog) => catalog.imageId?.toLowerCase() === image.id.toLowerCase()),
    }));
  }

  private async updateImage(
    req: IncomingMessage,
    res: ServerResponse,
    operation: 'updateImage' | 'legacyUpdateImage',
    customerId: string,
    catalogId: string,
    transactionId: string,
  ): Promise<void> {
    if (!JSON_CONTENT_TYPE.test(req.headers['content-type'] ?? '')) {
      throw new HttpError(415, {
        type: 'https://errors-api.cloud.com/common/unsupportedMediaType',
        detail: 'Must use application/json media type',
      });
    }
    const { templateId, citrixPrepared, vdaUpdateDelay } = parseUpdateBody(await readJson(req));
    const image = this.state.getImage(templateId);
    if (!image) throw notFound(`Template image ${templateId} was not found.`);
    if (image.state !== 'Ready') {
      throw badRequest(
        `Template image ${image.name} (${image.id}) is in state ${image.state}; only a Ready image can be used.`,
      );
    }
    if (citrixPrepared !== image.citrixPrepared) throw badRequest(citrixPreparedMismatch(image));
    const catalog = this.state.readCatalog(catalogId) as SimCatalog;
    if (catalog.state !== 'Active' && catalog.state !== 'InputRequired') {
      const subState = catalog.subState ? ` (SubState ${catalog.subState})` : '';
      throw new HttpError(
        WRONG_STATE_STATUS,
        serviceError(
          `Catalog ${catalog.name} (${catalog.id}) is in state ${catalog.state}${subState}; its image can be updated only when it is Active or InputRequired.`,
        ),
      );
    }
    const failure = this.faults.takeUpdateFailure({ operation, method: 'POST', catalogId: catalog.id });
    this.state.startUpdate(catalog.id, image, transactionId, vdaUpdateDelay, failure);
    if (operation === 'legacyUpdateImage') return send(res, 200, catalog.id);
    const location = `${this.baseUrl}/${customerId}/${this.seed.site.id}/catalogs/${catalog.id}/updateStatus`;
    send(res, 202, catalog.id, { location });
  }

  private async issueToken(req: IncomingMessage, res: ServerResponse, customerId: string): Promise<void> {
    const body = await readBody(req);
    if ((req.headers['content-type'] ?? '').includes(';')) return send(res, 400, CHARSET_TOKEN_ERROR);
    const form = new URLSearchParams(body);
    if (form.get('grant_type') !== 'client_credentials') {
      return send(res, 400, {
        error: 'unsupported_grant_type',
        error_description: 'Use grant_type=client_credentials.',
      });
    }
    const knownCustomer = customerId === 'root' || customerId.toLowerCase() === this.seed.customerId.toLowerCase();
    const rightCredentials =
      form.get('client_id') === this.seed.clientId && form.get('client_secret') === this.seed.clientSecret;
    if (!knownCustomer || !rightCredentials) {
      return send(res, knownCustomer ? 400 : UNKNOWN_TOKEN_CUSTOMER_STATUS, {
        error: 'invalid_client',
        error_description: 'Invalid client id or client secret.',
      });
    }
    const accessToken = this.state.issueToken(this.tokenTtlSeconds);
    send(res, 200, { token_type: 'bearer', access_token: accessToken, expires_in: String(this.tokenTtlSeconds) });
  }

  /** The US Gov trust service's token request: `{"ClientId","ClientSecret"}` as JSON, as Citrix's Go SDK sends it. */
  private async issueGovToken(req: IncomingMessage, res: ServerResponse, customerId: string): Promise<void> {
    const text = await readBody(req);
    const refuse = (message: string) => send(res, GOV_BAD_REQUEST_STATUS, cwsAuthError(message));
    if ((req.headers['content-type'] ?? '').trim().toLowerCase() !== 'application/json') {
      return refuse('The Content-Type must be application/json.');
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return refuse('The request body is not valid JSON.');
    }
    const fields = new Map(
      typeof body === 'object' && body !== null && !Array.isArray(body)
        ? Object.entries(body).map(([key, value]) => [key.toLowerCase(), value as unknown])
        : [],
    );
    const [clientId, clientSecret] = [fields.get('clientid'), fields.get('clientsecret')];
    if (typeof clientId !== 'string' || typeof clientSecret !== 'string') {
      return refuse('The request body must be a JSON object with ClientId and ClientSecret.');
    }
    const knownCustomer = customerId.toLowerCase() === this.seed.customerId.toLowerCase();
    if (!knownCustomer || clientId !== this.seed.clientId || clientSecret !== this.seed.clientSecret) {
      return send(res, GOV_WRONG_CREDENTIALS.status, GOV_WRONG_CREDENTIALS.body);
    }
    send(res, 200, {
      Token: this.state.issueToken(this.tokenTtlSeconds),
      Principal: this.seed.clientId,
      UserId: this.seed.clientId,
      CustomerId: this.seed.customerId,
      ExpiresAt: govExpiresAt(this.tokenTtlSeconds),
    });
  }

  private isAdmin(authorization: string | undefined): boolean {
    const presented = ADMIN_AUTHORIZATION.exec(authorization ?? '')?.[1];
    // Digests have equal lengths, so that the comparison takes the same time whatever was presented.
    return presented !== undefined && timingSafeEqual(digest(presented), this.adminTokenDigest);
  }

  private async injectFault(req: IncomingMessage, res: ServerResponse, action: FaultAction): Promise<void> {
    switch (action.type) {
      case 'reset':
        req.socket.destroy();
        onAnswered.get(res)?.();
        return;
      case 'echo':
        return echo(req, res, action);
      case 'hugeBody':
        return streamHugeBody(res, action.status ?? 200, new ItemsBody(action.bytes));
      case 'trickle':
        return trickle(res, action.status ?? 200, new ItemsBody(action.totalBytes ?? DEFAULT_TRICKLE_BYTES), action);
      case 'status':
        break;
      default:
        return;
    }
    const headers: Record<string, string> = {};
    if (action.retryAfterSeconds !== undefined) headers['retry-after'] = String(action.retryAfterSeconds);
    if (!(action.transactionId ?? !GATEWAY_STATUSES.has(action.status))) {
      res.removeHeader('citrix-transactionId');
      res.removeHeader('X-Cws-TransactionId');
    }
    const body =
      action.body ??
      errorBody(action.status, {
        shape: action.shape,
        retryDelaySeconds: action.retryDelaySeconds,
        retryDelayAs: action.retryDelayAs,
      });
    if (typeof body === 'string') writeResponse(res, action.status, body, 'text/plain; charset=utf-8', headers);
    else send(res, action.status, body, headers);
  }

  private record(request: RecordedRequest): void {
    this.log.push(request);
    // Trim in batches so that a long benchmark keeps memory bounded at O(1) amortised cost per request.
    if (this.log.length > MAX_LOGGED_REQUESTS * 1.5) this.log.splice(0, this.log.length - MAX_LOGGED_REQUESTS);
  }

  private async handleAdmin(req: IncomingMessage, res: ServerResponse, method: string, path: string[]): Promise<void> {
    const [resource, id, action] = path;
    const route = `${method} ${resource ?? ''}${id === undefined ? '' : '/:id'}${action === undefined ? '' : `/${action}`}`;
    try {
      switch (route) {
        case 'GET requests':
          return send(res, 200, { requests: this.log });
        case 'DELETE requests':
          this.log.length = 0;
          return send(res, 204);
        case 'GET faults':
          return send(res, 200, { faults: this.faults.list() });
        case 'POST faults':
          return send(res, 201, { id: this.addFault(await readJson(req)) });
        case 'DELETE faults':
          this.faults.clear();
          return send(res, 204);
        case 'DELETE faults/:id':
          return this.faults.remove(id ?? '') ? send(res, 204) : send(res, 404, serviceError(`No fault ${id}.`));
        case 'POST catalogs/:id':
        case 'POST catalogs/:id/complete':
        case 'POST catalogs/:id/restartMachines': {
          if (!this.state.hasCatalog(id ?? '')) return send(res, 404, serviceError(`Catalog ${id} was not found.`));
          if (action === 'complete') return send(res, 200, this.state.completeUpdate(id ?? ''));
          if (action) return send(res, 200, this.state.restartMachines(id ?? ''));
          const patch = await readJson(req);
          if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
            throw badRequest('Expected a JSON object.');
          }
          return send(res, 200, this.state.patchCatalog(id ?? '', patch));
        }
        case 'POST settings': {
          const { updateDurationMs, acceptLagMs, machineRestartMs, minuteMs } = (await readJson(req)) as Record<
            string,
            unknown
          >;
          // JSON has no Infinity: null stands for it.
          applyTiming(this.state.timing, {
            updateDurationMs: updateDurationMs === null ? Infinity : updateDurationMs,
            acceptLagMs,
            machineRestartMs,
            minuteMs,
          });
          const { timing } = this.state;
          return send(res, 200, {
            ...timing,
            updateDurationMs: numberOrNull(timing.updateDurationMs),
            machineRestartMs: timing.machineRestartMs === null ? null : numberOrNull(timing.machineRestartMs),
          });
        }
        case 'POST reset':
          this.reset();
          return send(res, 204);
        case 'GET tokens':
          return send(res, 200, { tokens: this.state.issuedTokens() });
        default:
          return send(res, 404, serviceError(`No admin resource at ${method} /__admin/${path.join('/')}`));
      }
    } catch (error) {
      if (error instanceof HttpError) throw error;
      throw badRequest((error as Error).message);
    }
  }
}

const numberOrNull = (value: number) => (Number.isFinite(value) ? value : null);

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** The request quoted back, as a misconfigured proxy's or WAF's error page does. */
async function echo(
  req: IncomingMessage,
  res: ServerResponse,
  action: Extract<FaultAction, { type: 'echo' }>,
): Promise<void> {
  const body = await readBody(req);
  const headers: Record<string, string> = {};
  const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/${req.httpVersion}`];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const [name = '', value = ''] = [req.rawHeaders[i], req.rawHeaders[i + 1]];
    lines.push(`${name}: ${value}`);
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  const text = `${lines.join('\r\n')}\r\n\r\n${body}`;
  if (action.json) send(res, action.status, { message: text, request: { headers, body } });
  else writeResponse(res, action.status, text, 'text/plain; charset=utf-8', {});
}

/**
 * Starts a streamed answer: the request is logged when streaming stops (`finish` below) rather than on 'close', so
 * that the log shows every byte written.
 */
function startStream(res: ServerResponse, status: number): { closed: () => boolean; finish: () => void } | undefined {
  if (res.headersSent || res.destroyed) return undefined;
  const record = onAnswered.get(res);
  if (record) res.off('close', record);
  let closed = false;
  res.once('close', () => (closed = true));
  streamed.set(res, 0);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  res.flushHeaders();
  return {
    closed: () => closed || res.destroyed,
    finish: () => {
      if (!closed) res.end();
      record?.();
    },
  };
}

/** Writes `body` as fast as the client reads it, one chunk at a time; stops when the client goes away. */
async function streamHugeBody(res: ServerResponse, status: number, body: ItemsBody): Promise<void> {
  const stream = startStream(res, status);
  if (!stream) return;
  try {
    for (let chunks = 1; body.remaining > 0 && !stream.closed(); chunks++) {
      const chunk = body.read(STREAM_CHUNK_BYTES);
      streamed.set(res, (streamed.get(res) ?? 0) + chunk.length);
      if (!res.write(chunk)) await drainedOrClosed(res);
      // Lets other requests in even when the socket never pushes back (a HEAD answer, a fast reader).
      else if (chunks % CHUNKS_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    stream.finish();
  }
}

function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Writes `body` at `bytesPerSecond` in small chunks, on a timer that stops when the body is out or the client goes. */
function trickle(
  res: ServerResponse,
  status: number,
  body: ItemsBody,
  { bytesPerSecond }: { bytesPerSecond: number },
): Promise<void> {
  const stream = startStream(res, status);
  if (!stream) return Promise.resolve();
  // About 256 bytes a tick, ticking between every 20 ms and every second.
  const intervalMs = Math.min(1000, Math.max(20, Math.round((256 * 1000) / bytesPerSecond)));
  const startedMs = performance.now();
  return new Promise((resolve) => {
    let waiting = false;
    let stopped = false;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      res.off('close', stop);
      stream.finish();
      resolve();
    };
    const tick = () => {
      if (stream.closed()) return stop();
      if (waiting) return;
      const due = Math.floor(((performance.now() - startedMs) * bytesPerSecond) / 1000) - (body.total - body.remaining);
      if (due <= 0) return;
      const chunk = body.read(Math.min(due, MAX_TRICKLE_CHUNK_BYTES));
      streamed.set(res, (streamed.get(res) ?? 0) + chunk.length);
      if (!res.write(chunk)) {
        waiting = true;
        res.once('drain', () => (waiting = false));
      }
      if (body.remaining === 0) stop();
    };
    const timer = setInterval(tick, intervalMs);
    res.once('close', stop);
    if (body.remaining === 0) stop();
  });
}

/** Checks every setting before it changes any, so that a wrong one leaves the timing as it was. */
function applyTiming(timing: Timing, changes: Record<string, unknown>): void {
  const checked: Partial<Record<keyof Timing, number | null>> = {};
  for (const name of ['updateDurationMs', 'acceptLagMs', 'machineRestartMs', 'minuteMs'] as const) {
    const value = changes[name];
    if (value === undefined) continue;
    if (value === null && name === 'machineRestartMs') {
      checked[name] = null;
    } else if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
      throw new TypeError(`${name} must be a number >= 0${name === 'machineRestartMs' ? ' or null' : ''}`);
    } else if (name === 'minuteMs' && !Number.isFinite(value)) {
      throw new TypeError('minuteMs must be finite');
    } else {
      checked[name] = value;
    }
  }
  Object.assign(timing, checked);
}

/** Starts a Catalog Service simulator on 127.0.0.1. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const simulator = new CatalogServiceSimulator(options);
  const { server, state } = simulator;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // A deep accept queue, so that a thousand clients connecting at once are not held back by SYN retries.
    server.listen({ port: options.port ?? 0, host: '127.0.0.1', backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { customerId, site, clientId, clientSecret } = state.seed;
  simulator.baseUrl = `${origin}/catalogservice`;
  const tokenUrl = `${origin}/cctrustoauth2/${customerId}/tokens/clients`;
  const govTokenUrl = `${origin}/${customerId}/tokens/clients`;
  const clientOptions = () => ({ customerId, clientId, clientSecret, apiBaseUrl: simulator.baseUrl, tokenUrl });
  return {
    baseUrl: simulator.baseUrl,
    tokenUrl,
    govTokenUrl,
    adminUrl: `${origin}/__admin`,
    adminToken: simulator.adminToken,
    customerId,
    siteId: site.id,
    clientId,
    clientSecret,
    clientOptions,
    govClientOptions: () => ({ ...clientOptions(), tokenUrl: govTokenUrl, authFlow: 'cctrust' as const }),
    requests: () => [...simulator.log],
    issuedTokens: () => state.issuedTokens(),
    addFault: (fault) => simulator.addFault(fault),
    faults: () => simulator.faults.list().map((fault) => ({ ...fault })),
    removeFault: (id) => simulator.faults.remove(id),
    patchCatalog: (catalogId, patch) => void state.patchCatalog(catalogId, patch),
    completeUpdate: (catalogId) => void state.completeUpdate(catalogId),
    restartMachines: (catalogId) => void state.restartMachines(catalogId),
    setTiming: (timing) => applyTiming(state.timing, { ...timing }),
    reset: () => simulator.reset(),
    close: () => simulator.close(),
  };
}
