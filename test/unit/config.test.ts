import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadWorkerConfig } from '../../src/config';

const citrix = {
  CITRIX_CUSTOMER_ID: 'acme123',
  CITRIX_CLIENT_ID: '6a1e2f0c-0000-4000-a000-000000000001',
  CITRIX_CLIENT_SECRET: 's3cr3t-value-that-must-not-leak',
};

describe('worker configuration from the environment', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'catalog-rollout-config-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('fills in defaults for a local Temporal and the global Citrix Cloud region', () => {
    const config = loadWorkerConfig(citrix);
    assert.equal(config.temporal.address, 'localhost:7233');
    assert.equal(config.temporal.namespace, 'default');
    assert.equal(config.temporal.taskQueue, 'catalog-rollout');
    assert.equal(config.temporal.tls, undefined);
    assert.equal(config.citrix.client.region, 'global');
    assert.equal(config.citrix.client.requestTimeoutMs, 30_000);
  });

  test('lists every missing or wrong setting in one error, without echoing secrets', () => {
    assert.throws(
      () =>
        loadWorkerConfig({
          CITRIX_CUSTOMER_ID: 'not a customer id!',
          TEMPORAL_API_KEY: 's3cr3t-api-key',
          CITRIX_SITE_ID: 'site-1',
          CITRIX_REGION: 'mars',
          TEMPORAL_TLS_CERT_PATH: '/nowhere/client.pem',
          WORKER_MAX_CACHED_WORKFLOWS: '-3',
        }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        for (const expected of [
          /CITRIX_CUSTOMER_ID is not a Citrix Cloud customer id/,
          /CITRIX_CLIENT_ID is required/,
          /CITRIX_CLIENT_SECRET \(or CITRIX_CLIENT_SECRET_FILE\) is required/,
          /CITRIX_SITE_ID must be a GUID/,
          /CITRIX_REGION must be one of/,
          /TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together/,
          /WORKER_MAX_CACHED_WORKFLOWS/,
        ]) {
          assert.match(error.message, expected);
        }
        assert.ok(!error.message.includes('s3cr3t'));
        return true;
      },
    );
  });

  test('budgets 20 Citrix requests a second by default; takes a positive rate, or 0 for none', () => {
    const budget = (value?: string) =>
      loadWorkerConfig({ ...citrix, CITRIX_MAX_REQUESTS_PER_SECOND: value }).citrix.maxRequestsPerSecond;
    assert.equal(budget(), 20);
    assert.equal(budget(''), 20);
    assert.equal(budget('50'), 50);
    assert.equal(budget('2.5'), 2.5);
    assert.equal(budget('0'), undefined, '0 turns the budget off');
    for (const wrong of ['-1', 'fast', 'Infinity']) {
      assert.throws(
        () => budget(wrong),
        (error: unknown) =>
          error instanceof ConfigError &&
          /CITRIX_MAX_REQUESTS_PER_SECOND: must be a number of requests per second \(for example 20\), or 0 for no budget/.test(
            error.message,
          ),
        wrong,
      );
    }
    assert.throws(() => budget('1e6'), /CITRIX_MAX_REQUESTS_PER_SECOND: must be at most 10000/);
  });

  test('reads secrets from *_FILE paths and names the variable when the file is missing', async () => {
    const secretFile = path.join(dir, 'secret');
    await writeFile(secretFile, 'from-a-file\n');
    const { CITRIX_CLIENT_SECRET: _, ...rest } = citrix;
    assert.equal(
      loadWorkerConfig({ ...rest, CITRIX_CLIENT_SECRET_FILE: secretFile }).citrix.client.clientSecret,
      'from-a-file',
    );
    assert.throws(
      () => loadWorkerConfig({ ...rest, CITRIX_CLIENT_SECRET_FILE: path.join(dir, 'missing') }),
      /CITRIX_CLIENT_SECRET_FILE: cannot read .*missing \(ENOENT\)/,
    );
  });

  test('turns on TLS with a client certificate pair for mTLS, and for an API key', async () => {
    const crt = path.join(dir, 'client.pem');
    const key = path.join(dir, 'client.key');
    await writeFile(crt, 'CERT');
    await writeFile(key, 'KEY');
    const mtls = loadWorkerConfig({
      ...citrix,
      TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
      TEMPORAL_TLS_CERT_PATH: crt,
      TEMPORAL_TLS_KEY_PATH: key,
      TEMPORAL_TLS_SERVER_NAME: 'ns.acct.tmprl.cloud',
    });
    assert.deepEqual(mtls.temporal.tls, {
      serverNameOverride: 'ns.acct.tmprl.cloud',
      clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('KEY') },
    });
    const apiKey = loadWorkerConfig({ ...citrix, TEMPORAL_API_KEY: 'key-123' });
    assert.equal(apiKey.temporal.apiKey, 'key-123');
  });
});
