import type { AddressInfo } from 'node:net';
import type { FaultSpec, StoredFault } from './faults';
import type { SimMachine } from './machines';
import type { RateLimit, RateLimitStats } from './rate-limit';
import type { RecordedRequest } from './request-log';
import type { SimCatalog } from './seed';
import { CatalogServiceSimulator, type SimulatorOptions } from './simulator';
import { applyTiming, type Timing } from './state';

export type { RateLimit, RateLimitStats } from './rate-limit';
export type { RecordedRequest } from './request-log';
export type { SimulatorOptions } from './simulator';

export interface RunningSimulator {
  /** `http://127.0.0.1:{port}/catalogservice` */
  baseUrl: string;
  /** `http://127.0.0.1:{port}/cvad/manage`: the DaaS REST API, on the same server. */
  daasBaseUrl: string;
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
  /** Everything a client needs to talk to this simulator's Catalog Service and DaaS REST API (as `CitrixClient` takes it). */
  clientOptions(): {
    customerId: string;
    clientId: string;
    clientSecret: string;
    apiBaseUrl: string;
    daasBaseUrl: string;
    tokenUrl: string;
  };
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
   * The catalog's machines as they are now: what its delivery group's machine list reports of them, plus the image each
   * last booted (as `GET /__admin/catalogs/{id}/machines`). Throws for an unknown catalog.
   */
  machines(catalogId: string): SimMachine[];
  /**
   * Changes the timing of updates accepted from now on (as `POST /__admin/settings`, where JSON's null stands for an
   * `updateDurationMs` of `Infinity` and for a `machineRestartMs` of never).
   */
  setTiming(timing: Partial<Timing>): void;
  /**
   * Sets the per-customer rate limit from now on, or lifts it with undefined (as `POST /__admin/settings` with
   * `rateLimit`, null lifting it). Throws a TypeError for a rate that is not a positive finite number.
   */
  setRateLimit(limit: RateLimit | undefined): void;
  /**
   * The requests the rate limit accepted and refused since start or reset, and the most one customer had accepted in
   * any second (as `GET /__admin/rateLimit`). Counted with or without a limit in force.
   */
  rateLimitStats(): RateLimitStats;
  /**
   * Back to the seed data, the start timing and the start rate limit; clears the log, faults, tokens and rate-limit
   * counters (as `POST /__admin/reset`).
   */
  reset(): void;
  /** Stops listening and destroys every open socket. */
  close(): Promise<void>;
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
  const daasBaseUrl = `${origin}/cvad/manage`;
  const tokenUrl = `${origin}/cctrustoauth2/${customerId}/tokens/clients`;
  const govTokenUrl = `${origin}/${customerId}/tokens/clients`;
  const clientOptions = () => ({
    customerId,
    clientId,
    clientSecret,
    apiBaseUrl: simulator.baseUrl,
    daasBaseUrl,
    tokenUrl,
  });
  return {
    baseUrl: simulator.baseUrl,
    daasBaseUrl,
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
    requests: () => simulator.log.list(),
    issuedTokens: () => state.issuedTokens(),
    addFault: (fault) => simulator.addFault(fault),
    faults: () => simulator.faults.list().map((fault) => ({ ...fault })),
    removeFault: (id) => simulator.faults.remove(id),
    patchCatalog: (catalogId, patch) => void state.patchCatalog(catalogId, patch),
    completeUpdate: (catalogId) => void state.completeUpdate(catalogId),
    restartMachines: (catalogId) => void state.restartMachines(catalogId),
    machines: (catalogId) => state.readMachines(catalogId),
    setTiming: (timing) => applyTiming(state.timing, { ...timing }),
    setRateLimit: (limit) => simulator.setRateLimit(limit),
    rateLimitStats: () => simulator.rateLimiter.readStats(),
    reset: () => simulator.reset(),
    close: () => simulator.close(),
  };
}
