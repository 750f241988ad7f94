import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { AdminApi } from './admin';
import { CatalogService } from './catalog-service';
import { DaasService } from './daas-service';
import { injectFault } from './fault-responses';
import { FaultList, validateFaultSpec } from './faults';
import { HttpError, onAnswered, send, streamed, withheld } from './http';
import { RateLimiter, validateRateLimit, type RateLimit } from './rate-limit';
import { RequestLog } from './request-log';
import { matchRoute, splitPath } from './routes';
import { DEFAULT_SEED, type SimulatorSeed } from './seed';
import { SimState, applyTiming, type Timing } from './state';
import { TokenEndpoints } from './tokens';
import { errorBody, notAcceptableBody, serviceError } from './unconfirmed';

const ACCEPT = 'application/json';

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
  /** How long a restarting machine boots (`Unregistered`, `TurningOn`) before it registers. @default 500 */
  machineBootMs?: number;
  /** Lifetime of issued tokens, in seconds. @default 3600 */
  tokenTtlSeconds?: number;
  /**
   * The token that every `/__admin/*` request must carry as `Authorization: Bearer <token>`.
   * @default 32 random bytes, base64url
   */
  adminToken?: string;
  /**
   * Refuses a customer's Catalog Service and DaaS REST requests past this rate with a 429, as Citrix Cloud's gateway
   * does (token endpoints and `/__admin` are not limited). Checked before faults: a refused request reaches nothing.
   * @default undefined (no limit)
   */
  rateLimit?: RateLimit;
}

/**
 * One simulator: its HTTP server, state, faults and request log. Each request is logged, meets its faults and the
 * front door's checks here, then goes to the admin API, a token endpoint, the Catalog Service or the DaaS REST API.
 */
export class CatalogServiceSimulator {
  readonly log = new RequestLog();
  readonly faults = new FaultList();
  readonly state: SimState;
  readonly rateLimiter: RateLimiter;
  readonly server: Server;
  baseUrl = '';
  private readonly admin: AdminApi;
  private readonly catalogService: CatalogService;
  private readonly daas: DaasService;
  private readonly tokens: TokenEndpoints;
  private readonly pendingDelays = new Set<NodeJS.Timeout>();
  private readonly startRateLimit: RateLimit | undefined;

  constructor(options: SimulatorOptions) {
    const seed = structuredClone(options.seed ?? DEFAULT_SEED);
    const tokenTtlSeconds = options.tokenTtlSeconds ?? 3600;
    validateRateLimit(options.rateLimit);
    this.startRateLimit = options.rateLimit && { requestsPerSecond: options.rateLimit.requestsPerSecond };
    this.rateLimiter = new RateLimiter(this.startRateLimit);
    this.admin = new AdminApi(this, options.adminToken);
    const timing: Timing = {
      updateDurationMs: 20_000,
      acceptLagMs: 1_500,
      machineRestartMs: 5_000,
      minuteMs: 1_000,
      machineBootMs: 500,
    };
    applyTiming(timing, { ...options });
    this.state = new SimState(seed, timing, (catalogId) => this.faults.unhealthyImages(catalogId));
    this.catalogService = new CatalogService(this.state, this.faults, () => this.baseUrl);
    this.daas = new DaasService(this.state);
    this.tokens = new TokenEndpoints(this.state, tokenTtlSeconds);
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

  get adminToken(): string {
    return this.admin.token;
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
    this.log.clear();
    this.rateLimiter.limit = this.startRateLimit;
    this.rateLimiter.clear();
  }

  /** Sets the rate limit from now on, or lifts it with undefined; the requests of the last second still count. */
  setRateLimit(limit: unknown): void {
    validateRateLimit(limit);
    this.rateLimiter.limit = limit && { requestsPerSecond: limit.requestsPerSecond };
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
    if (segments[0] === '__admin') return this.admin.handle(req, res, method, segments.slice(1));

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
      this.log.add({
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

    // The gateway counts before anything behind it sees the request, faults included.
    const customerId = limitedCustomer(req, segments);
    const refusal = customerId === undefined ? undefined : this.rateLimiter.admit(customerId);
    if (refusal) {
      res.removeHeader('citrix-transactionId');
      return send(res, 429, errorBody(429, { retryDelaySeconds: refusal.retryDelaySeconds }));
    }

    const actions = this.faults.takeForRequest({
      operation: route.operation,
      method,
      catalogId: route.params.catalogId ?? (route.daas ? this.daas.catalogOf(route) : undefined),
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
      } else return injectFault(req, res, action);
    }

    // Citrix Cloud's front door refuses anything but exactly this, before it looks at the path.
    if (req.headers.accept !== ACCEPT) return send(res, 406, notAcceptableBody());
    if (route.operation === 'unknown') {
      const headers: Record<string, string> = route.allow ? { allow: route.allow } : {};
      return send(res, route.allow ? 405 : 404, serviceError(`No resource at ${method} ${path}`), headers);
    }
    if (route.operation === 'token') return this.tokens.handle(req, res, route.params);
    if (route.daas) return this.daas.handle(req, res, route, new URLSearchParams(query));
    return this.catalogService.handle(req, res, route, transactionId);
  }
}

/**
 * The customer a Catalog Service request names in its path, or a DaaS REST request in its `Citrix-CustomerId` header;
 * undefined for what the rate limit leaves alone (token endpoints, `/__admin`, paths outside both APIs).
 */
function limitedCustomer(req: IncomingMessage, segments: string[]): string | undefined {
  const [root, next] = segments;
  if (root?.toLowerCase() === 'catalogservice') return next ?? '';
  if (root?.toLowerCase() !== 'cvad' || next?.toLowerCase() !== 'manage') return undefined;
  const header = req.headers['citrix-customerid'];
  return (Array.isArray(header) ? header[0] : header) ?? '';
}
