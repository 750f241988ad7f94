import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Command } from 'commander';
import { addConnectionOptions, temporalConfigOf } from '../../src/cli/context';
import { ConfigError, loadTemporalConfig, loadWorkerConfig } from '../../src/config';

const citrix = {
  CITRIX_CUSTOMER_ID: 'acme123',
  CITRIX_CLIENT_ID: '6a1e2f0c-0000-4000-a000-000000000001',
  CITRIX_CLIENT_SECRET: 's3cr3t-value-that-must-not-leak',
};

const PROFILES = `
[profile.default]
address = "default-profile.example:7233"
namespace = "from-default-profile"

[profile.prod]
address = "prod.example:7233"
namespace = "prod-ns"
api_key = "profile-api-key"
[profile.prod.grpc_meta]
x-tenant = "acme"
`;

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

/** The CLI's view: the program's flags over `env`. */
function cliConfig(args: string[], env: Record<string, string>) {
  const program = addConnectionOptions(new Command()).exitOverride();
  program.parse(args, { from: 'user' });
  return temporalConfigOf(program, env);
}

describe('Temporal connection from a profile, the standard variables and the flags', () => {
  let dir: string;
  let file: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'catalog-rollout-envconfig-'));
    file = path.join(dir, 'temporal.toml');
    await writeFile(file, PROFILES);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('flags beat the environment, which beats the profile, which beats the defaults', () => {
    assert.deepEqual([loadTemporalConfig({}).address, loadTemporalConfig({}).namespace], ['localhost:7233', 'default']);
    const profileOnly = loadTemporalConfig({ TEMPORAL_CONFIG_FILE: file });
    assert.deepEqual(
      [profileOnly.address, profileOnly.namespace],
      ['default-profile.example:7233', 'from-default-profile'],
    );
    const env = { TEMPORAL_CONFIG_FILE: file, TEMPORAL_ADDRESS: 'env.example:7233' };
    const envOverProfile = loadTemporalConfig(env);
    assert.deepEqual([envOverProfile.address, envOverProfile.namespace], ['env.example:7233', 'from-default-profile']);
    const flags = cliConfig(['--address', 'flag.example:7233', '--namespace', 'flag-ns'], env);
    assert.deepEqual([flags.address, flags.namespace], ['flag.example:7233', 'flag-ns']);
    const noFlags = cliConfig([], env);
    assert.deepEqual([noFlags.address, noFlags.namespace], ['env.example:7233', 'from-default-profile']);
  });

  test('reads the file "temporal config" writes by default, and TEMPORAL_PROFILE picks a profile in it', async () => {
    const home = path.join(dir, 'home');
    await mkdir(path.join(home, '.config', 'temporalio'), { recursive: true });
    await writeFile(path.join(home, '.config', 'temporalio', 'temporal.toml'), PROFILES);
    assert.equal(loadTemporalConfig({ HOME: home }).address, 'default-profile.example:7233');
    const prod = loadTemporalConfig({ HOME: home, TEMPORAL_PROFILE: 'prod' });
    assert.equal(prod.address, 'prod.example:7233');
    assert.equal(prod.namespace, 'prod-ns');
    assert.equal(prod.apiKey, 'profile-api-key');
    assert.deepEqual(prod.metadata, { 'x-tenant': 'acme' });
    assert.equal(
      loadTemporalConfig({ HOME: home, TEMPORAL_API_KEY: 'env-key', TEMPORAL_PROFILE: 'prod' }).apiKey,
      'env-key',
    );
  });

  test('a missing config file, profile or unparsable file names the variable to fix', async () => {
    const broken = path.join(dir, 'broken.toml');
    await writeFile(broken, '[profile.default\naddress = ');
    const cases: [string, Record<string, string>, RegExp][] = [
      [
        'missing file',
        { TEMPORAL_CONFIG_FILE: path.join(dir, 'nope.toml') },
        /^TEMPORAL_CONFIG_FILE: cannot read .*nope\.toml \(ENOENT\)$/,
      ],
      [
        'missing profile',
        { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'stage' },
        /^TEMPORAL_PROFILE: there is no profile "stage" in TEMPORAL_CONFIG_FILE/,
      ],
      [
        'broken TOML',
        { TEMPORAL_CONFIG_FILE: broken },
        /^TEMPORAL_CONFIG_FILE \(.*broken\.toml\) cannot be read as TOML/,
      ],
    ];
    for (const [, env, expected] of cases) {
      const problems = problemsOf(() => loadTemporalConfig(env));
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0]!, expected);
    }
  });

  test('the standard TLS variables, paths and _DATA alike, make an mTLS configuration', async () => {
    const crt = path.join(dir, 'client.pem');
    await writeFile(crt, 'CERT');
    const config = loadTemporalConfig({
      TEMPORAL_TLS_CLIENT_CERT_PATH: crt,
      TEMPORAL_TLS_CLIENT_KEY_DATA: 'KEY',
      TEMPORAL_TLS_SERVER_CA_CERT_DATA: 'CA',
      TEMPORAL_TLS_SERVER_NAME: 'ns.acct.tmprl.cloud',
    });
    assert.deepEqual(config.tls, {
      serverNameOverride: 'ns.acct.tmprl.cloud',
      serverRootCACertificate: Buffer.from('CA'),
      clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('KEY') },
    });
    assert.deepEqual(config.warnings, []);
    assert.deepEqual(loadTemporalConfig({ TEMPORAL_TLS: 'true' }).tls, {});
  });

  test('the older TLS names still work, each with a warning naming its standard name', async () => {
    const crt = path.join(dir, 'old.pem');
    await writeFile(crt, 'CERT');
    const config = loadTemporalConfig({
      TEMPORAL_TLS_CERT_PATH: crt,
      TEMPORAL_TLS_KEY_PATH: crt,
      TEMPORAL_TLS_SERVER_CA_PATH: crt,
    });
    assert.deepEqual(config.tls, {
      serverRootCACertificate: Buffer.from('CERT'),
      clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('CERT') },
    });
    assert.deepEqual(config.warnings, [
      'TEMPORAL_TLS_CERT_PATH is deprecated and will be removed in the next release: rename it to TEMPORAL_TLS_CLIENT_CERT_PATH',
      'TEMPORAL_TLS_KEY_PATH is deprecated and will be removed in the next release: rename it to TEMPORAL_TLS_CLIENT_KEY_PATH',
      'TEMPORAL_TLS_SERVER_CA_PATH is deprecated and will be removed in the next release: rename it to TEMPORAL_TLS_SERVER_CA_CERT_PATH',
    ]);
    assert.deepEqual(
      problemsOf(() =>
        loadTemporalConfig({
          TEMPORAL_TLS_CERT_PATH: crt,
          TEMPORAL_TLS_CLIENT_CERT_PATH: crt,
          TEMPORAL_TLS_KEY_PATH: crt,
        }),
      ),
      ['TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_CLIENT_CERT_PATH are both set: keep TEMPORAL_TLS_CLIENT_CERT_PATH'],
    );
  });

  test('TLS mistakes are listed together, each naming the variable or profile key that holds it', async () => {
    const tlsProfile = path.join(dir, 'tls.toml');
    await writeFile(tlsProfile, `[profile.default.tls]\nserver_ca_cert_path = "${path.join(dir, 'no-ca.pem')}"\n`);
    const problems = problemsOf(() =>
      loadTemporalConfig({
        TEMPORAL_CONFIG_FILE: tlsProfile,
        TEMPORAL_TLS_CLIENT_CERT_PATH: path.join(dir, 'no-client.pem'),
        TEMPORAL_TLS: 'maybe',
      }),
    );
    assert.deepEqual(problems, ['TEMPORAL_TLS: must be true or false']);
    assert.deepEqual(
      problemsOf(() =>
        loadTemporalConfig({
          TEMPORAL_CONFIG_FILE: tlsProfile,
          TEMPORAL_TLS_CLIENT_CERT_PATH: path.join(dir, 'no-client.pem'),
        }),
      ).map((problem) => problem.replace(dir, '<dir>')),
      [
        'TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together (mTLS needs both)',
        `tls.server_ca_cert_path of profile "default": cannot read <dir>/no-ca.pem (ENOENT)`,
        `TEMPORAL_TLS_CLIENT_CERT_PATH: cannot read <dir>/no-client.pem (ENOENT)`,
      ],
    );
  });

  test('Worker Versioning needs both TEMPORAL_DEPLOYMENT_NAME and TEMPORAL_WORKER_BUILD_ID', () => {
    assert.equal(loadWorkerConfig(citrix).deploymentVersion, undefined);
    assert.deepEqual(
      loadWorkerConfig({ ...citrix, TEMPORAL_DEPLOYMENT_NAME: 'catalog-rollout', TEMPORAL_WORKER_BUILD_ID: 'v0.4.0' })
        .deploymentVersion,
      { deploymentName: 'catalog-rollout', buildId: 'v0.4.0' },
    );
    for (const half of [{ TEMPORAL_DEPLOYMENT_NAME: 'catalog-rollout' }, { TEMPORAL_WORKER_BUILD_ID: 'v0.4.0' }]) {
      assert.deepEqual(
        problemsOf(() => loadWorkerConfig({ ...citrix, ...half })),
        [
          'TEMPORAL_DEPLOYMENT_NAME and TEMPORAL_WORKER_BUILD_ID go together (Worker Versioning needs both): ' +
            'set both, or neither to run without versioning',
        ],
      );
    }
  });
});
