import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { SEED_IDS, startSimulator, type RunningSimulator } from '../src/simulator';
import { requestSimulatorToken } from './helpers';

const { catalogs, images } = SEED_IDS;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

async function answer(response: Response): Promise<Answer> {
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as unknown) : undefined };
}

const RATE_LIMITED = {
  type: 'https://errors-api.cloud.com/common/rateLimitExceeded',
  detail: 'Rate limit exceeded; try again in 1 seconds',
  parameters: [{ name: 'retryDelay', value: '1' }],
};

describe('simulator rate limit', () => {
  let sim: RunningSimulator;
  let token: string;

  const requestToken = async () => {
    return answer(await requestSimulatorToken(sim));
  };
  const api = (method: string, sitePath: string, body?: unknown) =>
    fetch(`${sim.baseUrl}/${sim.customerId}/${sim.siteId}/${sitePath}`, {
      method,
      headers: {
        accept: 'application/json',
        authorization: `CwsAuth Bearer=${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(answer);
  const daasMe = (customerId: string) =>
    fetch(`${sim.daasBaseUrl}/me`, {
      headers: {
        accept: 'application/json',
        authorization: `CwsAuth Bearer=${token}`,
        'citrix-customerid': customerId,
      },
    }).then(answer);
  const admin = (method: string, adminPath: string, body?: unknown) =>
    fetch(`${sim.adminUrl}/${adminPath}`, {
      method,
      headers: {
        authorization: `Bearer ${sim.adminToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(answer);
  const statuses = async (count: number, send: () => Promise<Answer>) => {
    const seen: number[] = [];
    for (let i = 0; i < count; i++) seen.push((await send()).status);
    return seen;
  };

  before(async () => {
    sim = await startSimulator({ acceptLagMs: 0, updateDurationMs: Infinity, rateLimit: { requestsPerSecond: 3 } });
  });
  after(() => sim.close());
  beforeEach(async () => {
    sim.reset();
    token = ((await requestToken()).body as { access_token: string }).access_token;
  });

  test('answers 429 past the limit with the common body and its retryDelay, and no transaction id', async () => {
    assert.deepEqual(await statuses(3, () => api('GET', 'catalogs')), [200, 200, 200]);
    const refused = await api('GET', 'catalogs');
    assert.equal(refused.status, 429);
    assert.deepEqual(refused.body, RATE_LIMITED);
    assert.equal(refused.headers.get('citrix-transactionId'), null);
    assert.equal(refused.headers.get('retry-after'), null, 'only retryDelay, in the body');

    const logged = sim.requests().filter((request) => request.operation === 'catalogs');
    assert.deepEqual(
      logged.map((request) => request.status),
      [200, 200, 200, 429],
    );
    assert.equal(logged[3]?.transactionId, undefined);
    assert.deepEqual(sim.rateLimitStats(), { accepted: 3, refused: 1, busiestSecond: 3 });
  });

  test('a refused $updateImage starts no update, and after retryDelay requests pass again', async () => {
    const was = (await api('GET', `catalogs/${catalogs.finance}`)).body as { state: string; imageId: string };
    await api('GET', 'catalogs');
    await api('GET', 'images');
    const refused = await api('POST', `catalogs/${catalogs.finance}/$updateImage?async=true`, {
      templateId: images.win11Nov,
    });
    assert.equal(refused.status, 429);
    const [{ value }] = (refused.body as { parameters: [{ value: string }] }).parameters;

    await sleep(Number(value) * 1000);
    const now = (await api('GET', `catalogs/${catalogs.finance}`)).body as { state: string; imageId: string };
    assert.deepEqual([now.state, now.imageId], [was.state, was.imageId], 'the catalog is as it was');
    const accepted = await api('POST', `catalogs/${catalogs.finance}/$updateImage?async=true`, {
      templateId: images.win11Nov,
    });
    assert.equal(accepted.status, 202);
    assert.equal(((await api('GET', `catalogs/${catalogs.finance}`)).body as { state: string }).state, 'Processing');
  });

  test('does not count token requests or admin calls', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await requestToken()).status, 200);
    for (let i = 0; i < 5; i++) assert.equal((await admin('GET', 'faults')).status, 200);
    assert.deepEqual(await statuses(4, () => api('GET', 'images')), [200, 200, 200, 429]);
    assert.equal((await requestToken()).status, 200, 'a token is still issued past the limit');
    assert.equal((await admin('GET', 'requests')).status, 200, 'the admin API still answers past the limit');
    assert.deepEqual(sim.rateLimitStats(), { accepted: 3, refused: 1, busiestSecond: 3 });
  });

  test("counts each customer's requests apart, DaaS ones by their Citrix-CustomerId", async () => {
    assert.deepEqual(await statuses(3, () => daasMe(sim.customerId)), [200, 200, 200]);
    assert.equal((await api('GET', 'catalogs')).status, 429, 'the Catalog Service counts against the same customer');
    assert.equal((await daasMe('another-customer')).status, 403, 'another customer has a limit of its own');
    assert.equal((await daasMe(sim.customerId.toUpperCase())).status, 429, 'customer ids match without regard to case');
  });

  test('refuses before faults apply, so that a refused request uses up no fault', async () => {
    await statuses(3, () => api('GET', 'catalogs'));
    sim.addFault({ match: { operation: 'catalogs' }, action: { type: 'status', status: 503 } });
    assert.equal((await api('GET', 'catalogs')).status, 429);
    assert.equal(sim.faults().length, 1);
    await sleep(1000);
    assert.equal((await api('GET', 'catalogs')).status, 503);
  });

  test('holds under a burst of 200 concurrent requests, as rateLimitStats and GET /__admin/rateLimit show', async () => {
    sim.setRateLimit({ requestsPerSecond: 50 });
    const answers = await Promise.all(Array.from({ length: 200 }, () => api('GET', 'catalogs')));
    const ok = answers.filter((response) => response.status === 200).length;
    assert.deepEqual(new Set(answers.map((response) => response.status)), new Set([200, 429]));
    const stats = sim.rateLimitStats();
    assert.equal(stats.accepted, ok);
    assert.equal(stats.refused, 200 - ok);
    assert.ok(stats.busiestSecond <= 50, `busiestSecond ${stats.busiestSecond}`);
    assert.ok(stats.busiestSecond >= Math.min(ok, 50) / 2, 'the busiest second saw the burst');
    assert.deepEqual((await admin('GET', 'rateLimit')).body, stats);
  });

  describe('set at runtime', () => {
    afterEach(() => sim.reset());

    test('is set, changed and lifted with setRateLimit and POST /__admin/settings; reset restores the start option', async () => {
      sim.setRateLimit(undefined);
      assert.deepEqual(await statuses(5, () => api('GET', 'images')), [200, 200, 200, 200, 200]);
      sim.setRateLimit({ requestsPerSecond: 6 });
      assert.deepEqual(await statuses(2, () => api('GET', 'images')), [200, 429], 'the second before counts');

      const lifted = await admin('POST', 'settings', { rateLimit: null });
      assert.equal((lifted.body as { rateLimit: unknown }).rateLimit, null);
      assert.equal((await api('GET', 'images')).status, 200);
      const set = await admin('POST', 'settings', { rateLimit: { requestsPerSecond: 1 } });
      assert.deepEqual((set.body as { rateLimit: unknown }).rateLimit, { requestsPerSecond: 1 });
      assert.equal((await api('GET', 'images')).status, 429);

      assert.equal((await admin('POST', 'reset')).status, 204);
      assert.deepEqual(sim.rateLimitStats(), { accepted: 0, refused: 0, busiestSecond: 0 });
      token = ((await requestToken()).body as { access_token: string }).access_token;
      assert.deepEqual(await statuses(4, () => api('GET', 'images')), [200, 200, 200, 429], 'back to 3 a second');
    });

    test('refuses a rate that is not a positive finite number, changing nothing', async () => {
      for (const requestsPerSecond of [0, -1, Infinity, Number.NaN, '5', undefined]) {
        const limit = { requestsPerSecond } as unknown as { requestsPerSecond: number };
        assert.throws(() => sim.setRateLimit(limit), /rateLimit\.requestsPerSecond must be a positive finite number/);
      }
      for (const rateLimit of [{ requestsPerSecond: 0 }, { requestsPerSecond: 'fast' }, 5, {}]) {
        const refused = await admin('POST', 'settings', { acceptLagMs: 123, rateLimit });
        assert.equal(refused.status, 400, JSON.stringify(rateLimit));
        assert.match((refused.body as { message: string }).message, /^rateLimit(\.requestsPerSecond)? must be/);
      }
      const settings = await admin('POST', 'settings', {});
      assert.notEqual((settings.body as { acceptLagMs: number }).acceptLagMs, 123, 'the timing was left alone');
      assert.deepEqual((settings.body as { rateLimit: unknown }).rateLimit, { requestsPerSecond: 3 });
      for (const requestsPerSecond of [0, -2, Infinity, Number.NaN]) {
        await assert.rejects(startSimulator({ rateLimit: { requestsPerSecond } }), {
          name: 'TypeError',
          message: /rateLimit\.requestsPerSecond must be a positive finite number/,
        });
      }
    });
  });
});

describe('simulator CLI --rate-limit', () => {
  const repoRoot = path.resolve(__dirname, '..');
  const run = (args: string[]) =>
    spawn(process.execPath, ['--import', 'tsx', 'src/simulator/main.ts', '--port', '0', ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  test('limits the customer to the rate given', async () => {
    const child = run(['--rate-limit', '1']);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const [line] = await Promise.race([
        new Promise<string[]>((resolve) => createInterface({ input: child.stdout }).once('line', (l) => resolve([l]))),
        exited.then((code) => assert.fail(`exited early with ${String(code)}`)),
      ]);
      const started = JSON.parse(line ?? '') as Record<string, string>;
      const tokenAnswer = await fetch(started.tokenUrl ?? '', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: started.clientId ?? '',
          client_secret: started.clientSecret ?? '',
        }).toString(),
      }).then(answer);
      const { access_token } = tokenAnswer.body as { access_token: string };
      const sites = () =>
        fetch(`${started.baseUrl}/${started.customerId}/sites`, {
          headers: { accept: 'application/json', authorization: `CwsAuth Bearer=${access_token}` },
        }).then((response) => response.status);
      assert.deepEqual([await sites(), await sites()], [200, 429]);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });

  test('exits 1 with a message naming the flag and what it expects for a rate that is not a positive number', async () => {
    await Promise.all(
      ['0', '-5', 'fast', 'Infinity', ''].map(async (rate) => {
        const child = run(['--rate-limit', rate]);
        let stderr = '';
        let stdout = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        const code = await new Promise((resolve) => child.once('exit', resolve));
        assert.equal(code, 1, rate);
        assert.equal(stdout, '');
        assert.match(stderr, /--rate-limit .* expected a positive number of requests per second/, rate);
      }),
    );
  });
});
