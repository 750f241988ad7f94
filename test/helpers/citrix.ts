import { CitrixClient } from '../../src/citrix';
import { DEFAULT_SEED, type RunningSimulator, type SimulatorSeed } from '../../src/simulator';

/** Settings of a Citrix client, over the simulator's own. */
export type CitrixSettings = Partial<ConstructorParameters<typeof CitrixClient>[0]>;

export function citrixFor(simulator: RunningSimulator, overrides: CitrixSettings = {}) {
  return new CitrixClient({
    ...simulator.clientOptions(),
    requestTimeoutMs: 5_000,
    ...overrides,
  });
}

/** The environment a worker child process needs to reach this simulator. */
export function citrixEnvFor(simulator: RunningSimulator): Record<string, string> {
  return {
    CITRIX_CUSTOMER_ID: simulator.customerId,
    CITRIX_CLIENT_ID: simulator.clientId,
    CITRIX_CLIENT_SECRET: simulator.clientSecret,
    CITRIX_API_BASE_URL: simulator.baseUrl,
    CITRIX_DAAS_BASE_URL: simulator.daasBaseUrl,
    CITRIX_TOKEN_URL: simulator.tokenUrl,
    CITRIX_REQUEST_TIMEOUT_MS: '5000',
  };
}

/** The default data set with `count` Active catalogs ("Pool 001", …) in place of the named ones. */
export function seedWithCatalogs(count: number): SimulatorSeed {
  const template = DEFAULT_SEED.catalogs[0]!;
  const catalogs = Array.from({ length: count }, (_, i) => ({
    ...template,
    id: `ca7a10c0-0000-4000-b000-${String(i + 1).padStart(12, '0')}`,
    name: `Pool ${String(i + 1).padStart(3, '0')}`,
    // Each pool its own delivery group, so that its machines are its own.
    deliveryGroupId: `de110000-0000-4000-b000-${String(i + 1).padStart(12, '0')}`,
  }));
  return { ...DEFAULT_SEED, catalogs };
}

/**
 * Accepted `$updateImage` posts: the number that must never exceed one per update. It counts the posts whose answer an
 * `acceptThen…` fault withheld, since Citrix acted on them all the same.
 */
export function acceptedPosts(simulator: RunningSimulator, catalogId?: string): number {
  return simulator
    .requests()
    .filter(
      (r) =>
        r.operation === 'updateImage' &&
        (r.status === 202 || r.withheldStatus === 202) &&
        (!catalogId || r.path.toLowerCase().includes(catalogId.toLowerCase())),
    ).length;
}

/** Asks the simulator's token endpoint for a token as an API client does (form-encoded client credentials). */
export function requestSimulatorToken(simulator: RunningSimulator): Promise<Response> {
  return fetch(simulator.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: simulator.clientId,
      client_secret: simulator.clientSecret,
    }).toString(),
  });
}
