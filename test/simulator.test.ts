import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, beforeEach, describe, test } from 'node:test';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { SEED_IDS, startSimulator, type RecordedRequest, type RunningSimulator } from '../src/simulator';

const { catalogs, images } = SEED_IDS;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// OpenAPI 3.0 writes `nullable: true` beside `type` or `allOf`; Ajv wants JSON Schema, so rewrite it and drop `example`.
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (typeof node !== 'object' || node === null) return node;
  const { nullable, example: _example, ...rest } = node as Record<string, unknown>;
  const schema = Object.fromEntries(
    Object.entries(rest).map(([key, value]) => [
      key,
      key === 'properties'
        ? Object.fromEntries(Object.entries(value as object).map(([name, child]) => [name, toJsonSchema(child)]))
        : toJsonSchema(value),
    ]),
  );
  if (nullable !== true) return schema;
  if (typeof schema.type === 'string') {
    return { ...schema, type: [schema.type, 'null'], ...(schema.enum ? { enum: [...(schema.enum as []), null] } : {}) };
  }
  return { anyOf: [{ type: 'null' }, schema] };
}

const specPath = path.resolve(__dirname, 'fixtures/citrix/catalogservice.openapi.yaml');
const spec = parseYaml(readFileSync(specPath, 'utf8')) as { components: { schemas: Record<string, unknown> } };
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
const schemas = Object.entries(spec.components.schemas).map(([name, schema]) => [name, toJsonSchema(schema)]);
ajv.addSchema({ $id: 'catalogservice', components: { schemas: Object.fromEntries(schemas) } });

function assertMatchesSchema(schemaName: string, data: unknown): void {
  const validate = ajv.getSchema(`catalogservice#/components/schemas/${schemaName}`) as ValidateFunction | undefined;
  assert.ok(validate, `schema ${schemaName} exists`);
  assert.ok(validate(data), `${schemaName}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(data).slice(0, 500)}`);
}

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

async function answer(response: Response): Promise<Answer> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON: keep the text.
  }
  return { status: response.status, headers: response.headers, body };
}

/** A request through node:http, which (unlike fetch) sends no header it is not given: no Accept unless asked. */
function rawRequest(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method ?? 'GET', headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
        }
        const response = new Response(Buffer.concat(chunks), { status: res.statusCode ?? 0, headers });
        resolve(answer(response));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

const form = (fields: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
  body: new URLSearchParams(fields).toString(),
});

type CatalogRead = { state: string; subState?: string | null; imageId: string; [field: string]: unknown };

