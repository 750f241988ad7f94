import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  CitrixAuthError,
  CitrixClient,
  CitrixError,
  CitrixInvalidArgumentError,
  CitrixNetworkError,
  CitrixNotFoundError,
  CitrixRateLimitError,
  CitrixServerError,
  CitrixTimeoutError,
  RequestBudget,
} from '../src/citrix';
import { SEED_IDS, startSimulator, type RunningSimulator } from '../src/simulator';
import { citrixFor } from './helpers';

const { catalogs, images } = SEED_IDS;
const MISSING_GUID = '00000000-0000-4000-8000-000000000000';

describe('CitrixClient against the Catalog Service simulator', () => {
  let simulator: RunningSimulator;
  let citrix: CitrixClient;

  before(async () => {
    simulator = await startSimulator({ updateDurationMs: 500, acceptLagMs: 100 });
  });
  after(() => simulator.close());
  beforeEach(async () => {
    simulator.reset();
    await citrix?.close();
    citrix = citrixFor(simulator);
  });

  const calls = (operation: string) => simulator.requests().filter((r) => r.operation === operation);

  test('discovers the only site and reads catalogs and images', async () => {
    assert.equal(await citrix.getSiteId(), simulator.siteId);
    const list = await citrix.listCatalogs();
    assert.ok(list.some((c) => c.id === catalogs.finance));
    const catalog = await citrix.getCatalog(catalogs.finance);
    assert.equal(catalog.state, 'Active');
    assert.equal(catalog.imageId, images.win11Oct);
    const image = await citrix.getImage(images.win11Nov);
    assert.equal(image.state, 'Ready');
    assert.ok((await citrix.listImages()).length >= 3);
  });

  test('asks for one token and reuses it across concurrent calls', async () => {
    await Promise.all(Array.from({ length: 20 }, () => citrix.getCatalog(catalogs.finance)));
    assert.equal(calls('token').length, 1);
    assert.equal(calls('catalog').length, 20);
  });

  test('on a 401 fetches one fresh token and retries the call once', async () => {
    await citrix.getCatalog(catalogs.finance);
    simulator.addFault({ action: { type: 'expireTokens' } });
    const catalog = await citrix.getCatalog(catalogs.finance);
    assert.equal(catalog.id, catalogs.finance);
    assert.equal(calls('token').length, 2);
    assert.deepEqual(
      calls('catalog').map((r) => r.status),
      [200, 401, 200],
    );
  });

  test('rejects wrong credentials with an auth error that does not quote the secret', async () => {
    const wrong = citrixFor(simulator, { clientSecret: 'not-the-secret-0123456789' });
    await assert.rejects(wrong.getCatalog(catalogs.finance), (error: unknown) => {
      assert.ok(error instanceof CitrixAuthError);
      assert.equal(error.code, 'CITRIX_AUTH');
      assert.match(error.message, /invalid_client/);
      assert.ok(!error.message.includes('not-the-secret-0123456789'));
      assert.ok(!JSON.stringify(error).includes('not-the-secret'));
      return true;
    });
    await wrong.close();
  });

  test('rejects a malformed catalog id before sending anything', async () => {
    for (const bad of ['finance', '../sites', `${catalogs.finance}/x`, '']) {
      await assert.rejects(citrix.getCatalog(bad), CitrixInvalidArgumentError);
    }
    await assert.rejects(citrix.getImage('../../etc'), CitrixInvalidArgumentError);
    assert.equal(simulator.requests().filter((r) => r.operation !== 'token' && r.operation !== 'sites').length, 0);
  });

  test('maps 404 to a not-found error carrying method, URL, status and transaction id', async () => {
    await assert.rejects(citrix.getCatalog(MISSING_GUID), (error: unknown) => {
      assert.ok(error instanceof CitrixNotFoundError);
      assert.equal(error.status, 404);
      assert.equal(error.method, 'GET');
      assert.ok(error.url?.endsWith(`/catalogs/${MISSING_GUID}`));
      assert.match(error.transactionId ?? '', /^[0-9a-f-]{36}$/);
      assert.equal(error.retryable, false);
      assert.match(error.message, new RegExp(`citrix-transactionId ${error.transactionId}`));
      return true;
    });
  });

  test('reads the retry delay of a 429 from Retry-After, else from the retryDelay parameter', async () => {
    simulator.addFault({
      match: { operation: 'catalog' },
      action: { type: 'status', status: 429, retryAfterSeconds: 7 },
    });
    await assert.rejects(citrix.getCatalog(catalogs.finance), (error: unknown) => {
      assert.ok(error instanceof CitrixRateLimitError);
      assert.equal(error.retryAfterMs, 7_000);
      assert.equal(error.retryable, true);
      return true;
    });
    simulator.addFault({
      match: { operation: 'catalog' },
      action: { type: 'status', status: 503, retryDelaySeconds: 4 },
    });
    await assert.rejects(citrix.getCatalog(catalogs.finance), (error: unknown) => {
      assert.ok(error instanceof CitrixServerError);
      assert.equal(error.retryAfterMs, 4_000);
      return true;
    });
  });

  test('waits for the request budget before every API request (the retry after a 401 too), never for a token', async () => {
    const budget = new CountingBudget();
    const budgeted = citrixFor(simulator, { budget });
    try {
      const catalog = await budgeted.getCatalog(catalogs.finance);
      await budgeted.listCatalogMachines({ deliveryGroupId: catalog.deliveryGroupId ?? '' });
      const apiCalls = () => simulator.requests().filter((r) => r.operation !== 'token').length;
      assert.equal(budget.acquired, apiCalls(), 'sites, the catalog and the DaaS machine pages');
      simulator.addFault({ action: { type: 'expireTokens' } });
      const before = budget.acquired;
      await budgeted.getCatalog(catalogs.finance);
      assert.equal(budget.acquired - before, 2, 'the refused call and its retry with a new token');
      assert.equal(budget.acquired, apiCalls());
      assert.equal(calls('token').length, 2);
      assert.deepEqual(budget.rateLimits, []);
    } finally {
      await budgeted.close();
    }
  });

  test('tells the budget of a 429 with the delay Citrix asked, 1 s when it names none, and still throws', async () => {
    const budget = new CountingBudget();
    const budgeted = citrixFor(simulator, { budget, siteId: simulator.siteId });
    try {
      simulator.addFault({
        match: { operation: 'catalog' },
        action: { type: 'status', status: 429, retryDelaySeconds: 3 },
      });
      await assert.rejects(budgeted.getCatalog(catalogs.finance), CitrixRateLimitError);
      simulator.addFault({ match: { operation: 'catalog' }, action: { type: 'status', status: 429 } });
      await assert.rejects(budgeted.getCatalog(catalogs.finance), CitrixRateLimitError);
      assert.deepEqual(budget.rateLimits, [3_000, 1_000]);
    } finally {
      await budgeted.close();
    }
  });

  test('gives up on a call that stalls past the request timeout', async () => {
    const impatient = citrixFor(simulator, { requestTimeoutMs: 300 });
    await impatient.getSiteId();
    simulator.addFault({ match: { operation: 'catalog' }, action: { type: 'latency', ms: 2_000 } });
    const started = Date.now();
    await assert.rejects(impatient.getCatalog(catalogs.finance), CitrixTimeoutError);
    assert.ok(Date.now() - started < 1_500);
    await impatient.close();
  });

  test('reports a reset connection as a retryable network error', async () => {
    await citrix.getSiteId();
    simulator.addFault({ match: { operation: 'catalog' }, action: { type: 'reset' } });
    await assert.rejects(citrix.getCatalog(catalogs.finance), (error: unknown) => {
      assert.ok(error instanceof CitrixNetworkError);
      assert.equal((error as CitrixError).retryable, true);
      return true;
    });
  });

  test('a US Gov tenant gets its token from the trust service as JSON and calls with CWSAuth', async () => {
    const gov = new CitrixClient({ ...simulator.govClientOptions(), requestTimeoutMs: 5_000 });
    try {
      assert.equal(gov.authFlow, 'cctrust');
      assert.equal((await gov.getCatalog(catalogs.finance)).id, catalogs.finance);
      const [token] = calls('token');
      assert.equal(token?.status, 200);
      assert.equal(token?.path, new URL(simulator.govTokenUrl).pathname);
    } finally {
      await gov.close();
    }
    assert.equal(
      new CitrixClient({ ...simulator.clientOptions(), tokenUrl: undefined, apiBaseUrl: undefined, region: 'us-gov' })
        .tokenUrl,
      `https://trust.citrixworkspacesapi.us/${simulator.customerId}/tokens/clients`,
    );
  });

  test('a refused US Gov login is an auth error that quotes nothing of the answer', async () => {
    const wrong = new CitrixClient({ ...simulator.govClientOptions(), clientSecret: 'wrong-gov-secret-0123' });
    await assert.rejects(wrong.getCatalog(catalogs.finance), (error: unknown) => {
      assert.ok(error instanceof CitrixAuthError);
      assert.match(error.message, /refused the API client credentials/);
      assert.ok(!error.message.includes('wrong-gov-secret'));
      return true;
    });
    await wrong.close();
  });

  test('reads retryDelay from an object-shaped parameters, and a gateway 429 without a transaction id', async () => {
    await citrix.getSiteId();
    simulator.addFault({
      match: { operation: 'catalog' },
      action: { type: 'status', status: 429, retryDelaySeconds: 6, retryDelayAs: 'object' },
    });
    await assert.rejects(citrix.getCatalog(catalogs.finance), (error: unknown) => {
      assert.equal((error as CitrixError).retryAfterMs, 6_000);
      assert.equal((error as CitrixError).transactionId, undefined, 'a gateway 429 carries no transaction id');
      return true;
    });
  });

  test('posts $updateImage with async=true and returns the transaction id it sent', async () => {
    const transactionId = '11111111-2222-4333-8444-555555555555';
    const accepted = await citrix.updateImage(
      catalogs.finance,
      { templateId: images.win11Nov, citrixPrepared: false, vdaUpdateDelay: -1 },
      { transactionId },
    );
    assert.equal(accepted.catalogId, catalogs.finance);
    assert.equal(accepted.transactionId, transactionId);
    assert.match(accepted.location ?? '', /\/catalogs\/.+\/updateStatus$/);
    const [post] = calls('updateImage');
    assert.equal(post?.status, 202);
    assert.match(post?.query ?? '', /async=true/);
  });
});

/** A budget that lets everything through at once and counts what the client tells it. */
class CountingBudget extends RequestBudget {
  acquired = 0;
  rateLimits: number[] = [];

  constructor() {
    super({ requestsPerSecond: 1_000 });
  }

  override acquire(): Promise<void> {
    this.acquired += 1;
    return Promise.resolve();
  }

  override rateLimited(retryAfterMs: number): void {
    this.rateLimits.push(retryAfterMs);
  }
}
