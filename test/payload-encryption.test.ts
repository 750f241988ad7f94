import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import {
  CodecKeyRing,
  createDataConverter,
  ENCODING_FAILURE_CONVERTER_PATH,
  ENCRYPTED_ENCODING,
  EncryptionCodec,
  startCodecServer,
  type CodecServer,
} from '../src/codec';
import { ConfigError, loadWorkerConfig } from '../src/config';
import { findTemporalCli } from '../src/dev/local-temporal';
import { catalogUpdateWorkflowId } from '../src/shared';
import { SEED_IDS } from '../src/simulator';
import { recordedInput, startCatalogUpdate } from '../src/client';
import {
  failureOf,
  jsonLines,
  quietTemporalLogs,
  runStarter,
  startStack,
  workflowBundle,
  type TestStack,
} from './helpers';

quietTemporalLogs();

const TASK_QUEUE = 'payload-encryption-test';
const ROTATED_QUEUE = 'payload-encryption-rotated-test';
const { catalogs, images } = SEED_IDS;
const CATALOG_NAME = 'Finance Pool Zanzibar';
const IMAGE_NAME = 'Win11 24H2 November';
const WARNING_TEXT = 'Image host disk Quokka nearly full';
const FAILURE_TEXT = 'Disk copy failed at Marmalade';
const TOKEN = randomBytes(24).toString('base64url');
const keyA = randomBytes(32);
const keyB = randomBytes(32);
const ringA = new CodecKeyRing([['a', keyA]]);
const ringBA = new CodecKeyRing([
  ['b', keyB],
  ['a', keyA],
]);
const base64 = (text: string) => Buffer.from(text).toString('base64');

