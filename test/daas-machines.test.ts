import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  type Catalog,
  CitrixClient,
  CitrixError,
  CitrixForbiddenError,
  CitrixInvalidArgumentError,
  CitrixInvalidResponseError,
  CitrixNotFoundError,
  CitrixRateLimitError,
  CitrixServerError,
  type DaasMachine,
  UNCONFIRMED_DAAS_REGIONS,
} from '../src/citrix';
import { DEFAULT_SEED, SEED_IDS, startSimulator, type RunningSimulator, type SimulatorSeed } from '../src/simulator';
import { requestSimulatorToken } from './helpers';

const { catalogs, images } = SEED_IDS;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A pool bigger than one page of 1000, and two catalogs that share one delivery group. */
const BIG_POOL = { id: 'ca7a10c0-0000-4000-c000-000000000001', machines: 2_345 };
const SHARED_GROUP = 'de110000-0000-4000-c000-0000000000aa';
const SHARED_A = { id: 'ca7a10c0-0000-4000-c000-000000000002', scheme: '9e0c5c4e-0000-4000-c000-00000000000a' };
const SHARED_B = { id: 'ca7a10c0-0000-4000-c000-000000000003', scheme: '9e0c5c4e-0000-4000-c000-00000000000b' };
const UNKNOWN_SCHEME = '9e0c5c4e-0000-4000-c000-0000000000ff';

function seed(): SimulatorSeed {
  const template = DEFAULT_SEED.catalogs[0]!;
  return {
    ...DEFAULT_SEED,
    catalogs: [
      ...DEFAULT_SEED.catalogs,
      {
        ...template,
        id: BIG_POOL.id,
        name: 'Big pool',
        deliveryGroupId: 'de110000-0000-4000-c000-000000000001',
        totalMachinesInCatalog: BIG_POOL.machines,
      },
      {
        ...template,
        id: SHARED_A.id,
        name: 'Shared A',
        deliveryGroupId: SHARED_GROUP,
        vdaProvisioningSchemeId: SHARED_A.scheme,
        totalMachinesInCatalog: 30,
      },
      {
        ...template,
        id: SHARED_B.id,
        name: 'Shared B',
        deliveryGroupId: SHARED_GROUP,
        vdaProvisioningSchemeId: SHARED_B.scheme,
        totalMachinesInCatalog: 20,
      },
    ],
  };
}

/** Polls `check` until it returns something other than undefined or false. */
async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) return assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const count = (machines: DaasMachine[], keep: (machine: DaasMachine) => boolean) => machines.filter(keep).length;
const warningTypes = (catalog: Catalog) => (catalog.warnings ?? []).map((warning) => warning.type);

