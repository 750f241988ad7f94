import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import {
  CodecKeyRing,
  ENCRYPTED_ENCODING,
  EncryptionCodec,
  KEY_ID_METADATA,
  parseCodecKeys,
  readCodecKeyFile,
} from '../../src/codec';
import { ConfigError, loadCodecServerConfig, loadWorkerConfig, secretsOf } from '../../src/config';

const keyA = randomBytes(32);
const keyB = randomBytes(32);
const text = (bytes: Uint8Array | undefined | null) => Buffer.from(bytes ?? []).toString();
const payloadOf = (value: unknown) => defaultPayloadConverter.toPayload(value) as Payload;

describe('the AES-256-GCM payload codec', () => {
  const ringA = new CodecKeyRing([['a', keyA]]);

  test('encrypts the whole payload under the first key and decrypts it back, metadata included', async () => {
    const codec = new EncryptionCodec(ringA);
    const original = payloadOf({ catalogName: 'Finance Pool', warning: 'low disk' });
    const [encoded] = await codec.encode([original]);
    assert.equal(text(encoded!.metadata!.encoding), ENCRYPTED_ENCODING);
    assert.equal(text(encoded!.metadata![KEY_ID_METADATA]), 'a');
    assert.equal(Object.keys(encoded!.metadata!).length, 2, 'the original encoding is inside the ciphertext');
    assert.ok(!Buffer.from(encoded!.data!).includes('Finance Pool'));
    const [decoded] = await codec.decode([encoded!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(decoded!), {
      catalogName: 'Finance Pool',
      warning: 'low disk',
    });
  });

  test('gives the same value a new ciphertext each time (a fresh IV)', async () => {
    const codec = new EncryptionCodec(ringA);
    const [one, two] = await codec.encode([payloadOf('same'), payloadOf('same')]);
    assert.notDeepEqual(Buffer.from(one!.data!), Buffer.from(two!.data!));
  });

  test('passes payloads it did not encrypt through untouched', async () => {
    const plain = payloadOf('written before encryption was on');
    assert.deepEqual(await new EncryptionCodec(ringA).decode([plain]), [plain]);
  });

  test('after rotation to [B, A], reads what A wrote and writes under B', async () => {
    const [underA] = await new EncryptionCodec(ringA).encode([payloadOf('old')]);
    const rotated = new EncryptionCodec(
      new CodecKeyRing([
        ['b', keyB],
        ['a', keyA],
      ]),
    );
    assert.equal(defaultPayloadConverter.fromPayload((await rotated.decode([underA!]))[0]!), 'old');
    const [underB] = await rotated.encode([payloadOf('new')]);
    assert.equal(text(underB!.metadata![KEY_ID_METADATA]), 'b');
  });

  test('names the key id, never the key, when the key was removed', async () => {
    const [underA] = await new EncryptionCodec(ringA).encode([payloadOf('old')]);
    const onlyB = new EncryptionCodec(new CodecKeyRing([['b', keyB]]));
    await assert.rejects(onlyB.decode([underA!]), (error: Error) => {
      assert.match(error.message, /key "a".*PAYLOAD_CODEC_KEYS_FILE/);
      assert.ok(!error.message.includes(keyA.toString('base64')));
      return true;
    });
  });

  test('refuses a payload whose ciphertext was altered', async () => {
    const [encoded] = await new EncryptionCodec(ringA).encode([payloadOf('value')]);
    const data = Buffer.from(encoded!.data!);
    data[20] = data[20]! ^ 1;
    await assert.rejects(new EncryptionCodec(ringA).decode([{ ...encoded!, data }]), /does not decrypt with key "a"/);
  });
});

describe('payload codec keys', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'catalog-rollout-keys-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('reads keyId=base64key lines, first encrypting, skipping comments and blank lines', () => {
    const ring = parseCodecKeys(
      `# newest first\n2026-12=${keyB.toString('base64')}\n\n2026-06=${keyA.toString('base64')}\n`,
    );
    assert.equal(ring.encryptingKeyId, '2026-12');
    assert.deepEqual(ring.keyIds, ['2026-12', '2026-06']);
  });

  test('shows no key through inspect or JSON', () => {
    const ring = new CodecKeyRing([['a', keyA]]);
    for (const shown of [inspect(ring), JSON.stringify(ring)]) assert.ok(!shown.includes(keyA.toString('base64')));
  });

  const wrong: [string, string, RegExp][] = [
    [
      'a 16-byte key',
      `a=${randomBytes(16).toString('base64')}`,
      /key "a" is 16 bytes, not 32.*openssl rand -base64 32/,
    ],
    ['a key that is not base64', 'a=not*base64', /line 1 \(key "a"\): the key is not base64/],
    ['a line without =', 'just-a-key', /line 1 is not keyId=base64key/],
    ['no key at all', '# nothing yet\n', /holds no key/],
    ['the same id twice', `a=${keyA.toString('base64')}\na=${keyB.toString('base64')}`, /same key id is given twice/],
  ];
  for (const [name, contents, message] of wrong) {
    test(`fails at start on ${name}, naming the variable and not the key`, async () => {
      const file = path.join(dir, `${name.replaceAll(' ', '-')}.keys`);
      await writeFile(file, contents);
      assert.throws(
        () => readCodecKeyFile(file, 'PAYLOAD_CODEC_KEYS_FILE'),
        (error: Error) => {
          assert.match(error.message, /^PAYLOAD_CODEC_KEYS_FILE/);
          assert.match(error.message, message);
          assert.ok(
            !error.message.includes(keyA.toString('base64')) && !error.message.includes(keyB.toString('base64')),
          );
          return true;
        },
      );
    });
  }

  test('an unreadable key file is a configuration error of the worker naming the variable', () => {
    assert.throws(
      () =>
        loadWorkerConfig({
          CITRIX_CUSTOMER_ID: 'acme123',
          CITRIX_CLIENT_ID: 'client',
          CITRIX_CLIENT_SECRET: 'secret',
          PAYLOAD_CODEC_KEYS_FILE: path.join(dir, 'missing.keys'),
        }),
      (error: Error) =>
        error instanceof ConfigError && /PAYLOAD_CODEC_KEYS_FILE: cannot read .*ENOENT/.test(error.message),
    );
  });

  test('the worker configuration holds the keys, and gives them to the log redactor', async () => {
    const file = path.join(dir, 'good.keys');
    await writeFile(file, `a=${keyA.toString('base64')}\n`);
    const config = loadWorkerConfig({
      CITRIX_CUSTOMER_ID: 'acme123',
      CITRIX_CLIENT_ID: 'client',
      CITRIX_CLIENT_SECRET: 'secret',
      PAYLOAD_CODEC_KEYS_FILE: file,
    });
    assert.equal(config.temporal.payloadCodecKeys?.encryptingKeyId, 'a');
    assert.ok(secretsOf(config).includes(keyA.toString('base64')));
  });

  test('the codec server needs the key file, and a token when it listens beyond loopback', async () => {
    assert.throws(() => loadCodecServerConfig({}), /PAYLOAD_CODEC_KEYS_FILE is required/);
    const file = path.join(dir, 'server.keys');
    await writeFile(file, `a=${keyA.toString('base64')}\n`);
    assert.throws(
      () => loadCodecServerConfig({ PAYLOAD_CODEC_KEYS_FILE: file, CODEC_SERVER_BIND_ADDRESS: '0.0.0.0:8888' }),
      /set CODEC_SERVER_AUTH_TOKEN_FILE/,
    );
    assert.throws(
      () => loadCodecServerConfig({ PAYLOAD_CODEC_KEYS_FILE: file, CODEC_SERVER_CORS_ORIGIN: 'localhost:8233' }),
      /CODEC_SERVER_CORS_ORIGIN: "localhost:8233" is not an origin/,
    );
    const config = loadCodecServerConfig({
      PAYLOAD_CODEC_KEYS_FILE: file,
      CODEC_SERVER_CORS_ORIGIN: 'http://localhost:8233, http://localhost:8080',
    });
    assert.deepEqual(
      [config.host, config.port, config.corsOrigins],
      ['127.0.0.1', 8888, ['http://localhost:8233', 'http://localhost:8080']],
    );
  });
});
