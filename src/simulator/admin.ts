import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultList } from './faults';
import { HttpError, badRequest, readJson, send } from './http';
import { validateRateLimit, type RateLimiter } from './rate-limit';
import type { RequestLog } from './request-log';
import { applyTiming, type SimState } from './state';
import { serviceError } from './unconfirmed';

const ADMIN_AUTHORIZATION = /^\s*bearer\s+(\S+)\s*$/i;

/** What the admin API drives: the simulator's log, faults and state, and its own ways to add a fault and reset. */
export interface AdminControls {
  readonly log: RequestLog;
  readonly faults: FaultList;
  readonly state: SimState;
  readonly rateLimiter: RateLimiter;
  addFault(spec: unknown): string;
  setRateLimit(limit: unknown): void;
  reset(): void;
}

/**
 * `/__admin/...`: the request log, faults, catalog overrides, catalogs' machines, timing, the rate limit, tokens and
 * reset, behind a bearer token.
 */
export class AdminApi {
  readonly token: string;
  private readonly tokenDigest: Buffer;

  /** `token` defaults to 32 random bytes, base64url. */
  constructor(
    private readonly controls: AdminControls,
    token: string | undefined,
  ) {
    if (token !== undefined && !/^\S+$/.test(token)) {
      throw new TypeError('adminToken must be a non-empty string without whitespace');
    }
    this.token = token ?? randomBytes(32).toString('base64url');
    this.tokenDigest = digest(this.token);
  }

  /** `path` is the segments after `/__admin`. */
  async handle(req: IncomingMessage, res: ServerResponse, method: string, path: string[]): Promise<void> {
    if (!this.isAuthorized(req.headers.authorization)) {
      // Says nothing about the request: a caller without the token learns only that one is needed.
      return send(
        res,
        401,
        serviceError('The admin API needs the header Authorization: Bearer <adminToken>, as printed at start.'),
        { 'www-authenticate': 'Bearer realm="simulator admin"' },
      );
    }
    const { log, faults, state, rateLimiter } = this.controls;
    const [resource, id, action] = path;
    const route = `${method} ${resource ?? ''}${id === undefined ? '' : '/:id'}${action === undefined ? '' : `/${action}`}`;
    try {
      switch (route) {
        case 'GET requests':
          return send(res, 200, { requests: log.list() });
        case 'DELETE requests':
          log.clear();
          return send(res, 204);
        case 'GET faults':
          return send(res, 200, { faults: faults.list() });
        case 'POST faults':
          return send(res, 201, { id: this.controls.addFault(await readJson(req)) });
        case 'DELETE faults':
          faults.clear();
          return send(res, 204);
        case 'DELETE faults/:id':
          return faults.remove(id ?? '') ? send(res, 204) : send(res, 404, serviceError(`No fault ${id}.`));
        case 'GET catalogs/:id/machines':
          if (!state.hasCatalog(id ?? '')) return send(res, 404, serviceError(`Catalog ${id} was not found.`));
          return send(res, 200, { machines: state.readMachines(id ?? '') });
        case 'POST catalogs/:id':
        case 'POST catalogs/:id/complete':
        case 'POST catalogs/:id/restartMachines': {
          if (!state.hasCatalog(id ?? '')) return send(res, 404, serviceError(`Catalog ${id} was not found.`));
          if (action === 'complete') return send(res, 200, state.completeUpdate(id ?? ''));
          if (action) return send(res, 200, state.restartMachines(id ?? ''));
          const patch = await readJson(req);
          if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
            throw badRequest('Expected a JSON object.');
          }
          return send(res, 200, state.patchCatalog(id ?? '', patch));
        }
        case 'POST settings': {
          const { updateDurationMs, acceptLagMs, machineRestartMs, minuteMs, machineBootMs, rateLimit } =
            (await readJson(req)) as Record<string, unknown>;
          // Checked before any timing changes, so that a refused request changes nothing; null lifts the limit.
          if (rateLimit !== null) validateRateLimit(rateLimit);
          // JSON has no Infinity: null stands for it.
          applyTiming(state.timing, {
            updateDurationMs: updateDurationMs === null ? Infinity : updateDurationMs,
            acceptLagMs,
            machineRestartMs,
            minuteMs,
            machineBootMs,
          });
          if (rateLimit !== undefined) this.controls.setRateLimit(rateLimit ?? undefined);
          const { timing } = state;
          return send(res, 200, {
            ...timing,
            rateLimit: rateLimiter.limit ?? null,
            updateDurationMs: numberOrNull(timing.updateDurationMs),
            machineRestartMs: timing.machineRestartMs === null ? null : numberOrNull(timing.machineRestartMs),
          });
        }
        case 'GET rateLimit':
          return send(res, 200, rateLimiter.readStats());
        case 'POST reset':
          this.controls.reset();
          return send(res, 204);
        case 'GET tokens':
          return send(res, 200, { tokens: state.issuedTokens() });
        default:
          return send(res, 404, serviceError(`No admin resource at ${method} /__admin/${path.join('/')}`));
      }
    } catch (error) {
      if (error instanceof HttpError) throw error;
      throw badRequest((error as Error).message);
    }
  }

  private isAuthorized(authorization: string | undefined): boolean {
    const presented = ADMIN_AUTHORIZATION.exec(authorization ?? '')?.[1];
    // Digests have equal lengths, so that the comparison takes the same time whatever was presented.
    return presented !== undefined && timingSafeEqual(digest(presented), this.tokenDigest);
  }
}

const numberOrNull = (value: number) => (Number.isFinite(value) ? value : null);

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