describe('the machines behind a catalog, through the DaaS REST API', () => {
  let sim: RunningSimulator;
  let citrix: CitrixClient;
  let token: string;

  before(async () => {
    sim = await startSimulator({
      seed: seed(),
      acceptLagMs: 50,
      updateDurationMs: 150,
      minuteMs: 100,
      machineRestartMs: null,
      machineBootMs: 300,
    });
  });
  after(() => sim.close());
  beforeEach(async () => {
    sim.reset();
    await citrix?.close();
    citrix = new CitrixClient({ ...sim.clientOptions(), requestTimeoutMs: 5_000 });
    const answer = await requestSimulatorToken(sim);
    token = ((await answer.json()) as { access_token: string }).access_token;
  });

  /** The catalog's machines, found from its Catalog Service record as a health check does. */
  async function machinesOf(catalogId: string) {
    const catalog = await citrix.getCatalog(catalogId);
    return citrix.listCatalogMachines({ deliveryGroupId: catalog.deliveryGroupId ?? '' });
  }

  /** Updates the catalog to the November image through the client and waits until the catalog reads finished. */
  async function finishUpdate(catalogId: string, vdaUpdateDelay: number): Promise<Catalog> {
    await citrix.updateImage(catalogId, { templateId: images.win11Nov, citrixPrepared: false, vdaUpdateDelay });
    return eventually(async () => {
      const catalog = await citrix.getCatalog(catalogId);
      return catalog.state === 'Active' && catalog.imageId === images.win11Nov && catalog;
    }, `catalog ${catalogId} on the new image`);
  }

  /** A raw DaaS call with every header Citrix requires, except those `headers` drops (undefined) or replaces. */
  async function daas(path: string, headers: Record<string, string | undefined> = {}) {
    const all: Record<string, string | undefined> = {
      authorization: `CWSAuth bearer=${token}`,
      accept: 'application/json',
      'citrix-customerid': sim.customerId,
      'citrix-instanceid': sim.siteId,
      ...headers,
    };
    const sent = Object.fromEntries(Object.entries(all).filter((entry): entry is [string, string] => !!entry[1]));
    const response = await fetch(`${sim.daasBaseUrl}${path}`, { headers: sent });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  const errorOf = async (promise: Promise<unknown>): Promise<CitrixError> => {
    try {
      await promise;
    } catch (error) {
      assert.ok(error instanceof CitrixError, `a CitrixError, not ${String(error)}`);
      return error;
    }
    return assert.fail('expected the call to fail');
  };

  test('lists every machine of a catalog bigger than one page, 1000 at a time, following the continuation token', async () => {
    const listed = await machinesOf(BIG_POOL.id);
    assert.equal(listed.machines.length, BIG_POOL.machines);
    assert.equal(new Set(listed.machines.map((machine) => machine.id)).size, BIG_POOL.machines, 'no machine twice');
    assert.equal(listed.truncated, false);
    assert.equal(
      count(listed.machines, (m) => m.registrationState === 'Registered' && m.powerState === 'On'),
      2_345,
    );
    const pages = sim.requests().filter((request) => request.operation === 'deliveryGroupMachines');
    assert.deepEqual(
      pages.map((page) => [page.status, new URLSearchParams(page.query).get('limit')]),
      [
        [200, '1000'],
        [200, '1000'],
        [200, '1000'],
      ],
    );
    assert.equal(new URLSearchParams(pages[0]?.query).get('continuationToken'), null);
    assert.ok(new URLSearchParams(pages[2]?.query).get('continuationToken'), 'the last page was asked for by token');
  });

  test('pages with limit (250 by default, at most 1000) and continuationToken, and refuses a token it did not issue', async () => {
    const group = 'de110000-0000-4000-c000-000000000001';
    const first = await daas(`/DeliveryGroups/${group}/Machines`);
    assert.equal(first.status, 200);
    assert.equal((first.body.Items as unknown[]).length, 250);
    const next = await daas(
      `/DeliveryGroups/${group}/Machines?continuationToken=${first.body.ContinuationToken}&limit=1000`,
    );
    assert.equal((next.body.Items as { Id: string }[])[0]?.Id, sim.machines(BIG_POOL.id)[250]?.id);
    assert.equal((next.body.Items as unknown[]).length, 1_000);
    const third = await daas(
      `/DeliveryGroups/${group}/Machines?continuationToken=${next.body.ContinuationToken}&limit=1000`,
    );
    assert.equal((third.body.Items as unknown[]).length, 1_000);
    const last = await daas(`/DeliveryGroups/${group}/Machines?continuationToken=${third.body.ContinuationToken}`);
    assert.deepEqual(
      [(last.body.Items as unknown[]).length, last.body.ContinuationToken],
      [BIG_POOL.machines - 2_250, null],
    );
    assert.equal((await daas(`/DeliveryGroups/${group}/Machines?limit=1001`)).status, 400);
    assert.equal((await daas(`/DeliveryGroups/${group}/Machines?limit=0`)).status, 400);
    assert.equal((await daas(`/DeliveryGroups/${group}/Machines?continuationToken=bm90LWEtdG9rZW4`)).status, 400);
  });

  test('the simulator refuses a DaaS call without a valid token, Citrix-CustomerId or Citrix-InstanceId', async (t) => {
    const machines = `/DeliveryGroups/${(await citrix.getCatalog(catalogs.hr)).deliveryGroupId}/Machines`;
    const cases: [string, string, Record<string, string | undefined>, number][] = [
      ['all headers', machines, {}, 200],
      ['no token', machines, { authorization: undefined }, 401],
      ['an unknown token', machines, { authorization: 'CWSAuth bearer=not-a-token' }, 401],
      ['no Citrix-CustomerId', machines, { 'citrix-customerid': undefined }, 400],
      ['another customer', machines, { 'citrix-customerid': 'someone-else' }, 403],
      ['no Citrix-InstanceId', machines, { 'citrix-instanceid': undefined }, 400],
      ['another site', machines, { 'citrix-instanceid': '517e0000-0000-4000-a000-0000000000ff' }, 404],
      ['no Accept', machines, { accept: undefined }, 406],
      ['/me without Citrix-InstanceId', '/me', { 'citrix-instanceid': undefined }, 200],
      ['/me without Citrix-CustomerId', '/me', { 'citrix-customerid': undefined }, 400],
      ['an unknown delivery group', '/DeliveryGroups/de110000-0000-4000-a000-0000000000ff/Machines', {}, 404],
    ];
    for (const [name, path, headers, status] of cases) {
      await t.test(name, async () => assert.equal((await daas(path, headers)).status, status));
    }
    const me = (await daas('/me', { 'citrix-instanceid': undefined })).body as {
      Customers: { Id: string; Sites: { Id: string }[] }[];
    };
    assert.deepEqual([me.Customers[0]?.Id, me.Customers[0]?.Sites[0]?.Id], [sim.customerId, sim.siteId]);
  });

  test('a 403 on the machine list surfaces as a CitrixForbiddenError that is not retried', async () => {
    sim.addFault({ match: { operation: 'deliveryGroupMachines' }, action: { type: 'status', status: 403 } });
    const error = await errorOf(machinesOf(catalogs.hr));
    assert.ok(error instanceof CitrixForbiddenError, error.name);
    assert.deepEqual([error.status, error.retryable], [403, false]);
    assert.match(error.message, /Access denied/);
    assert.match(error.message, /may not read DaaS delivery groups and machines/);
  });

  test('429 and 5xx are retryable errors, quoting error bodies of either DaaS shape', async () => {
    sim.addFault({
      match: { operation: 'deliveryGroupMachines' },
      action: { type: 'status', status: 503, body: { ErrorMessage: 'Broker is not reachable' } },
    });
    const unavailable = await errorOf(machinesOf(catalogs.hr));
    assert.ok(unavailable instanceof CitrixServerError, unavailable.name);
    assert.equal(unavailable.retryable, true);
    assert.match(unavailable.message, /Broker is not reachable/);

    sim.addFault({
      match: { operation: 'deliveryGroupMachines', catalogId: catalogs.hr },
      action: { type: 'status', status: 429, retryDelaySeconds: 7 },
    });
    const limited = await errorOf(machinesOf(catalogs.hr));
    assert.ok(limited instanceof CitrixRateLimitError, limited.name);
    assert.deepEqual([limited.retryable, limited.retryAfterMs], [true, 7_000]);
    assert.equal((await machinesOf(catalogs.hr)).machines.length, 12, 'then the call succeeds');
  });

  test('an unknown delivery group is a CitrixNotFoundError naming the group', async () => {
    const error = await errorOf(
      citrix.listCatalogMachines({ deliveryGroupId: 'de110000-0000-4000-a000-0000000000ff' }),
    );
    assert.ok(error instanceof CitrixNotFoundError, error.name);
    assert.equal(error.status, 404);
    assert.match(error.message, /no delivery group de110000-0000-4000-a000-0000000000ff/);
  });

  test('a machine list of the wrong shape is a CitrixInvalidResponseError naming the field', async () => {
    sim.addFault({
      match: { operation: 'deliveryGroupMachines' },
      action: { type: 'status', status: 200, body: { Items: [{ Name: 'CORP\\NO-ID' }], ContinuationToken: null } },
    });
    const error = await errorOf(machinesOf(catalogs.hr));
    assert.ok(error instanceof CitrixInvalidResponseError, error.name);
    assert.match(error.message, /Items\.0\.Id/);
  });

  test('machines read the seeded image as current: registered, on, and not out of date', async () => {
    const { machines } = await machinesOf(catalogs.finance);
    assert.equal(machines.length, 40);
    assert.equal(
      count(machines, (m) => m.imageOutOfDate === false && m.registrationState === 'Registered'),
      40,
    );
    assert.ok(machines.every((m) => m.faultState === 'None' && m.name?.startsWith('CORP\\FINANCE-')));
  });

  test('vdaUpdateDelay 0 restarts every machine at once onto the new image: booting first, then registered', async () => {
    sim.setTiming({ machineBootMs: 1_500 });
    const catalog = await finishUpdate(catalogs.hr, 0);
    assert.ok(!warningTypes(catalog).includes('PendingVdaUpdate'));
    const { machines } = await machinesOf(catalogs.hr);
    assert.equal(
      count(machines, (m) => m.imageOutOfDate === false),
      12,
      'every machine took the image',
    );
    assert.equal(
      count(machines, (m) => m.registrationState === 'Unregistered' && m.powerState === 'TurningOn'),
      12,
    );
    assert.ok(sim.machines(catalogs.hr).every((m) => m.bootedImageId === images.win11Nov));
    const booted = await eventually(async () => {
      const now = (await machinesOf(catalogs.hr)).machines;
      return count(now, (m) => m.registrationState === 'Registered' && m.powerState === 'On') === 12 && now;
    }, 'machines registered');
    assert.ok(booted.every((m) => m.lastDeregistrationReason === 'AgentShutdown' && m.lastDeregistrationTime));
  });

  test('vdaUpdateDelay N restarts the machines one after another over N minutes; PendingVdaUpdate lasts as long', async () => {
    sim.setTiming({ minuteMs: 400 });
    await finishUpdate(catalogs.finance, 2);
    await sleep(300);
    const midway = await citrix.getCatalog(catalogs.finance);
    const outOfDate = count((await machinesOf(catalogs.finance)).machines, (m) => m.imageOutOfDate === true);
    assert.ok(outOfDate > 0 && outOfDate < 40, `some but not all restarted after 300 of 800 ms (${outOfDate} wait)`);
    assert.ok(warningTypes(midway).includes('PendingVdaUpdate'));
    await eventually(
      async () => !warningTypes(await citrix.getCatalog(catalogs.finance)).includes('PendingVdaUpdate'),
      'warning cleared',
    );
    const after = (await machinesOf(catalogs.finance)).machines;
    assert.equal(
      count(after, (m) => m.imageOutOfDate === true),
      0,
      'the warning cleared with the last restart',
    );
  });

  test('vdaUpdateDelay -1 keeps every machine on its old image, out of date, until restartMachines', async () => {
    const catalog = await finishUpdate(catalogs.hr, -1);
    assert.ok(warningTypes(catalog).includes('PendingVdaUpdate'));
    await sleep(300);
    const waiting = (await machinesOf(catalogs.hr)).machines;
    assert.equal(
      count(waiting, (m) => m.imageOutOfDate === true && m.registrationState === 'Registered'),
      12,
    );
    assert.ok(sim.machines(catalogs.hr).every((m) => m.bootedImageId === images.win11Oct));

    sim.restartMachines(catalogs.hr);
    assert.ok(!warningTypes(await citrix.getCatalog(catalogs.hr)).includes('PendingVdaUpdate'));
    const restarted = (await machinesOf(catalogs.hr)).machines;
    assert.equal(
      count(restarted, (m) => m.imageOutOfDate === false),
      12,
    );
    await eventually(
      async () => count((await machinesOf(catalogs.hr)).machines, (m) => m.registrationState === 'Registered') === 12,
      'machines registered on the new image',
    );
  });

  test('vdaUpdateDelay -1 restarts the machines by themselves once machineRestartMs has passed', async () => {
    sim.setTiming({ machineRestartMs: 400 });
    await finishUpdate(catalogs.hr, -1);
    assert.equal(
      count((await machinesOf(catalogs.hr)).machines, (m) => m.imageOutOfDate === true),
      12,
    );
    await eventually(
      async () => count((await machinesOf(catalogs.hr)).machines, (m) => m.imageOutOfDate === false) === 12,
      'machines restarted',
    );
    assert.ok(!warningTypes(await citrix.getCatalog(catalogs.hr)).includes('PendingVdaUpdate'));
  });

  test('ImageOutOfDate stays false while the update processes and turns true the moment it finishes', async () => {
    sim.setTiming({ updateDurationMs: Infinity });
    await citrix.updateImage(catalogs.hr, { templateId: images.win11Nov, citrixPrepared: false, vdaUpdateDelay: -1 });
    await eventually(async () => (await citrix.getCatalog(catalogs.hr)).state === 'Processing', 'processing');
    assert.equal(
      count((await machinesOf(catalogs.hr)).machines, (m) => m.imageOutOfDate === false),
      12,
    );
    sim.completeUpdate(catalogs.hr);
    assert.equal(
      count((await machinesOf(catalogs.hr)).machines, (m) => m.imageOutOfDate === true),
      12,
    );
  });

  test('the delivery group counts its machines and its machine catalog reports the image update status', async () => {
    const group = (await citrix.getCatalog(catalogs.hr)).deliveryGroupId;
    await finishUpdate(catalogs.hr, -1);
    const counts = (await daas(`/DeliveryGroups/${group}`)).body;
    assert.deepEqual([counts.TotalMachines, counts.RegisteredMachines, counts.DesktopsFaulted], [12, 12, 0]);
    const status = async () => {
      const listed = await daas(`/DeliveryGroups/${group}/MachineCatalogs?fields=Id,ImageUpdateStatus`);
      return listed.body.Items as Record<string, unknown>[];
    };
    assert.deepEqual(await status(), [{ Id: catalogs.hr, ImageUpdateStatus: 'PendingUpdate' }]);
    sim.restartMachines(catalogs.hr);
    assert.deepEqual(await status(), [{ Id: catalogs.hr, ImageUpdateStatus: 'UpdateToDate' }]);
  });

  test('unhealthyImage at 100 % leaves every machine that boots the image Unregistered, and the catalog VdaRegisterFailure', async () => {
    const fault = sim.addFault({
      times: null,
      action: { type: 'unhealthyImage', imageId: images.win11Nov, unregisteredPercent: 100 },
    });
    assert.ok(!warningTypes(await citrix.getCatalog(catalogs.hr)).includes('VdaRegisterFailure'), 'nothing booted it');
    await finishUpdate(catalogs.hr, 0);
    const failed = await eventually(async () => {
      const { machines } = await machinesOf(catalogs.hr);
      return machines.every((m) => m.powerState === 'On') && machines;
    }, 'machines booted');
    assert.equal(
      count(
        failed,
        (m) =>
          m.registrationState === 'Unregistered' &&
          m.faultState === 'Unregistered' &&
          m.lastDeregistrationReason === 'AgentNotContactable',
      ),
      12,
    );
    const warning = (await citrix.getCatalog(catalogs.hr)).warnings?.find((w) => w.type === 'VdaRegisterFailure');
    assert.equal(warning?.isError, true);

    sim.removeFault(fault);
    assert.equal(
      count((await machinesOf(catalogs.hr)).machines, (m) => m.registrationState === 'Registered'),
      12,
    );
    assert.ok(!warningTypes(await citrix.getCatalog(catalogs.hr)).includes('VdaRegisterFailure'));
  });

  test('unhealthyImage at 50 % fails exactly half the machines of the catalog it names, and no others', async () => {
    sim.addFault({
      match: { catalogId: catalogs.finance },
      times: null,
      action: { type: 'unhealthyImage', imageId: images.win11Nov, unregisteredPercent: 50 },
    });
    await finishUpdate(catalogs.finance, 0);
    await finishUpdate(catalogs.hr, 0);
    const finance = await eventually(async () => {
      const { machines } = await machinesOf(catalogs.finance);
      return machines.every((m) => m.powerState === 'On') && machines;
    }, 'machines booted');
    const failing = finance.filter((m) => m.faultState === 'Unregistered');
    assert.equal(failing.length, 20);
    assert.ok(failing.every((m) => m.registrationState === 'Unregistered' && m.imageOutOfDate === false));
    assert.equal(
      count(finance, (m) => m.registrationState === 'Registered'),
      20,
    );
    assert.ok(warningTypes(await citrix.getCatalog(catalogs.finance)).includes('VdaRegisterFailure'));

    await eventually(
      async () => count((await machinesOf(catalogs.hr)).machines, (m) => m.registrationState === 'Registered') === 12,
      'the other catalog registered',
    );
    assert.ok(!warningTypes(await citrix.getCatalog(catalogs.hr)).includes('VdaRegisterFailure'));
  });

  test('a list longer than the cap is cut at the cap and marked truncated', async () => {
    const { deliveryGroupId = '' } = await citrix.getCatalog(catalogs.finance);
    const cut = await citrix.listCatalogMachines({ deliveryGroupId }, { maxMachines: 10 });
    assert.deepEqual([cut.machines.length, cut.truncated], [10, true]);
    const whole = await citrix.listCatalogMachines({ deliveryGroupId }, { maxMachines: 40 });
    assert.deepEqual([whole.machines.length, whole.truncated], [40, false]);

    const pages = () => sim.requests().filter((r) => r.operation === 'deliveryGroupMachines').length;
    const pagesBefore = pages();
    const big = await citrix.listCatalogMachines(
      { deliveryGroupId: 'de110000-0000-4000-c000-000000000001' },
      { maxMachines: 1_000 },
    );
    assert.deepEqual([big.machines.length, big.truncated], [1_000, true]);
    assert.equal(pages() - pagesBefore, 1, 'no page read past the cap');
    await assert.rejects(
      citrix.listCatalogMachines({ deliveryGroupId }, { maxMachines: 10_001 }),
      CitrixInvalidArgumentError,
    );
  });

  test('keeps only the catalog’s own machines, by provisioning scheme, when its delivery group is shared', async (t) => {
    const everything = await citrix.listCatalogMachines({ deliveryGroupId: SHARED_GROUP });
    assert.deepEqual([everything.machines.length, everything.machineCatalogId], [50, undefined]);
    for (const [shared, machines] of [
      [SHARED_A, 30],
      [SHARED_B, 20],
    ] as const) {
      await t.test(shared.id, async () => {
        const catalog = await citrix.getCatalog(shared.id);
        assert.deepEqual([catalog.deliveryGroupId, catalog.vdaProvisioningSchemeId], [SHARED_GROUP, shared.scheme]);
        const own = await citrix.listCatalogMachines({
          deliveryGroupId: SHARED_GROUP,
          vdaProvisioningSchemeId: shared.scheme,
        });
        assert.deepEqual([own.machines.length, own.machineCatalogId, own.truncated], [machines, shared.id, false]);
        assert.ok(own.machines.every((m) => m.machineCatalogId === shared.id));
      });
    }
  });

  test('a provisioning scheme that no machine catalog of the group has is a CitrixNotFoundError', async () => {
    const error = await errorOf(
      citrix.listCatalogMachines({ deliveryGroupId: SHARED_GROUP, vdaProvisioningSchemeId: UNKNOWN_SCHEME }),
    );
    assert.ok(error instanceof CitrixNotFoundError, error.name);
    assert.match(error.message, new RegExp(`no machine catalog with provisioning scheme ${UNKNOWN_SCHEME}`));
  });

  test('no DaaS error message quotes the client secret or a token, even when the answer echoes the request', async () => {
    const failures: CitrixError[] = [];
    for (const action of [
      { type: 'echo', status: 500 },
      { type: 'echo', status: 403, json: true },
      { type: 'echo', status: 200 },
    ] as const) {
      sim.addFault({ match: { operation: 'deliveryGroupMachines' }, action });
      failures.push(await errorOf(machinesOf(catalogs.hr)));
    }
    failures.push(
      await errorOf(citrix.listCatalogMachines({ deliveryGroupId: 'de110000-0000-4000-a000-0000000000ff' })),
    );
    const secrets = [sim.clientSecret, ...sim.issuedTokens()];
    assert.ok(secrets.length > 1, 'a token was issued');
    for (const failure of failures) {
      const shown = `${failure.message}\n${JSON.stringify(failure)}\n${inspect(failure, { depth: Infinity })}`;
      for (const secret of secrets) assert.ok(!shown.includes(secret), `${failure.name} quotes a secret: ${shown}`);
    }
    assert.match(failures[0]?.message ?? '', /\[redacted\]/, 'the echoed Authorization header was cut out');
  });

  test('daasBaseUrl defaults to the region’s cvad/manage host and is checked like the other URLs', () => {
    const options = { ...sim.clientOptions(), daasBaseUrl: undefined };
    assert.equal(new CitrixClient(options).daasBaseUrl, 'https://api.cloud.com/cvad/manage');
    assert.equal(new CitrixClient({ ...options, region: 'jp' }).daasBaseUrl, 'https://api.citrixcloud.jp/cvad/manage');
    assert.ok(UNCONFIRMED_DAAS_REGIONS.has('us-gov') && !UNCONFIRMED_DAAS_REGIONS.has('jp'));
    for (const url of ['http://api.example.com/cvad/manage', 'https://user:pw@api.cloud.com/cvad/manage', 'nope']) {
      assert.throws(
        () => new CitrixClient({ ...options, daasBaseUrl: url }),
        (error: unknown) => {
          return error instanceof CitrixInvalidArgumentError && /daasBaseUrl/.test(error.message);
        },
      );
    }
    const client = new CitrixClient(sim.clientOptions());
    assert.equal(client.daasBaseUrl, sim.daasBaseUrl);
    assert.equal((client.toJSON() as Record<string, string>).daasBaseUrl, sim.daasBaseUrl);
    assert.equal(new CitrixClient(sim.govClientOptions()).daasBaseUrl, sim.daasBaseUrl);
  });
});
