import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  CitrixClient,
  CitrixError,
  CitrixInvalidArgumentError,
  CitrixInvalidResponseError,
  MAX_MESSAGE_CHARS,
  MAX_NAME_CHARS,
  MAX_RESPONSE_BYTES,
  MAX_RETRY_AFTER_MS,
  SecretRedactor,
} from '../src/citrix';
import { DEFAULT_SEED, SEED_IDS, startSimulator, type RunningSimulator } from '../src/simulator';
import { citrixFor } from './helpers';

const { catalogs } = SEED_IDS;

/** Every spelling of a secret an echoed request could carry it in. */
function spellings(secret: string): string[] {
  return [secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2)];
}

describe('the Citrix client under hostile answers', () => {
  let simulator: RunningSimulator;
  let citrix: CitrixClient;

  before(async () => {
    // A secret with characters that encode differently in a URL, a form and JSON.
    const seed = structuredClone(DEFAULT_SEED);
    seed.clientSecret = 'Sx+7/q "w=9&z\\Kp%3D0-secret';
    simulator = await startSimulator({ seed, updateDurationMs: 500, acceptLagMs: 100 });
  });
  after(() => simulator.close());
  beforeEach(async () => {
    simulator.reset();
    await citrix?.close();
    citrix = citrixFor(simulator);
  });

  /** The client secret and every token issued, in every spelling. */
  const secrets = () => [simulator.clientSecret, ...simulator.issuedTokens()].flatMap(spellings);
  const assertClean = (what: string, text: string) => {
    for (const secret of secrets()) assert.ok(!text.includes(secret), `${what} holds a secret: ${text}`);
  };
  const errorText = (error: unknown) => `${(error as Error).message}\n${JSON.stringify(error)}\n${inspect(error)}`;

  for (const [status, json] of [
    [401, false],
    [502, false],
    [400, true],
  ] as const) {
    test(`a token endpoint that echoes the request (${status}${json ? ', JSON' : ''}) is never quoted`, async () => {
      simulator.addFault({ match: { operation: 'token' }, action: { type: 'echo', status, json } });
      const error = await citrix.getCatalog(catalogs.finance).catch((e: unknown) => e);
      assert.ok(error instanceof CitrixError, String(error));
      assert.match(error.message, new RegExp(`answered ${status}`));
      assertClean('the error', errorText(error));
    });
  }

  for (const status of [401, 502]) {
    test(`an API that echoes the request (${status}, bearer token included) is quoted only redacted`, async () => {
      await citrix.getSiteId();
      simulator.addFault({ match: { operation: 'catalog' }, times: null, action: { type: 'echo', status } });
      const error = await citrix.getCatalog(catalogs.finance).catch((e: unknown) => e);
      assert.ok(error instanceof CitrixError);
      assert.ok(simulator.issuedTokens().length >= 1);
      assertClean('the error', errorText(error));
      assert.ok(error.message.length < 700, 'the excerpt is bounded');
    });
  }

  test('inspecting or serialising a client that holds a token shows neither the secret nor the token', async () => {
    await citrix.getCatalog(catalogs.finance);
    const shown = [
      inspect(citrix, { showHidden: true, depth: Infinity }),
      JSON.stringify(citrix),
      String(citrix),
      inspect(new SecretRedactor([simulator.clientSecret]), { showHidden: true, depth: Infinity }),
    ].join('\n');
    assert.ok(simulator.issuedTokens().length === 1);
    assertClean('inspect(client)', shown);
  });

  test('a 200 MB catalog list is cut off at the cap and fails as an invalid response', async () => {
    await citrix.getSiteId();
    simulator.addFault({ match: { operation: 'catalogs' }, action: { type: 'hugeBody', bytes: 200 * 1024 * 1024 } });
    const started = Date.now();
    const heapBefore = process.memoryUsage().heapUsed;
    const error = await citrix.listCatalogs().catch((e: unknown) => e);
    assert.ok(error instanceof CitrixInvalidResponseError, String(error));
    assert.match(error.message, /more than 32 MiB/);
    assert.ok(process.memoryUsage().heapUsed - heapBefore < 3 * MAX_RESPONSE_BYTES.list, 'memory stays bounded');
    assert.ok(Date.now() - started < 10_000);
    const served = await waitForLogged(simulator, 'catalogs');
    assert.ok((served.streamedBytes ?? 0) < 64 * 1024 * 1024, `the simulator wrote ${served.streamedBytes} bytes`);
  });

  test('an answer of the wrong shape names the field, not a TypeError', async () => {
    await citrix.getSiteId();
    simulator.addFault({
      match: { operation: 'catalogs' },
      action: { type: 'status', status: 200, body: { items: 'not a list' } },
    });
    await assert.rejects(citrix.listCatalogs(), (error: unknown) => {
      assert.ok(error instanceof CitrixInvalidResponseError, String(error));
      assert.match(error.message, /malformed catalog list \(items: expected array, received string\)/);
      return true;
    });
    simulator.addFault({
      match: { operation: 'catalog' },
      action: { type: 'status', status: 200, body: { id: catalogs.finance, name: 42, state: 'Active' } },
    });
    await assert.rejects(citrix.getCatalog(catalogs.finance), /malformed catalog \S+ \(name: expected string/);
  });

  test('names and messages from Citrix are bounded and stripped of terminal control characters', async () => {
    simulator.patchCatalog(catalogs.finance, {
      name: `Finance\u001b[2J\u001b]0;pwned\u0007${'n'.repeat(250_000)}`,
      statusMessage: `\u202eevil${'m'.repeat(250_000)}`,
      warnings: Array.from({ length: 100 }, () => ({
        type: 'Custom',
        isDismissible: true,
        warningMessage: 'w'.repeat(1_000),
        isError: false,
      })),
    });
    const catalog = await citrix.getCatalog(catalogs.finance);
    assert.ok(catalog.name.length <= MAX_NAME_CHARS);
    assert.ok((catalog.statusMessage ?? '').length <= MAX_MESSAGE_CHARS);
    assert.ok(catalog.name.startsWith('Finance[2J]0;pwned'), catalog.name.slice(0, 40));
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(`${catalog.name}${catalog.statusMessage}`, /[\u0000-\u001f\u007f-\u009f\u202e]/);
    assert.ok((catalog.warnings ?? []).length <= 20);
    assert.ok(JSON.stringify(catalog).length < 64 * 1024);
  });

  test('an absurd Retry-After is capped', async () => {
    await citrix.getSiteId();
    simulator.addFault({
      match: { operation: 'catalog' },
      action: { type: 'status', status: 429, retryAfterSeconds: 99_999_999 },
    });
    await assert.rejects(citrix.getCatalog(catalogs.finance), (error: unknown) => {
      assert.equal((error as CitrixError).retryAfterMs, MAX_RETRY_AFTER_MS);
      return true;
    });
  });

  test('a token said to last 0 seconds is still reused for a while instead of fetched per call', async () => {
    const shortLived = await startSimulator({ tokenTtlSeconds: 1 });
    const client = citrixFor(shortLived, { tokenRefreshMarginMs: 60_000 });
    try {
      for (let i = 0; i < 5; i++) await client.getCatalog(catalogs.finance);
      assert.equal(shortLived.requests().filter((r) => r.operation === 'token').length, 1);
    } finally {
      await client.close();
      await shortLived.close();
    }
  });

  test('refuses plain-http, other schemes and user info in its URLs, and timeouts past ten minutes', () => {
    const base = simulator.clientOptions();
    for (const [option, url] of [
      ['apiBaseUrl', 'http://api.example.com/catalogservice'],
      ['tokenUrl', 'gopher://example.com/x'],
      ['apiBaseUrl', 'https://user:pass@api.cloud.com/catalogservice'],
      ['tokenUrl', 'http://169.254.169.254/latest'],
    ] as const) {
      assert.throws(() => new CitrixClient({ ...base, [option]: url }), CitrixInvalidArgumentError, `${option} ${url}`);
    }
    assert.throws(() => new CitrixClient({ ...base, requestTimeoutMs: 2 ** 32 }), /requestTimeoutMs/);
    assert.doesNotThrow(() => new CitrixClient(base), 'loopback http is fine');
    assert.throws(
      () => new CitrixClient({ ...base, tokenUrl: 'not a url' }),
      (error: unknown) => error instanceof CitrixInvalidArgumentError && /tokenUrl must be a URL/.test(error.message),
      'a token URL that is no URL is named, not a TypeError',
    );
  });

  test('an answer that declares more bytes than the cap is refused without waiting for them', async () => {
    // Declares 100 MiB, sends none of it and never ends: only the declaration can be judged.
    const server = createServer((req, res) => {
      if (req.url?.includes('/tokens/')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"access_token":"t","expires_in":3600}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(100 * 1024 * 1024) });
      res.flushHeaders();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = new CitrixClient({
      ...simulator.clientOptions(),
      apiBaseUrl: `http://127.0.0.1:${port}/catalogservice`,
      tokenUrl: `http://127.0.0.1:${port}/cctrustoauth2/x/tokens/clients`,
      siteId: SEED_IDS.siteId,
      requestTimeoutMs: 60_000,
    });
    const started = Date.now();
    try {
      await assert.rejects(client.listCatalogs(), CitrixInvalidResponseError);
      assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
    } finally {
      await client.close();
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('SecretRedactor', () => {
  test('removes a secret in raw, URL-encoded, form-encoded and JSON-escaped form, and credential patterns', () => {
    const secret = 'a+b/c "d"&e=f';
    const redactor = new SecretRedactor([secret]);
    const echo = [
      `grant_type=client_credentials&client_id=x&${new URLSearchParams({ client_secret: secret })}`,
      JSON.stringify({ body: `client_secret=${encodeURIComponent(secret)}` }),
      JSON.stringify(JSON.stringify({ ClientSecret: secret })),
      'Authorization: CwsAuth Bearer=eyJhbGciOi.J9.abc',
      '{"access_token":"tok-123456789","Token":"gov-token-987654321"}',
    ].join('\n');
    const out = redactor.redact(echo);
    for (const form of [secret, encodeURIComponent(secret), 'eyJhbGciOi', 'tok-123456789', 'gov-token-987654321']) {
      assert.ok(!out.includes(form), `${form} left in ${out}`);
    }
  });

  test('an excerpt is one bounded line without control characters', () => {
    const excerpt = new SecretRedactor().excerpt(`line one\n\u001b[31mred\u001b[0m ${'x'.repeat(10_000)}`);
    assert.ok(excerpt.length <= 300);
    assert.ok(excerpt.startsWith('line one [31mred[0m'));
  });
});

async function waitForLogged(simulator: RunningSimulator, operation: string) {
  for (let i = 0; i < 100; i++) {
    const found = simulator.requests().find((r) => r.operation === operation);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no ${operation} request was logged`);
}