describe('Catalog Service simulator', () => {
  let sim: RunningSimulator;
  let token: string;

  async function requestToken(url = sim.tokenUrl, secret = sim.clientSecret): Promise<Answer> {
    const fields = { grant_type: 'client_credentials', client_id: sim.clientId, client_secret: secret };
    return answer(await fetch(url, form(fields)));
  }

  async function api(
    method: string,
    sitePath: string,
    init: { body?: unknown; rawBody?: string; authorization?: string | null; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
    if (init.authorization !== null) headers.authorization = init.authorization ?? `CwsAuth Bearer=${token}`;
    if (init.body !== undefined || init.rawBody !== undefined) headers['content-type'] ??= 'application/json';
    const body = init.rawBody ?? (init.body === undefined ? undefined : JSON.stringify(init.body));
    const url = sitePath.startsWith('/')
      ? `${sim.baseUrl}${sitePath}`
      : `${sim.baseUrl}/${sim.customerId}/${sim.siteId}/${sitePath}`;
    return answer(await fetch(url, { method, headers, body }));
  }

  /** A call to the admin API over HTTP, with the admin token unless `authorization` says otherwise (null: none). */
  const admin = (method: string, adminPath: string, body?: unknown, authorization?: string | null) => {
    const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
    if (authorization !== null) headers.authorization = authorization ?? `Bearer ${sim.adminToken}`;
    return fetch(`${sim.adminUrl}/${adminPath}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(answer);
  };

  const readCatalog = async (catalogId: string) => (await api('GET', `catalogs/${catalogId}`)).body as CatalogRead;
  const updateImage = (catalogId: string, body: unknown) =>
    api('POST', `catalogs/${catalogId}/$updateImage?async=true`, { body });
  /** A raw GET of a site resource, for answers read as a stream. */
  const get = (sitePath: string, signal?: AbortSignal) =>
    fetch(`${sim.baseUrl}/${sim.customerId}/${sim.siteId}/${sitePath}`, {
      headers: { authorization: `CwsAuth Bearer=${token}`, accept: 'application/json' },
      signal,
    });
  /** Waits for the nth logged request of an operation (0-based). */
  async function logged(operation: string, nth = 0): Promise<RecordedRequest> {
    for (let i = 0; i < 250; i++) {
      const found = sim.requests().filter((request) => request.operation === operation)[nth];
      if (found) return found;
      await sleep(20);
    }
    return assert.fail(`request ${nth} of ${operation} never logged`);
  }

  before(async () => {
    sim = await startSimulator({ acceptLagMs: 100, updateDurationMs: 600 });
  });
  after(() => sim.close());
  beforeEach(async () => {
    sim.reset();
    token = ((await requestToken()).body as { access_token: string }).access_token;
  });

  describe('authentication', () => {
    test('issues a bearer token with expires_in as a string for the right client credentials', async () => {
      const { status, body } = await requestToken();
      assert.equal(status, 200);
      const { token_type, access_token, expires_in } = body as Record<string, unknown>;
      assert.equal(token_type, 'bearer');
      assert.equal(typeof access_token, 'string');
      assert.equal(expires_in, '3600');
      assert.ok(sim.issuedTokens().includes(access_token as string));
      const root = await requestToken(sim.tokenUrl.replace(`/${sim.customerId}/`, '/root/'));
      assert.equal(root.status, 200);
    });

    test('answers 400 invalid_client for a wrong secret or an unknown customer', async () => {
      const expected = { error: 'invalid_client', error_description: 'Invalid client id or client secret.' };
      const wrongSecret = await requestToken(sim.tokenUrl, 'not-the-secret');
      assert.deepEqual([wrongSecret.status, wrongSecret.body], [400, expected]);
      const otherCustomer = await requestToken(sim.tokenUrl.replace(sim.customerId, 'someone-else'));
      assert.deepEqual([otherCustomer.status, otherCustomer.body], [400, expected]);
    });

    test('answers 401 with the common error body for a missing, unknown or expired token', async () => {
      const missing = await api('GET', `/${sim.customerId}/sites`, { authorization: null });
      const unknown = await api('GET', `/${sim.customerId}/sites`, { authorization: 'CwsAuth Bearer=made-up' });
      sim.addFault({ action: { type: 'expireTokens' } });
      const expired = await api('GET', `/${sim.customerId}/sites`);
      for (const { status, body, headers } of [missing, unknown, expired]) {
        assert.equal(status, 401);
        assert.equal((body as { type: string }).type, 'https://errors-api.cloud.com/common/authentication');
        assert.equal((body as { detail: string }).detail, 'Missing or invalid authentication details');
        assert.ok(headers.get('citrix-transactionId'));
      }
      token = ((await requestToken()).body as { access_token: string }).access_token;
      assert.equal((await api('GET', `/${sim.customerId}/sites`)).status, 200, 'a fresh token works again');
    });

    test('accepts every spelling of the CwsAuth scheme that Citrix samples use', async () => {
      for (const scheme of ['CwsAuth Bearer=', 'CwsAuth bearer=', 'CWSAuth bearer=', 'cwsauth BEARER=']) {
        const { status } = await api('GET', `/${sim.customerId}/sites`, { authorization: `${scheme}${token}` });
        assert.equal(status, 200, scheme);
      }
    });
  });

  describe('strictness of Citrix Cloud', () => {
    const notAcceptable = {
      type: 'https://errors-api.cloud.com/common/notAcceptable',
      detail: 'Must accept application/json media type',
    };

    test('answers 406 in the common error model when Accept is missing or anything but application/json', async () => {
      const sitesUrl = `${sim.baseUrl}/${sim.customerId}/sites`;
      const authorization = `CwsAuth Bearer=${token}`;
      const missing = await rawRequest(sitesUrl, { headers: { authorization } });
      assert.deepEqual([missing.status, missing.body], [406, notAcceptable]);
      for (const accept of ['*/*', 'application/json; charset=utf-8', 'application/json, text/plain', 'text/html']) {
        const wrong = await api('GET', `/${sim.customerId}/sites`, { headers: { accept } });
        assert.deepEqual([wrong.status, wrong.body], [406, notAcceptable], accept);
      }
      assert.equal((await api('GET', `/${sim.customerId}/sites`)).status, 200, 'exactly application/json is served');

      const issued = sim.issuedTokens().length;
      const fields = { grant_type: 'client_credentials', client_id: sim.clientId, client_secret: sim.clientSecret };
      const oauth = await rawRequest(sim.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString(),
      });
      assert.deepEqual([oauth.status, oauth.body], [406, notAcceptable]);
      const gov = await fetch(sim.govTokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/plain' },
        body: JSON.stringify({ ClientId: sim.clientId, ClientSecret: sim.clientSecret }),
      }).then(answer);
      assert.deepEqual([gov.status, gov.body], [406, notAcceptable]);
      assert.equal(sim.issuedTokens().length, issued, 'no token was issued');
    });

    test('answers 400 invalid_request to a token request whose content type carries a charset', async () => {
      const issued = sim.issuedTokens().length;
      const fields = { grant_type: 'client_credentials', client_id: sim.clientId, client_secret: sim.clientSecret };
      const { status, body } = await fetch(sim.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', accept: 'application/json' },
        body: new URLSearchParams(fields).toString(),
      }).then(answer);
      assert.equal(status, 400);
      assert.equal((body as { error: string }).error, 'invalid_request');
      assert.equal(typeof (body as { error_description: unknown }).error_description, 'string');
      assert.equal(sim.issuedTokens().length, issued);
    });

    test('answers 403 Access denied in the common error model for an API path naming an unknown customer', async () => {
      const expected = {
        type: 'https://errors-api.cloud.com/common/authorization',
        detail: 'Access denied',
        parameters: [{ name: 'reason', value: 'User is not authenticated for the specified resource' }],
      };
      for (const sitePath of ['/nobody/sites', `/nobody/${sim.siteId}/catalogs/${catalogs.finance}`]) {
        const { status, body, headers } = await api('GET', sitePath);
        assert.deepEqual([status, body], [403, expected], sitePath);
        assert.ok(headers.get('citrix-transactionId'));
      }
    });

    test('token answers carry an X-Cws-TransactionId GUID, in both flows; API answers do not', async () => {
      const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
      const oauth = await requestToken();
      const refused = await requestToken(sim.tokenUrl, 'not-the-secret');
      const gov = await fetch(sim.govTokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ ClientId: sim.clientId, ClientSecret: sim.clientSecret }),
      }).then(answer);
      assert.deepEqual([oauth.status, refused.status, gov.status], [200, 400, 200]);
      const ids = [oauth, refused, gov].map(({ headers }) => headers.get('x-cws-transactionid') ?? '');
      for (const id of ids) assert.match(id, guid);
      assert.equal(new Set(ids).size, 3, 'a new one for every answer');
      assert.equal((await api('GET', 'catalogs')).headers.get('x-cws-transactionid'), null);
    });

    test('the US Gov token flow issues, for JSON credentials, a token that the API takes as CWSAuth bearer=', async () => {
      assert.equal(sim.govTokenUrl, `${new URL(sim.baseUrl).origin}/${sim.customerId}/tokens/clients`);
      assert.deepEqual(sim.govClientOptions(), {
        ...sim.clientOptions(),
        tokenUrl: sim.govTokenUrl,
        authFlow: 'cctrust',
      });
      const { status, headers, body } = await fetch(sim.govTokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ ClientId: sim.clientId, ClientSecret: sim.clientSecret }),
      }).then(answer);
      assert.equal(status, 200);
      assert.match(headers.get('content-type') ?? '', /^application\/json/);
      const answered = body as Record<string, unknown>;
      assert.deepEqual(Object.keys(answered).sort(), ['CustomerId', 'ExpiresAt', 'Principal', 'Token', 'UserId']);
      assert.equal(answered.CustomerId, sim.customerId);
      assert.equal(answered.ExpiresAt, 3600, 'seconds from now, as the token lifetime');
      assert.equal(typeof answered.Principal, 'string');
      assert.equal(typeof answered.UserId, 'string');
      const govToken = answered.Token as string;
      assert.ok(sim.issuedTokens().includes(govToken));
      const sites = await api('GET', `/${sim.customerId}/sites`, { authorization: `CWSAuth bearer=${govToken}` });
      assert.equal(sites.status, 200);
      const logged = sim.requests().filter((request) => request.operation === 'token');
      assert.equal(logged.at(-1)?.path, `/${sim.customerId}/tokens/clients`);
    });

    test('the US Gov token flow refuses wrong credentials with 401 and a body that is not JSON with 400', async () => {
      const issued = sim.issuedTokens().length;
      const gov = (body: string, contentType = 'application/json', url = sim.govTokenUrl) =>
        fetch(url, { method: 'POST', headers: { 'content-type': contentType, accept: 'application/json' }, body }).then(
          answer,
        );
      const wrongBody = { Error: { Message: 'Invalid client id or client secret.', Type: 'CWSAuthException' } };
      const credentials = (secret: string) => JSON.stringify({ ClientId: sim.clientId, ClientSecret: secret });
      const wrongSecret = await gov(credentials('not-the-secret'));
      assert.deepEqual([wrongSecret.status, wrongSecret.body], [401, wrongBody]);
      const otherCustomer = await gov(
        credentials(sim.clientSecret),
        'application/json',
        sim.govTokenUrl.replace(sim.customerId, 'someone-else'),
      );
      assert.deepEqual([otherCustomer.status, otherCustomer.body], [401, wrongBody]);

      const fields = { client_id: sim.clientId, client_secret: sim.clientSecret };
      const notJson: [string, string][] = [
        [new URLSearchParams(fields).toString(), 'application/x-www-form-urlencoded'],
        [credentials(sim.clientSecret), 'text/plain'],
        [credentials(sim.clientSecret), 'application/json; charset=utf-8'],
        ['{"ClientId": ', 'application/json'],
        ['[]', 'application/json'],
        [JSON.stringify({ ClientId: sim.clientId }), 'application/json'],
      ];
      for (const [body, contentType] of notJson) {
        const refused = await gov(body, contentType);
        assert.equal(refused.status, 400, `${contentType} ${body}`);
        assert.equal((refused.body as typeof wrongBody).Error.Type, 'CWSAuthException');
      }
      assert.equal(sim.issuedTokens().length, issued, 'no token was issued');
      const get = await fetch(sim.govTokenUrl, { headers: { accept: 'application/json' } });
      assert.deepEqual([get.status, get.headers.get('allow')], [405, 'POST']);
    });
  });

  describe('reads', () => {
    test('every read answers a body that matches the OpenAPI schema', async () => {
      const sites = await api('GET', `/${sim.customerId}/sites`);
      assertMatchesSchema('SitesOverview', sites.body);
      assert.deepEqual(
        (sites.body as { items: { id: string }[] }).items.map((site) => site.id),
        [SEED_IDS.siteId],
      );

      const list = await api('GET', 'catalogs');
      assertMatchesSchema('CustomerCatalogOverviewsModel', list.body);
      const items = (list.body as { items: CatalogRead[] }).items;
      assert.equal(items.length, Object.keys(catalogs).length);
      assert.ok(items.filter((catalog) => catalog.state === 'Active').length >= 6);
      assert.ok(items.every((catalog) => catalog.imageId === images.win11Oct));

      for (const catalogId of Object.values(catalogs)) {
        assertMatchesSchema('CatalogOverview', await readCatalog(catalogId));
        assertMatchesSchema('CatalogStatusOverview', (await api('GET', `catalogs/${catalogId}/updateStatus`)).body);
      }

      const imageList = await api('GET', 'images');
      assertMatchesSchema('CustomerTemplateImageOverviewsModel', imageList.body);
      for (const imageId of Object.values(images)) {
        const { status, body } = await api('GET', `images/${imageId}`);
        assert.equal(status, 200);
        assertMatchesSchema('TemplateImageDetails', body);
      }
      const october = (await api('GET', `images/${images.win11Oct}`)).body as { catalogs: { catalogId: string }[] };
      assert.equal(october.catalogs.length, Object.keys(catalogs).length);
    });

    test('lists a Ready, current Citrix-prepared image, older than the newest customer image', async () => {
      const { items } = (await api('GET', 'images')).body as {
        items: { id: string; state: string; citrixPrepared: boolean; isDeprecated: boolean; createdDate: string }[];
      };
      assert.equal(items.length, Object.keys(images).length);
      const citrix = items.find((image) => image.id === images.citrixWin11);
      assert.ok(citrix, 'listed');
      assert.deepEqual([citrix.state, citrix.citrixPrepared, citrix.isDeprecated], ['Ready', true, false]);
      const customer = items.filter((image) => !image.citrixPrepared && image.state === 'Ready');
      const newest =
        customer
          .map((image) => image.createdDate)
          .sort()
          .at(-1) ?? '';
      assert.ok(citrix.createdDate < newest, 'the newest Ready image stays a customer one');
      assert.equal(((await api('GET', `images/${images.citrixWin11}`)).body as { state: string }).state, 'Ready');
    });

    test('echoes the caller’s Citrix-TransactionId and invents one otherwise', async () => {
      const sent = '0f3e7c1a-1111-4222-8333-944455556666';
      const echoed = await api('GET', 'catalogs', { headers: { 'Citrix-TransactionId': sent } });
      assert.equal(echoed.headers.get('citrix-transactionId'), sent);
      const invented = await api('GET', 'catalogs');
      assert.match(invented.headers.get('citrix-transactionId') ?? '', /^[0-9a-f-]{36}$/);
    });

    test('answers 404 with a message naming the unknown site, catalog, image or route', async () => {
      const unknownId = '00000000-0000-4000-a000-0000000000ff';
      const cases: [string, string][] = [
        [`/${sim.customerId}/${unknownId}/catalogs`, unknownId],
        [`catalogs/${unknownId}`, unknownId],
        [`images/${unknownId}`, unknownId],
        [`/${sim.customerId}/${sim.siteId}/widgets`, 'widgets'],
      ];
      for (const [sitePath, named] of cases) {
        const { status, body } = await api('GET', sitePath);
        assert.equal(status, 404, sitePath);
        assert.match((body as { message: string }).message, new RegExp(named));
      }
    });
  });

  describe('image updates', () => {
    test('an accepted update reads unchanged during the lag, then Processing with rising progress, then Active on the new image', async () => {
      const before = await readCatalog(catalogs.finance);
      const accepted = await updateImage(catalogs.finance, { templateId: images.win11Nov, vdaUpdateDelay: 0 });
      assert.equal(accepted.status, 202);
      assert.equal(accepted.body, catalogs.finance);
      assert.match(accepted.headers.get('location') ?? '', new RegExp(`/catalogs/${catalogs.finance}/updateStatus$`));
      const transactionId = accepted.headers.get('citrix-transactionId');

      assert.deepEqual(await readCatalog(catalogs.finance), before, 'reads exactly as before right after the 202');
      const reads: CatalogRead[] = [];
      for (;;) {
        const catalog = await readCatalog(catalogs.finance);
        assertMatchesSchema('CatalogOverview', catalog);
        reads.push(catalog);
        if (catalog.state === 'Active' && catalog.imageId === images.win11Nov) break;
        assert.ok(reads.length < 500, 'the update finishes');
        await sleep(15);
      }
      const processing = reads.filter((catalog) => catalog.state === 'Processing');
      assert.ok(processing.length >= 4, `saw ${processing.length} Processing reads`);
      const percentages = processing.map((catalog) => catalog.taskCompletionPercentage as number);
      assert.deepEqual(
        percentages,
        [...percentages].sort((a, b) => a - b),
      );
      assert.ok(percentages.every((percent) => percent >= 0 && percent <= 99));
      const subStates = [...new Set(processing.map((catalog) => catalog.subState))];
      const order = [
        'ProcessingProvisioningMasterImage',
        'ProcessingVerifyingMasterImage',
        'ProcessingVdaCopyingMasterImage',
        'ProcessingVdaUpdatingCitrixServers',
      ];
      assert.ok(subStates.length >= 3, `sub-states ${subStates.join(', ')}`);
      assert.deepEqual(
        subStates,
        order.filter((subState) => subStates.includes(subState)),
      );
      assert.ok(
        processing.every((catalog) => catalog.transactionId === transactionId && catalog.imageId === images.win11Oct),
      );

      const done = reads.at(-1) as CatalogRead;
      assert.equal(done.taskCompletionPercentage, 100);
      assert.equal(done.templateImageName, 'Win11 24H2 November');
      assert.ok(Date.parse(done.lastModifiedTime as string) > Date.parse(before.lastModifiedTime as string));
      const november = (await api('GET', `images/${images.win11Nov}`)).body as { linkedCatalogs: number };
      assert.equal(november.linkedCatalogs, 1);
    });

    test('accepts camelCase and PascalCase bodies, and the legacy updateImage answers 200', async () => {
      const camel = await updateImage(catalogs.finance, {
        templateId: images.win11Nov,
        citrixPrepared: false,
        vdaUpdateDelay: -1,
      });
      const pascal = await updateImage(catalogs.engineering, {
        TemplateId: images.win11Dec,
        CitrixPrepared: false,
        VdaUpdateDelay: 30,
        WarningTitle: 'Maintenance',
        WarningMessage: 'Restarting in %m% minutes',
      });
      const legacy = await api('POST', `catalogs/${catalogs.callCenter}/updateImage`, {
        body: { templateId: images.win11Nov },
      });
      assert.deepEqual([camel.status, pascal.status, legacy.status], [202, 202, 200]);
      assert.equal(legacy.body, catalogs.callCenter);
      sim.completeUpdate(catalogs.engineering);
      assert.equal((await readCatalog(catalogs.engineering)).imageId, images.win11Dec);
    });

    test('an InputRequired catalog may be updated and returns to InputRequired', async () => {
      assert.equal((await updateImage(catalogs.contractors, { templateId: images.win11Nov })).status, 202);
      sim.completeUpdate(catalogs.contractors);
      const catalog = await readCatalog(catalogs.contractors);
      assert.deepEqual([catalog.state, catalog.imageId], ['InputRequired', images.win11Nov]);
    });

    test('rejects a malformed or invalid body with 400 naming the problem', async () => {
      const cases: [{ body?: unknown; rawBody?: string }, RegExp][] = [
        [{ body: { templateId: images.win11Nov, rebootNow: true } }, /rebootNow/],
        [{ body: { citrixPrepared: false } }, /templateId/],
        [{ body: { templateId: images.win11Nov, vdaUpdateDelay: -2 } }, /vdaUpdateDelay/],
        [{ body: { templateId: images.win11Nov, vdaUpdateDelay: 1.5 } }, /vdaUpdateDelay/],
        [{ rawBody: '{"templateId": ' }, /JSON/],
      ];
      for (const [init, message] of cases) {
        const { status, body } = await api('POST', `catalogs/${catalogs.finance}/$updateImage?async=true`, init);
        assert.equal(status, 400, JSON.stringify(init));
        assert.match((body as { message: string }).message, message);
      }
      assert.equal((await readCatalog(catalogs.finance)).imageId, images.win11Oct);
    });

    test('answers 404 for an unknown image or catalog and 400 naming the state of an image that is not Ready', async () => {
      const unknownId = '00000000-0000-4000-a000-0000000000ff';
      const noImage = await updateImage(catalogs.finance, { templateId: unknownId });
      assert.equal(noImage.status, 404);
      assert.match((noImage.body as { message: string }).message, new RegExp(unknownId));
      assert.equal((await updateImage(unknownId, { templateId: images.win11Nov })).status, 404);

      const importing = await updateImage(catalogs.finance, { templateId: images.importing });
      assert.equal(importing.status, 400);
      assert.match((importing.body as { message: string }).message, /Importing/);
    });

    test('refuses a catalog that is not Active or InputRequired with 400 naming its state', async () => {
      sim.patchCatalog(catalogs.sales, { state: 'Deleting' });
      const deleting = await updateImage(catalogs.sales, { templateId: images.win11Nov });
      assert.equal(deleting.status, 400);
      assert.match((deleting.body as { message: string }).message, /state Deleting/);

      sim.setTiming({ acceptLagMs: 0, updateDurationMs: 60_000 });
      assert.equal((await updateImage(catalogs.legal, { templateId: images.win11Nov })).status, 202);
      const busy = await updateImage(catalogs.legal, { templateId: images.win11Dec });
      assert.equal(busy.status, 400);
      assert.match(
        (busy.body as { message: string }).message,
        /state Processing \(SubState ProcessingProvisioningMasterImage\)/,
      );
    });

    test('a second update accepted during the lag restarts the update with the new image', async () => {
      sim.setTiming({ acceptLagMs: 5_000, updateDurationMs: 60_000 });
      assert.equal((await updateImage(catalogs.finance, { templateId: images.win11Nov })).status, 202);
      assert.equal((await updateImage(catalogs.finance, { templateId: images.win11Dec })).status, 202);
      sim.completeUpdate(catalogs.finance);
      assert.equal((await readCatalog(catalogs.finance)).imageId, images.win11Dec);
      const posts = sim.requests().filter((request) => request.operation === 'updateImage');
      assert.deepEqual(
        posts.map((request) => [request.status, request.query]),
        [
          [202, 'async=true'],
          [202, 'async=true'],
        ],
      );
    });

    test('refuses a citrixPrepared that does not match the image with 400 naming it, and takes a match', async () => {
      const citrixImage = `Citrix Windows 11 Enterprise multi-session 24H2 \\(${images.citrixWin11}\\)`;
      const cases: [unknown, RegExp][] = [
        [
          { templateId: images.citrixWin11, citrixPrepared: false },
          new RegExp(`${citrixImage} is a Citrix-prepared image: citrixPrepared must be true`),
        ],
        [{ templateId: images.citrixWin11 }, /is a Citrix-prepared image: citrixPrepared must be true/],
        [
          { templateId: images.win11Nov, citrixPrepared: true },
          new RegExp(
            `Win11 24H2 November \\(${images.win11Nov}\\) is not a Citrix-prepared image: citrixPrepared must be false`,
          ),
        ],
      ];
      for (const [body, message] of cases) {
        const refused = await updateImage(catalogs.finance, body);
        assert.equal(refused.status, 400, JSON.stringify(body));
        assert.match((refused.body as { message: string }).message, message);
      }
      assert.equal((await readCatalog(catalogs.finance)).imageId, images.win11Oct);
      const citrix = await updateImage(catalogs.finance, { templateId: images.citrixWin11, citrixPrepared: true });
      const customer = await updateImage(catalogs.hr, { templateId: images.win11Nov, citrixPrepared: false });
      const omitted = await updateImage(catalogs.sales, { templateId: images.win11Nov });
      assert.deepEqual([citrix.status, customer.status, omitted.status], [202, 202, 202]);
      sim.completeUpdate(catalogs.finance);
      assert.equal((await readCatalog(catalogs.finance)).imageId, images.citrixWin11);
    });

    describe('machines restarting onto the new image', () => {
      const pendingType = 'PendingVdaUpdate';
      const warningsOf = (catalog: CatalogRead) => (catalog.warnings ?? []) as Record<string, unknown>[];
      const pendingOf = (catalog: CatalogRead) => warningsOf(catalog).filter((warning) => warning.type === pendingType);
      /** Accepts an update and finishes it at once. */
      async function updateNow(catalogId: string, vdaUpdateDelay?: number): Promise<CatalogRead> {
        const body =
          vdaUpdateDelay === undefined
            ? { templateId: images.win11Nov }
            : { templateId: images.win11Nov, vdaUpdateDelay };
        assert.equal((await updateImage(catalogId, body)).status, 202);
        sim.completeUpdate(catalogId);
        return readCatalog(catalogId);
      }

      test('vdaUpdateDelay -1 leaves Active on the new image with PendingVdaUpdate until restartMachines', async () => {
        sim.setTiming({ acceptLagMs: 0, machineRestartMs: null });
        const catalog = await updateNow(catalogs.finance, -1);
        assertMatchesSchema('CatalogOverview', catalog);
        assert.deepEqual(
          [
            catalog.state,
            catalog.subState,
            catalog.imageId,
            catalog.templateImageName,
            catalog.taskCompletionPercentage,
          ],
          ['Active', null, images.win11Nov, 'Win11 24H2 November', 100],
        );
        assert.deepEqual(pendingOf(catalog), [
          {
            type: pendingType,
            isDismissible: false,
            warningMessage: 'Machines will update to the new image at their next restart.',
            isError: false,
          },
        ]);
        const status = (await api('GET', `catalogs/${catalogs.finance}/updateStatus`)).body as CatalogRead;
        assertMatchesSchema('CatalogStatusOverview', status);
        assert.equal(pendingOf(status).length, 1);
        const listed = ((await api('GET', 'catalogs')).body as { items: CatalogRead[] }).items;
        assert.equal(pendingOf(listed.find((item) => item.id === catalogs.finance) as CatalogRead).length, 1);
        await sleep(300);
        assert.equal(
          pendingOf(await readCatalog(catalogs.finance)).length,
          1,
          'machineRestartMs null: never by itself',
        );

        sim.restartMachines(catalogs.finance);
        const restarted = await readCatalog(catalogs.finance);
        assert.deepEqual(pendingOf(restarted), []);
        assert.deepEqual([restarted.state, restarted.imageId], ['Active', images.win11Nov]);

        const omitted = await updateNow(catalogs.hr);
        assert.equal(pendingOf(omitted).length, 1, 'an omitted vdaUpdateDelay is -1');
        const overHttp = await admin('POST', `catalogs/${catalogs.hr}/restartMachines`);
        assert.equal(overHttp.status, 200);
        assert.deepEqual(pendingOf(overHttp.body as CatalogRead), []);
        assert.deepEqual(pendingOf(await readCatalog(catalogs.hr)), []);
        assert.equal(
          (await admin('POST', `catalogs/00000000-0000-4000-a000-0000000000ff/restartMachines`)).status,
          404,
        );
        assert.throws(() => sim.restartMachines('00000000-0000-4000-a000-0000000000ff'));
      });

      test('vdaUpdateDelay -1: the warning clears by itself machineRestartMs after the update finished', async () => {
        const settings = await admin('POST', 'settings', { acceptLagMs: 0, machineRestartMs: 300 });
        assert.equal((settings.body as { machineRestartMs: number }).machineRestartMs, 300);
        const catalog = await updateNow(catalogs.finance, -1);
        assert.equal(pendingOf(catalog).length, 1);
        await sleep(450);
        const later = await readCatalog(catalogs.finance);
        assert.deepEqual(pendingOf(later), []);
        assert.deepEqual([later.state, later.imageId], ['Active', images.win11Nov]);
        const never = await admin('POST', 'settings', { machineRestartMs: null, minuteMs: 50 });
        assert.deepEqual(
          [(never.body as Record<string, unknown>).machineRestartMs, (never.body as Record<string, unknown>).minuteMs],
          [null, 50],
        );
        assert.equal((await admin('POST', 'settings', { minuteMs: -1 })).status, 400);
        assert.equal((await admin('POST', 'settings', { machineRestartMs: 'soon' })).status, 400);
      });

      test('vdaUpdateDelay N spreads the restarts over N simulated minutes, and 0 restarts every machine now', async () => {
        sim.setTiming({ acceptLagMs: 0, minuteMs: 200 });
        const spread = await updateNow(catalogs.finance, 2);
        assertMatchesSchema('CatalogOverview', spread);
        const [warning] = pendingOf(spread);
        assert.deepEqual([warning?.isError, warning?.isDismissible], [false, false]);
        assert.match(String(warning?.warningMessage), /2 minutes/);
        assert.equal(spread.subState, null);
        await sleep(150);
        assert.equal(pendingOf(await readCatalog(catalogs.finance)).length, 1, 'still restarting after 150 ms');
        await sleep(450);
        assert.deepEqual(pendingOf(await readCatalog(catalogs.finance)), [], 'done after 2 × 200 ms');

        const now = await updateNow(catalogs.hr, 0);
        assert.deepEqual([now.state, now.imageId, pendingOf(now)], ['Active', images.win11Nov, []]);
      });

      test('a new update replaces the restarts still pending, and a patch cancels them', async () => {
        sim.setTiming({ acceptLagMs: 0, machineRestartMs: null });
        assert.equal(pendingOf(await updateNow(catalogs.finance, -1)).length, 1);
        const again = await updateNow(catalogs.finance, 0);
        assert.deepEqual(pendingOf(again), [], 'the second update restarted every machine');
        assert.equal(pendingOf(await updateNow(catalogs.hr, -1)).length, 1);
        sim.patchCatalog(catalogs.hr, { numOfUsers: 1 });
        assert.deepEqual(pendingOf(await readCatalog(catalogs.hr)), []);
      });
    });

    test('with an infinite duration an update stays Processing until completeUpdate', async () => {
      sim.setTiming({ acceptLagMs: 0, updateDurationMs: Infinity });
      await updateImage(catalogs.finance, { templateId: images.win11Nov });
      await sleep(50);
      assert.equal((await readCatalog(catalogs.finance)).state, 'Processing');
      sim.completeUpdate(catalogs.finance);
      const catalog = await readCatalog(catalogs.finance);
      assert.deepEqual([catalog.state, catalog.imageId], ['Active', images.win11Nov]);
    });
  });

  describe('faults', () => {
    test('a 429 fault carries Retry-After and the retryDelay parameter, then the call succeeds', async () => {
      sim.addFault({
        match: { operation: 'catalog', catalogId: catalogs.finance },
        action: { type: 'status', status: 429, retryAfterSeconds: 3, retryDelaySeconds: 4 },
      });
      assert.equal(
        (await api('GET', `catalogs/${catalogs.engineering}`)).status,
        200,
        'another catalog is not matched',
      );
      const limited = await api('GET', `catalogs/${catalogs.finance}`);
      assert.equal(limited.status, 429);
      assert.equal(limited.headers.get('retry-after'), '3');
      assert.equal(limited.headers.get('citrix-transactionId'), null, 'a gateway answer carries none');
      const { type, parameters } = limited.body as { type: string; parameters: unknown };
      assert.equal(type, 'https://errors-api.cloud.com/common/rateLimitExceeded');
      assert.deepEqual(parameters, [{ name: 'retryDelay', value: '4' }]);
      assert.equal((await api('GET', `catalogs/${catalogs.finance}`)).status, 200, 'times defaults to 1');
    });

    test('a reset fault destroys the socket without an answer', async () => {
      sim.addFault({ match: { operation: 'sites' }, action: { type: 'reset' } });
      await assert.rejects(api('GET', `/${sim.customerId}/sites`), TypeError);
      assert.equal((await api('GET', `/${sim.customerId}/sites`)).status, 200);
      assert.equal(sim.requests().find((request) => request.operation === 'sites')?.status, 0);
    });

    test('acceptThenReset applies an update but destroys the socket; the log shows it accepted at once', async () => {
      const fault = sim.addFault({ match: { operation: 'updateImage' }, action: { type: 'acceptThenReset' } });
      assert.equal(sim.faults()[0]?.id, fault);
      await assert.rejects(updateImage(catalogs.finance, { templateId: images.win11Nov }), TypeError);
      assert.deepEqual(sim.faults(), [], 'the fault applied once');
      const logged = sim.requests().find((request) => request.operation === 'updateImage');
      assert.equal(logged?.status, 0);
      assert.equal(logged?.withheldStatus, 202);
      sim.completeUpdate(catalogs.finance);
      assert.equal((await readCatalog(catalogs.finance)).imageId, images.win11Nov, 'the update took effect');
    });

    test('acceptThenStall applies an update and never answers, and a fault can be removed before it applies', async () => {
      const unused = sim.addFault({ match: { operation: 'images' }, times: null, action: { type: 'reset' } });
      assert.equal(sim.removeFault(unused), true);
      assert.equal(sim.removeFault(unused), false);
      sim.addFault({ match: { operation: 'updateImage' }, action: { type: 'acceptThenStall' } });
      const stalled = updateImage(catalogs.finance, { templateId: images.win11Nov });
      const outcome = await Promise.race([stalled.then(() => 'answered'), sleep(500).then(() => 'stalled')]);
      assert.equal(outcome, 'stalled');
      assert.equal(sim.requests().find((request) => request.operation === 'updateImage')?.withheldStatus, 202);
      sim.completeUpdate(catalogs.finance);
      assert.equal((await readCatalog(catalogs.finance)).imageId, images.win11Nov, 'the update took effect');
      assert.equal((await api('GET', 'images')).status, 200, 'the removed fault never applied');
      stalled.catch(() => undefined);
    });

    test('a latency fault delays the answer, then answers normally', async () => {
      sim.addFault({ match: { operation: 'images' }, times: 2, action: { type: 'latency', ms: 300 } });
      for (let i = 0; i < 2; i++) {
        const started = Date.now();
        assert.equal((await api('GET', 'images')).status, 200);
        assert.ok(Date.now() - started >= 290, `answered after ${Date.now() - started} ms`);
      }
      const started = Date.now();
      await api('GET', 'images');
      assert.ok(Date.now() - started < 290);
    });

    test('failNextUpdate ends the next update in Error with its sub-state, message and a warning, on the old image', async () => {
      sim.addFault({
        match: { catalogId: catalogs.finance },
        action: {
          type: 'failNextUpdate',
          subState: 'ErrorMasterImageProvisioningFailed',
          statusMessage: 'Disk copy failed',
        },
      });
      const accepted = await updateImage(catalogs.finance, { templateId: images.win11Nov });
      let catalog: CatalogRead;
      do {
        await sleep(20);
        catalog = await readCatalog(catalogs.finance);
        assertMatchesSchema('CatalogOverview', catalog);
      } while (catalog.state !== 'Error');
      assert.equal(catalog.subState, 'ErrorMasterImageProvisioningFailed');
      assert.equal(catalog.statusMessage, 'Disk copy failed');
      assert.equal(catalog.imageId, images.win11Oct);
      assert.equal(catalog.taskCompletionPercentage, 50);
      assert.equal(catalog.transactionId, accepted.headers.get('citrix-transactionId'));
      assert.ok((catalog.warnings as { isError: boolean }[]).some((warning) => warning.isError));
      const status = (await api('GET', `catalogs/${catalogs.finance}/updateStatus`)).body;
      assertMatchesSchema('CatalogStatusOverview', status);
      assert.equal((status as { state: string }).state, 'Error');

      await updateImage(catalogs.engineering, { templateId: images.win11Nov });
      sim.completeUpdate(catalogs.engineering);
      assert.equal((await readCatalog(catalogs.engineering)).state, 'Active', 'the fault applied once');
    });

    test('failNextUpdate with endState Active returns the catalog to its previous image with an ImageRollback error warning', async () => {
      sim.addFault({
        match: { catalogId: catalogs.finance },
        action: { type: 'failNextUpdate', endState: 'Active', statusMessage: 'Disk copy failed', atPercent: 40 },
      });
      const accepted = await updateImage(catalogs.finance, { templateId: images.win11Nov, vdaUpdateDelay: -1 });
      assert.equal(accepted.status, 202);
      const reads: CatalogRead[] = [];
      let catalog: CatalogRead;
      do {
        await sleep(15);
        catalog = await readCatalog(catalogs.finance);
        assertMatchesSchema('CatalogOverview', catalog);
        reads.push(catalog);
        assert.ok(reads.length < 500, 'the update fails');
      } while (catalog.state !== 'Active' || (catalog.warnings as unknown[]).length === 0);
      assert.ok(
        reads.some((read) => read.state === 'Processing'),
        'it was processing first',
      );
      assertMatchesSchema('CatalogOverview', catalog);
      assert.deepEqual(
        [catalog.state, catalog.subState, catalog.imageId, catalog.templateImageName, catalog.statusMessage],
        ['Active', null, images.win11Oct, 'Win11 24H2 October', 'Disk copy failed'],
      );
      assert.equal(catalog.transactionId, accepted.headers.get('citrix-transactionId'));
      const [warning, ...others] = catalog.warnings as Record<string, unknown>[];
      assert.deepEqual(others, [], 'no PendingVdaUpdate: no machine took the new image');
      assert.deepEqual([warning?.type, warning?.isDismissible, warning?.isError], ['ImageRollback', true, true]);
      assert.match(String(warning?.warningMessage), /failed; the catalog keeps its previous image/);
      assert.equal((await updateImage(catalogs.finance, { templateId: images.win11Dec })).status, 202, 'Active again');
      assert.throws(() => sim.addFault({ action: { type: 'failNextUpdate' } }), /subState/);
    });
  });

  describe('faults that break the answer', () => {
    test('a 429, 502 or 504 status fault carries no citrix-transactionId, others do, and transactionId overrides it', async () => {
      const cases: [number, boolean | undefined, boolean][] = [
        [429, undefined, false],
        [502, undefined, false],
        [504, undefined, false],
        [400, undefined, true],
        [503, undefined, true],
        [502, true, true],
        [400, false, false],
      ];
      for (const [status, transactionId, carries] of cases) {
        sim.addFault({ match: { operation: 'sites' }, action: { type: 'status', status, transactionId } });
        const faulted = await api('GET', `/${sim.customerId}/sites`);
        assert.equal(faulted.status, status);
        assert.equal(faulted.headers.get('citrix-transactionId') !== null, carries, `${status} ${transactionId}`);
        assert.equal(sim.requests().at(-1)?.transactionId !== undefined, carries, 'the log says the same');
      }
      sim.addFault({ match: { operation: 'token' }, action: { type: 'status', status: 502 } });
      const gateway = await requestToken();
      assert.equal(gateway.status, 502);
      assert.equal(gateway.headers.get('x-cws-transactionid'), null);
    });

    test('a status fault answers in the service, common or auth shape, or as text, with retryDelay as an array or an object', async () => {
      const faulted = async (action: Record<string, unknown>) => {
        sim.addFault({ match: { operation: 'catalogs' }, action: { type: 'status', status: 503, ...action } as never });
        return api('GET', 'catalogs');
      };
      const common = await faulted({ retryDelaySeconds: 4 });
      assert.deepEqual(common.body, {
        type: 'https://errors-api.cloud.com/common/serviceUnavailable',
        detail: 'Service is unavailable; try again in 4 seconds',
        parameters: [{ name: 'retryDelay', value: '4' }],
      });
      const asObject = await faulted({ shape: 'common', retryDelaySeconds: 4, retryDelayAs: 'object' });
      assert.deepEqual((asObject.body as { parameters: unknown }).parameters, { retryDelay: '4' });
      const service = await faulted({ shape: 'service' });
      assert.deepEqual(service.body, { message: 'Service is unavailable' });
      const auth = await faulted({ shape: 'auth' });
      assert.deepEqual(auth.body, { Error: { Message: 'Service is unavailable', Type: 'CWSAuthException' } });
      const text = await faulted({ shape: 'text' });
      assert.match(text.headers.get('content-type') ?? '', /^text\/plain/);
      assert.equal(text.body, '503 Service Unavailable');
      for (const { status } of [common, asObject, service, auth, text]) assert.equal(status, 503);

      for (const [status, type] of [
        [406, 'notAcceptable'],
        [409, 'invalidJson'],
        [507, 'internalServerError'],
      ] as const) {
        sim.addFault({ match: { operation: 'catalogs' }, action: { type: 'status', status } });
        const body = (await api('GET', 'catalogs')).body as { type: string };
        assert.equal(body.type, `https://errors-api.cloud.com/common/${type}`, 'only type names Citrix has');
      }
      assert.throws(
        () => sim.addFault({ action: { type: 'status', status: 503, retryDelayAs: 'object' } }),
        /retryDelaySeconds/,
      );
      assert.throws(
        () =>
          sim.addFault({
            action: { type: 'status', status: 503, shape: 'service', retryDelaySeconds: 4, retryDelayAs: 'array' },
          }),
        /common/,
      );
      assert.throws(() => sim.addFault({ action: { type: 'status', status: 503, shape: 'html' as never } }), /shape/);
    });

    test('a status fault can answer 200 with a wrong-typed JSON body, as application/json', async () => {
      sim.addFault({
        match: { operation: 'catalogs' },
        action: { type: 'status', status: 200, body: { items: 'not a list' } },
      });
      const { status, headers, body } = await api('GET', 'catalogs');
      assert.equal(status, 200);
      assert.match(headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(body, { items: 'not a list' });
      const added = await admin('POST', 'faults', {
        match: { operation: 'sites' },
        action: { type: 'status', status: 200, body: [1, 'two', null] },
      });
      assert.equal(added.status, 201);
      assert.deepEqual((await api('GET', `/${sim.customerId}/sites`)).body, [1, 'two', null]);
    });

    test('an echo fault quotes the request back: the form-encoded client secret, the Authorization header, the body', async () => {
      sim.addFault({ match: { operation: 'token' }, action: { type: 'echo', status: 502 } });
      const quoted = await requestToken();
      assert.equal(quoted.status, 502);
      assert.match(quoted.headers.get('content-type') ?? '', /^text\/plain/);
      const text = quoted.body as string;
      assert.ok(text.startsWith(`POST /cctrustoauth2/${sim.customerId}/tokens/clients HTTP/1.1\r\n`), text);
      assert.match(text, /^content-type: application\/x-www-form-urlencoded\r$/im);
      const secret = new URLSearchParams({ client_secret: sim.clientSecret }).toString();
      assert.ok(text.endsWith(`\r\n\r\ngrant_type=client_credentials&client_id=${sim.clientId}&${secret}`), text);

      sim.addFault({ match: { operation: 'updateImage' }, action: { type: 'echo', status: 403, json: true } });
      const sent = { templateId: images.win11Nov };
      const echoed = await updateImage(catalogs.finance, sent);
      assert.equal(echoed.status, 403);
      assert.match(echoed.headers.get('content-type') ?? '', /^application\/json/);
      const { message, request } = echoed.body as {
        message: string;
        request: { headers: Record<string, string>; body: string };
      };
      assert.equal(request.headers.authorization, `CwsAuth Bearer=${token}`);
      assert.equal(request.body, JSON.stringify(sent));
      assert.ok(message.includes(`\r\nauthorization: CwsAuth Bearer=${token}\r\n`), message);
      assert.ok(message.endsWith(`\r\n\r\n${JSON.stringify(sent)}`), message);
      sim.completeUpdate(catalogs.finance);
      assert.equal((await readCatalog(catalogs.finance)).imageId, images.win11Oct, 'the update was not applied');
    });

    test('a hugeBody fault streams exactly the bytes asked for as JSON, with no content-length', async () => {
      const bytes = 5_000_000;
      sim.addFault({ match: { operation: 'catalogs' }, action: { type: 'hugeBody', bytes } });
      const response = await get('catalogs');
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(response.headers.get('content-length'), null);
      const received = Buffer.from(await response.arrayBuffer());
      assert.equal(received.length, bytes);
      const { items } = JSON.parse(received.toString('utf8')) as { items: { id: string; name: string }[] };
      assert.ok(items.length > 50_000, `${items.length} items`);
      assert.equal(new Set(items.map((item) => item.id)).size, items.length, 'every id differs');
      assert.equal((await logged('catalogs')).streamedBytes, bytes);

      for (const [nth, size] of [0, 7, 12, 20, 200, 65_537].entries()) {
        sim.addFault({ match: { operation: 'images' }, action: { type: 'hugeBody', bytes: size, status: 503 } });
        const small = await get('images');
        const text = await small.text();
        assert.deepEqual([small.status, text.length], [503, size]);
        if (size >= 12) assert.ok(Array.isArray((JSON.parse(text) as { items: unknown }).items), text.slice(0, 100));
        assert.equal((await logged('images', nth)).streamedBytes, size);
      }
      assert.throws(() => sim.addFault({ action: { type: 'hugeBody', bytes: 2 ** 30 + 1 } }), /bytes/);
    });

    test('a hugeBody fault stops writing as soon as the client goes away', async () => {
      sim.addFault({ match: { operation: 'catalogs' }, action: { type: 'hugeBody', bytes: 2 ** 30 } });
      const controller = new AbortController();
      const response = await get('catalogs', controller.signal);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      assert.ok(((await reader.read()).value?.length ?? 0) > 0);
      controller.abort();
      await reader.closed.catch(() => undefined);
      const started = Date.now();
      const request = await logged('catalogs');
      assert.ok(Date.now() - started < 2_000, 'streaming stopped promptly');
      assert.equal(request.status, 200);
      assert.ok((request.streamedBytes ?? 0) < 64 * 1024 * 1024, `wrote ${request.streamedBytes} bytes`);
      assert.equal((await api('GET', 'catalogs')).status, 200, 'the simulator answers as usual again');
    });

    test('a trickle fault sends the headers at once, then the body at about the rate asked for', async () => {
      sim.addFault({
        match: { operation: 'images' },
        action: { type: 'trickle', bytesPerSecond: 4_000, totalBytes: 2_000, status: 200 },
      });
      const started = Date.now();
      const response = await get('images');
      const headersMs = Date.now() - started;
      assert.ok(headersMs < 300, `headers after ${headersMs} ms`);
      const text = await response.text();
      const bodyMs = Date.now() - started;
      assert.equal(text.length, 2_000);
      assert.ok(Array.isArray((JSON.parse(text) as { items: unknown }).items));
      assert.ok(bodyMs >= 400 && bodyMs < 2_500, `2000 bytes at 4000 B/s took ${bodyMs} ms`);
      assert.equal((await logged('images')).streamedBytes, 2_000);
    });

    test('a trickle fault stops when the client disconnects', async () => {
      sim.addFault({ match: { operation: 'images' }, action: { type: 'trickle', bytesPerSecond: 1_000 } });
      const controller = new AbortController();
      const response = await get('images', controller.signal);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const first = (await reader.read()).value?.length ?? 0;
      assert.ok(first > 0 && first <= 1_000, `first chunk ${first} bytes`);
      controller.abort();
      await reader.closed.catch(() => undefined);
      const request = await logged('images');
      assert.equal(request.status, 200);
      assert.ok((request.streamedBytes ?? 0) < 2_000, `wrote ${request.streamedBytes} of 1 MiB`);
      await sleep(600);
      assert.equal(sim.requests().filter((logged) => logged.operation === 'images').length, 1);
    });
  });

  describe('admin API and request log', () => {
    test('the request log records method, path, query and status but never a credential or token', async () => {
      await updateImage(catalogs.finance, { templateId: images.win11Nov });
      await api('GET', `catalogs/${catalogs.finance}`, { authorization: 'CwsAuth Bearer=wrong-token' });
      const logged = (await admin('GET', 'requests')).body as { requests: Record<string, unknown>[] };
      assert.deepEqual(logged.requests, sim.requests());
      assert.deepEqual(
        logged.requests.map(({ method, operation, status }) => [method, operation, status]),
        [
          ['POST', 'token', 200],
          ['POST', 'updateImage', 202],
          ['GET', 'catalog', 401],
        ],
      );
      assert.equal(
        logged.requests[1]?.path,
        `/catalogservice/${sim.customerId}/${sim.siteId}/catalogs/${catalogs.finance}/$updateImage`,
      );
      assert.equal(logged.requests[1]?.query, 'async=true');
      const text = JSON.stringify(logged).toLowerCase();
      for (const secret of [...sim.issuedTokens(), sim.clientSecret, 'wrong-token', 'authorization', 'cwsauth']) {
        assert.ok(!text.includes(secret.toLowerCase()), `the log must not contain ${secret.slice(0, 4)}…`);
      }
      assert.equal((await admin('DELETE', 'requests')).status, 204);
      assert.deepEqual(sim.requests(), []);
    });

    test('refuses an admin call without the admin token, or with a wrong one, with 401 and changes nothing', async () => {
      assert.match(sim.adminToken, /^[\w-]{43}$/, '32 random bytes, base64url');
      const last = sim.adminToken.at(-1) === 'A' ? 'B' : 'A';
      const attempts = [
        null,
        'Bearer not-the-admin-token',
        `Bearer ${sim.adminToken.slice(0, -1)}${last}`,
        `Bearer ${sim.adminToken}x`,
        sim.adminToken,
        `Basic ${sim.adminToken}`,
        `CwsAuth Bearer=${token}`,
      ];
      const fault = { match: { operation: 'sites' }, times: 0, action: { type: 'status', status: 503 } };
      for (const authorization of attempts) {
        const refused = [
          await admin('POST', 'faults', fault, authorization),
          await admin('GET', 'tokens', undefined, authorization),
          await admin('GET', 'requests', undefined, authorization),
          await admin('POST', 'reset', undefined, authorization),
          await admin('POST', `catalogs/${catalogs.hr}`, { state: 'Error' }, authorization),
          await admin('GET', 'no-such-resource?probe=1', undefined, authorization),
        ];
        for (const { status, headers, body } of refused) {
          assert.equal(status, 401, String(authorization));
          assert.match(headers.get('www-authenticate') ?? '', /^Bearer /);
          const text = JSON.stringify(body);
          for (const leaked of [token, sim.adminToken, 'not-the-admin', 'no-such-resource', 'probe', catalogs.hr]) {
            assert.ok(!text.includes(leaked), `the refusal quotes ${leaked.slice(0, 8)}…`);
          }
        }
      }
      assert.deepEqual(sim.faults(), [], 'no fault was added');
      assert.deepEqual(
        sim.requests().map((request) => request.operation),
        ['token'],
        'the log was not cleared, and admin calls are not logged',
      );
      assert.deepEqual(sim.issuedTokens(), [token], 'no reset took place');
      assert.equal((await readCatalog(catalogs.hr)).state, 'Active');
      assert.equal((await api('GET', `/${sim.customerId}/sites`)).status, 200);
      assert.equal((await admin('GET', 'faults')).status, 200, 'the right token is accepted');
    });

    test('takes a fixed admin token from the options, and refuses an empty one', async () => {
      const fixed = await startSimulator({ adminToken: 'fixed-admin-token' });
      try {
        assert.equal(fixed.adminToken, 'fixed-admin-token');
        const call = (authorization: string) =>
          fetch(`${fixed.adminUrl}/faults`, { headers: { authorization } }).then((response) => response.status);
        assert.equal(await call('Bearer fixed-admin-token'), 200);
        assert.equal(await call('bearer   fixed-admin-token'), 200, 'the scheme is case-insensitive');
        assert.equal(await call(`Bearer ${sim.adminToken}`), 401, "another simulator's token");
      } finally {
        await fixed.close();
      }
      await assert.rejects(startSimulator({ adminToken: '' }), TypeError);
    });

    test('faults, catalogs, settings, tokens and reset can be driven over HTTP', async () => {
      const added = await admin('POST', 'faults', {
        match: { operation: 'sites' },
        times: 0,
        action: { type: 'status', status: 503 },
      });
      const { id } = added.body as { id: string };
      assert.equal(((await admin('GET', 'faults')).body as { faults: unknown[] }).faults.length, 1);
      assert.equal((await api('GET', `/${sim.customerId}/sites`)).status, 503);
      assert.equal((await api('GET', `/${sim.customerId}/sites`)).status, 503, 'times 0 lasts until removed');
      assert.equal((await admin('DELETE', `faults/${id}`)).status, 204);
      assert.equal((await api('GET', `/${sim.customerId}/sites`)).status, 200);
      assert.equal((await admin('POST', 'faults', { action: { type: 'explode' } })).status, 400);

      const patched = await admin('POST', `catalogs/${catalogs.hr}`, {
        state: 'Error',
        subState: 'ErrorMasterImageNotFound',
      });
      assert.equal((patched.body as CatalogRead).state, 'Error');
      assertMatchesSchema('CatalogOverview', await readCatalog(catalogs.hr));

      await admin('POST', 'settings', { acceptLagMs: 0, updateDurationMs: null });
      await updateImage(catalogs.finance, { templateId: images.win11Nov });
      assert.equal((await readCatalog(catalogs.finance)).state, 'Processing');
      const completed = await admin('POST', `catalogs/${catalogs.finance}/complete`);
      assert.equal((completed.body as CatalogRead).imageId, images.win11Nov);

      assert.deepEqual((await admin('GET', 'tokens')).body, { tokens: sim.issuedTokens() });
      assert.equal((await admin('POST', 'reset')).status, 204);
      assert.deepEqual(sim.issuedTokens(), []);
      token = ((await requestToken()).body as { access_token: string }).access_token;
      assert.equal((await readCatalog(catalogs.finance)).imageId, images.win11Oct);
    });
  });
});