describe('payload encryption, end to end against a dev server, the simulator, the CLI and the codec server', () => {
  let stack: TestStack;
  let dir: string;
  let keysFileA: string;
  let codecServer: CodecServer;
  /** The first test's `history export`, as the CLI wrote it. */
  let exportedHistory = '';
  /** A client without the codec: what anyone who can read the namespace sees. */
  let plainClient: Client;
  const starterEnv = () => ({
    ...process.env,
    TEMPORAL_ADDRESS: stack.address,
    TEMPORAL_TASK_QUEUE: TASK_QUEUE,
    PAYLOAD_CODEC_KEYS_FILE: keysFileA,
  });

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'catalog-rollout-codec-'));
    keysFileA = path.join(dir, 'a.keys');
    await writeFile(keysFileA, `a=${keyA.toString('base64')}\n`, { mode: 0o600 });
    stack = await startStack({
      taskQueue: TASK_QUEUE,
      simulator: { updateDurationMs: 2_000, acceptLagMs: 200 },
      dataConverter: createDataConverter(ringA),
      moreWorkers: [{ taskQueue: ROTATED_QUEUE, worker: { dataConverter: createDataConverter(ringBA) } }],
    });
    plainClient = new Client({ connection: stack.env.connection });
    codecServer = await startCodecServer({
      codec: new EncryptionCodec(ringA),
      port: 0,
      authToken: TOKEN,
      corsOrigins: ['http://localhost:8233'],
    });
  });

  after(async () => {
    await codecServer?.close();
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('an update started and followed by the CLI completes, and its exported history holds no name or warning in plaintext', async () => {
    stack.simulator.patchCatalog(catalogs.finance, {
      name: CATALOG_NAME,
      warnings: [{ type: 'StorageWarning', isDismissible: true, warningMessage: WARNING_TEXT, isError: false }],
    });
    const started = await runStarter(
      ['start', '--catalog', catalogs.finance, '--image', images.win11Nov, '--poll-interval', '1s', '--wait', '--json'],
      starterEnv(),
    );
    assert.equal(started.code, 0, started.stderr);
    const end = jsonLines(started.stdout).at(-1)!;
    assert.match(JSON.stringify(end), /imageAssigned|updated/);

    const workflowId = catalogUpdateWorkflowId(catalogs.finance);
    const exported = await runStarter(['history', 'export', workflowId], starterEnv());
    assert.equal(exported.code, 0, exported.stderr);
    exportedHistory = exported.stdout;
    const plain = historyToJSON(await plainClient.workflow.getHandle(workflowId).fetchHistory());
    for (const history of [exported.stdout, plain]) {
      for (const secret of [CATALOG_NAME, IMAGE_NAME, WARNING_TEXT]) {
        assert.ok(!history.includes(secret), `"${secret}" is in the history in plaintext`);
        assert.ok(!history.includes(base64(secret).slice(0, 16)), `"${secret}" is in the history in base64`);
      }
      assert.ok(history.includes(base64(ENCRYPTED_ENCODING)), 'payloads are marked binary/encrypted');
    }
    // The same client library with the keys reads it all back.
    const status = await runStarter(['status', workflowId, '--json'], starterEnv());
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(CATALOG_NAME));
  });

  test('an exported encrypted history replays with the keys, and not without them', async () => {
    assert.ok(exportedHistory, 'the first test exported a history');
    const history = JSON.parse(exportedHistory) as unknown;
    const bundle = await workflowBundle(ENCODING_FAILURE_CONVERTER_PATH);
    await Worker.runReplayHistory({ workflowBundle: bundle, dataConverter: createDataConverter(ringA) }, history);
    await assert.rejects(Worker.runReplayHistory({ workflowBundle: bundle }, history));
  });

  test("a failure's message is encrypted in the history and readable with the keys", async () => {
    stack.simulator.addFault({
      match: { catalogId: catalogs.hr },
      action: { type: 'failNextUpdate', subState: 'ErrorMasterImageProvisioningFailed', statusMessage: FAILURE_TEXT },
    });
    const { handle } = await startCatalogUpdate(stack.env.client, TASK_QUEUE, {
      catalogId: catalogs.hr,
      imageId: images.win11Nov,
      pollIntervalMs: 1_000,
    });
    const failure = await failureOf(handle.result());
    assert.match(failure.message, new RegExp(FAILURE_TEXT), 'a client with the keys reads the message');
    const history = historyToJSON(await plainClient.workflow.getHandle(handle.workflowId).fetchHistory());
    assert.match(history, /"workflowExecutionFailedEventAttributes"/);
    assert.ok(!history.includes(FAILURE_TEXT), 'the failure message is in the history in plaintext');
    assert.ok(!history.includes('ErrorMasterImageProvisioningFailed'), 'the sub-state is in plaintext');
    assert.match(history, /Encoded failure/);
  });

  test('a worker with the keys refuses a prebuilt bundle that would write workflow failures in plaintext', async () => {
    const [plain, encoded] = await Promise.all([workflowBundle(), workflowBundle(ENCODING_FAILURE_CONVERTER_PATH)]);
    const plainFile = path.join(dir, 'workflow-bundle.js');
    const encodedFile = path.join(dir, 'workflow-bundle-encrypted.js');
    await Promise.all([writeFile(plainFile, plain.code), writeFile(encodedFile, encoded.code)]);
    const env = (bundle: string) => ({
      CITRIX_CUSTOMER_ID: 'acme123',
      CITRIX_CLIENT_ID: 'client',
      CITRIX_CLIENT_SECRET: 'secret',
      PAYLOAD_CODEC_KEYS_FILE: keysFileA,
      WORKFLOW_BUNDLE_PATH: bundle,
    });
    assert.throws(
      () => loadWorkerConfig(env(plainFile)),
      (error: Error) =>
        error instanceof ConfigError &&
        /WORKFLOW_BUNDLE_PATH: .* does not encode workflow failures.*workflow-bundle-encrypted\.js/.test(error.message),
    );
    assert.equal(loadWorkerConfig(env(encodedFile)).workflowBundlePath, encodedFile);
    const { PAYLOAD_CODEC_KEYS_FILE: _withoutKeys, ...plainEnv } = env(plainFile);
    assert.equal(loadWorkerConfig(plainEnv).workflowBundlePath, plainFile, 'without keys any bundle does');
  });

  test('retry starts a failed update again from its encrypted recorded input', async () => {
    const workflowId = catalogUpdateWorkflowId(catalogs.hr);
    // The administrator fixed the catalog in Citrix Cloud.
    stack.simulator.patchCatalog(catalogs.hr, { state: 'Active', subState: null, warnings: [] });
    const retried = await runStarter(['retry', workflowId, '--json'], starterEnv());
    assert.equal(retried.code, 0, retried.stderr);
    const handle = stack.env.client.workflow.getHandle(workflowId);
    assert.match((await handle.result()).outcome, /imageAssigned|updated/);
    const { events } = await plainClient.workflow.getHandle(workflowId).fetchHistory();
    const input = events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    assert.equal(Buffer.from(input.metadata!.encoding!).toString(), ENCRYPTED_ENCODING);
    const decoded = (await recordedInput(stack.env.client, workflowId)) as { catalogId: string; imageId: string };
    assert.deepEqual([decoded.catalogId, decoded.imageId], [catalogs.hr, images.win11Nov]);
  });

  test('a schedule made by the CLI keeps its rollout encrypted, and describe reads it back', async () => {
    const created = await runStarter(
      ['schedule', 'create', '--no-health-gate', '--id', 'encrypted-tuesday', '--cron', '0 3 * * 3'].concat([
        '--image',
        images.win11Nov,
        '--catalogs',
        catalogs.legal,
        '--json',
      ]),
      starterEnv(),
    );
    assert.equal(created.code, 0, created.stderr);
    const described = await runStarter(['schedule', 'describe', 'encrypted-tuesday'], starterEnv());
    assert.equal(described.code, 0, described.stderr);
    assert.match(described.stdout, new RegExp(images.win11Nov));
    assert.match(described.stdout, /0 3 \* \* 3/);
    assert.match(described.stdout, /1 catalogs/);
    const raw = await stack.env.connection.workflowService.describeSchedule({
      namespace: 'default',
      scheduleId: 'encrypted-tuesday',
    });
    const args = raw.schedule!.action!.startWorkflow!.input!.payloads!;
    assert.ok(args.length > 0);
    for (const payload of args) {
      assert.equal(Buffer.from(payload.metadata!.encoding!).toString(), ENCRYPTED_ENCODING);
      assert.ok(!Buffer.from(payload.data!).includes(catalogs.legal), 'the rollout input is ciphertext');
    }
    assert.equal((await runStarter(['schedule', 'delete', 'encrypted-tuesday'], starterEnv())).code, 0);
  });

  test('the codec server decodes a history for `temporal workflow show`', async (t) => {
    const cli = findTemporalCli();
    if (!cli) return t.skip('no temporal CLI on PATH');
    const workflowId = catalogUpdateWorkflowId(catalogs.finance);
    const show = (...extra: string[]) =>
      promisify(execFile)(
        cli,
        ['workflow', 'show', '--workflow-id', workflowId, '--address', stack.address, '--output', 'json', ...extra],
        { maxBuffer: 32 * 1024 * 1024 },
      );
    /** Every payload of the CLI's JSON output: its encoding and, when JSON, its text. */
    const payloadsOf = (stdout: string) => {
      const found: { encoding: string; text: string }[] = [];
      const walk = (node: unknown): void => {
        if (!node || typeof node !== 'object') return;
        const value = node as { metadata?: { encoding?: string }; data?: string };
        if (value.metadata?.encoding && typeof value.data === 'string') {
          const encoding = Buffer.from(value.metadata.encoding, 'base64').toString();
          found.push({ encoding, text: Buffer.from(value.data, 'base64').toString() });
        }
        for (const child of Object.values(node)) walk(child);
      };
      walk(JSON.parse(stdout));
      return found;
    };
    const decoded = payloadsOf(
      (await show('--codec-endpoint', codecServer.url, '--codec-auth', `Bearer ${TOKEN}`)).stdout,
    );
    assert.ok(decoded.length > 0);
    assert.deepEqual(
      decoded.filter((p) => p.encoding === ENCRYPTED_ENCODING),
      [],
      'every payload is decoded',
    );
    const text = decoded.map((p) => p.text).join('\n');
    assert.ok(text.includes(CATALOG_NAME), 'the decoded history names the catalog');
    assert.ok(text.includes(WARNING_TEXT), 'the decoded history quotes the warning');
    const raw = payloadsOf((await show()).stdout);
    // Search attributes stay plaintext (the server indexes them): they hold ids only.
    assert.ok(raw.some((p) => p.encoding === ENCRYPTED_ENCODING));
    assert.ok(!raw.some((p) => p.text.includes(CATALOG_NAME) || p.text.includes(WARNING_TEXT)));
    await assert.rejects(show('--codec-endpoint', codecServer.url, '--codec-auth', 'Bearer wrong'));
  });

  describe('the codec server over HTTP', () => {
    const post = (route: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${codecServer.url}${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers },
        body: JSON.stringify(body),
      });
    const auth = { authorization: `Bearer ${TOKEN}` };
    const plainPayload = { metadata: { encoding: base64('json/plain') }, data: base64('"hello"') };

    test('refuses a request without or with a wrong Authorization header (401)', async () => {
      for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: TOKEN }] as Record<
        string,
        string
      >[]) {
        const answer = await post('/decode', { payloads: [] }, headers);
        assert.equal(answer.status, 401, JSON.stringify(headers));
        assert.equal(answer.headers.get('www-authenticate'), 'Bearer');
      }
    });

    test("answers the UI's CORS preflight for its origin only", async () => {
      const preflight = (origin: string) =>
        fetch(`${codecServer.url}/decode`, {
          method: 'OPTIONS',
          headers: {
            origin,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'authorization,content-type,x-namespace',
          },
        });
      const ui = await preflight('http://localhost:8233');
      assert.equal(ui.status, 204);
      assert.equal(ui.headers.get('access-control-allow-origin'), 'http://localhost:8233');
      assert.match(ui.headers.get('access-control-allow-headers') ?? '', /Authorization.*X-Namespace/);
      assert.match(ui.headers.get('access-control-allow-methods') ?? '', /POST/);
      const other = await preflight('http://evil.example');
      assert.equal(other.status, 403);
      assert.equal(other.headers.get('access-control-allow-origin'), null);
    });

    test('encodes and decodes payloads in the remote codec JSON form', async () => {
      const encoded = (await (await post('/encode', { payloads: [plainPayload] }, auth)).json()) as {
        payloads: { metadata: Record<string, string>; data: string }[];
      };
      assert.equal(Buffer.from(encoded.payloads[0]!.metadata.encoding!, 'base64').toString(), ENCRYPTED_ENCODING);
      const decoded = await (await post('/decode', encoded, auth)).json();
      assert.deepEqual(decoded, { payloads: [plainPayload] });
    });

    test('refuses a body over its cap (413) before reading it, and a body that is not the protocol (400)', async () => {
      const { port } = new URL(codecServer.url);
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path: '/decode',
            method: 'POST',
            headers: { ...auth, 'content-length': 64 << 20 },
          },
          (res) => resolve(res.statusCode!),
        );
        req.on('error', reject);
        req.write('{"payloads":[');
      });
      assert.equal(status, 413);
      assert.equal((await post('/decode', { nothing: true }, auth)).status, 400);
    });
  });

  test('after rotation to [B, A], what A wrote still decodes, new payloads use B, and a removed key is named', async () => {
    const workflowId = catalogUpdateWorkflowId(catalogs.finance);
    const rotatedClient = new Client({ connection: stack.env.connection, dataConverter: createDataConverter(ringBA) });
    const oldResult = (await rotatedClient.workflow.getHandle(workflowId).result()) as { outcome: string };
    assert.match(oldResult.outcome, /imageAssigned|updated/, 'a client with [B, A] reads a result written under A');

    const { handle } = await startCatalogUpdate(rotatedClient, ROTATED_QUEUE, {
      catalogId: catalogs.sales,
      imageId: images.win11Nov,
      pollIntervalMs: 1_000,
    });
    assert.match((await handle.result()).outcome, /imageAssigned|updated/, 'a worker with [B, A] runs it');
    const { events } = await plainClient.workflow.getHandle(handle.workflowId).fetchHistory();
    const input = events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    assert.equal(Buffer.from(input.metadata!['encryption-key-id']!).toString(), 'b');

    // The key A is removed too early: a client holding only B cannot read A's payloads, and says which key it needs.
    const onlyB = new Client({
      connection: stack.env.connection,
      dataConverter: createDataConverter(new CodecKeyRing([['b', keyB]])),
    });
    await assert.rejects(onlyB.workflow.getHandle(workflowId).result(), /key "a".*PAYLOAD_CODEC_KEYS_FILE/);
    const bOnlyServer = await startCodecServer({
      codec: new EncryptionCodec(new CodecKeyRing([['b', keyB]])),
      port: 0,
    });
    try {
      const started = events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
      const oldEvents = (await plainClient.workflow.getHandle(workflowId).fetchHistory()).events!;
      const underA = oldEvents[0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
      const asJson = (payload: typeof started) => ({
        metadata: Object.fromEntries(
          Object.entries(payload.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
        ),
        data: Buffer.from(payload.data!).toString('base64'),
      });
      const answer = await fetch(`${bOnlyServer.url}/decode`, {
        method: 'POST',
        body: JSON.stringify({ payloads: [asJson(underA)] }),
      });
      assert.equal(answer.status, 400);
      assert.match(((await answer.json()) as { error: string }).error, /key "a"/);
      const fine = await fetch(`${bOnlyServer.url}/decode`, {
        method: 'POST',
        body: JSON.stringify({ payloads: [asJson(started)] }),
      });
      assert.equal(fine.status, 200);
    } finally {
      await bOnlyServer.close();
    }
  });
});