describe('simulator CLI', () => {
  const repoRoot = path.resolve(__dirname, '..');
  const run = (args: string[]) =>
    spawn(process.execPath, ['--import', 'tsx', 'src/simulator/main.ts', ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const exitOf = (child: ReturnType<typeof run>) =>
    new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  /** The JSON line the simulator prints when it has started. */
  const startLine = async (child: ReturnType<typeof run>, exited: Promise<number | null>) => {
    const lines = createInterface({ input: child.stdout });
    const [first] = await Promise.race([
      new Promise<string[]>((resolve) => lines.once('line', (line) => resolve([line]))),
      exited.then((code) => assert.fail(`exited early with ${code}`)),
    ]);
    return JSON.parse(first ?? '') as Record<string, string>;
  };

  test('prints one JSON line with its URLs and credentials, serves them, and exits 0 on SIGTERM', async () => {
    const child = run(['--port', '0', '--update-duration', '2s', '--accept-lag', '100']);
    const exited = exitOf(child);
    const started = await startLine(child, exited);
    assert.deepEqual(Object.keys(started), [
      'baseUrl',
      'tokenUrl',
      'govTokenUrl',
      'adminUrl',
      'adminToken',
      'customerId',
      'siteId',
      'clientId',
      'clientSecret',
    ]);
    assert.match(started.baseUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+\/catalogservice$/);
    const tokenAnswer = await fetch(started.tokenUrl ?? '', {
      ...form({
        grant_type: 'client_credentials',
        client_id: started.clientId ?? '',
        client_secret: started.clientSecret ?? '',
      }),
    });
    assert.equal(tokenAnswer.status, 200);
    assert.match(
      started.govTokenUrl ?? '',
      new RegExp(`^http://127\\.0\\.0\\.1:\\d+/${started.customerId}/tokens/clients$`),
    );
    assert.match(started.adminToken ?? '', /^[\w-]{43}$/);
    const adminCall = (headers: Record<string, string>) =>
      fetch(`${started.adminUrl}/requests`, { headers }).then((response) => response.status);
    assert.equal(await adminCall({ authorization: `Bearer ${started.adminToken}` }), 200);
    assert.equal(await adminCall({}), 401);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });

  test('refuses to listen beyond loopback without --allow-remote', async () => {
    for (const host of ['0.0.0.0', '::', '192.0.2.10', 'simulator.example.com']) {
      const child = run(['--port', '0', '--host', host]);
      let stderr = '';
      let stdout = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      assert.equal(await exitOf(child), 1, host);
      assert.equal(stdout, '', 'nothing is printed, the admin token least of all');
      assert.match(stderr, new RegExp(`listening on ${host.replace(/\./g, '\\.')} exposes them to the network`));
      assert.match(stderr, /pass --allow-remote to do it anyway/);
    }
  });

  test('listens on another loopback address without --allow-remote', async () => {
    const child = run(['--port', '0', '--host', '127.0.0.2']);
    const exited = exitOf(child);
    const started = await startLine(child, exited);
    assert.match(started.adminUrl ?? '', /^http:\/\/127\.0\.0\.2:\d+\/__admin$/);
    const status = await fetch(`${started.adminUrl}/faults`, {
      headers: { authorization: `Bearer ${started.adminToken}` },
    }).then((response) => response.status);
    assert.equal(status, 200);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });

  test('exits 1 with one message on stderr for a bad flag or an unreadable data file', async () => {
    for (const args of [
      ['--port', 'eighty'],
      ['--data', '/nonexistent/seed.json'],
      ['--update-duration', 'soon'],
    ]) {
      const child = run(args);
      let stderr = '';
      let stdout = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      assert.equal(await exitOf(child), 1, args.join(' '));
      assert.equal(stdout, '');
      assert.ok(stderr.trim().length > 0, `no message for ${args.join(' ')}`);
    }
  });
});
