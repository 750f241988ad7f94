import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadTemporalConfig, loadWorkerConfig } from '../src/config';
import { connectClient, connectionOptions } from '../src/client';
import { connectWorkerConnection } from '../src/runtime/catalog-worker';
import { startLocalTemporal } from '../src/dev/local-temporal';
import { freePort, quietTemporalLogs } from './helpers';

quietTemporalLogs();

const ROOT = path.resolve(__dirname, '..');
const SERVER_NAME = 'temporal.test';
const API_KEY = 'tmprl-api-key-that-must-not-leak';

interface SeenCall {
  path: string;
  authorization?: string;
  clientCertCn?: string;
  clientCertAuthorized?: boolean;
}

/**
 * A gRPC (HTTP/2) proxy in front of the dev server that records what arrives: the authorization header and, over TLS,
 * the client certificate. The dev server itself speaks neither TLS nor authentication.
 */
async function startRecordingProxy(upstream: string, tls?: { key: Buffer; cert: Buffer; ca: Buffer }) {
  const seen: SeenCall[] = [];
  const client = http2.connect(`http://${upstream}`);
  client.on('error', () => {});
  const server = tls
    ? http2.createSecureServer({ ...tls, requestCert: true, rejectUnauthorized: false })
    : http2.createServer();
  server.on('stream', (stream, headers) => {
    const socket = stream.session?.socket as TLSSocket | undefined;
    const peer = tls ? socket?.getPeerCertificate() : undefined;
    seen.push({
      path: String(headers[':path']),
      authorization: headers.authorization as string | undefined,
      clientCertCn: peer?.subject?.CN as string | undefined,
      clientCertAuthorized: tls ? socket?.authorized : undefined,
    });
    const forward: http2.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) {
      if (name === ':scheme' || name === ':authority' || name === 'host') continue;
      forward[name] = value;
    }
    const upstreamStream = client.request(forward);
    let trailers: http2.IncomingHttpHeaders = {};
    upstreamStream.on('response', (responseHeaders) => {
      if (responseHeaders['grpc-status'] !== undefined) {
        stream.respond(responseHeaders, { endStream: true }); // trailers-only answer (an error)
        return;
      }
      stream.respond(responseHeaders, { waitForTrailers: true });
      upstreamStream.pipe(stream);
    });
    upstreamStream.on('trailers', (received) => (trailers = received));
    stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    stream.pipe(upstreamStream);
    upstreamStream.on('error', () => stream.destroy());
    stream.on('error', () => upstreamStream.destroy());
    stream.on('close', () => upstreamStream.close());
  });
  server.on('sessionError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: async () => {
      client.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('connection settings for a secured Temporal (mTLS, API key)', () => {
  let env: TestWorkflowEnvironment;
  let dir: string;
  let files: Record<'ca' | 'serverKey' | 'serverCert' | 'clientKey' | 'clientCert', string>;
  let tlsProxy: Awaited<ReturnType<typeof startRecordingProxy>>;
  let plainProxy: Awaited<ReturnType<typeof startRecordingProxy>>;

  before(async () => {
    const port = await freePort();
    dir = await mkdtemp(path.join(tmpdir(), 'catalog-rollout-tls-'));
    files = {
      ca: path.join(dir, 'ca.pem'),
      serverKey: path.join(dir, 'server.key'),
      serverCert: path.join(dir, 'server.pem'),
      clientKey: path.join(dir, 'client.key'),
      clientCert: path.join(dir, 'client.pem'),
    };
    const openssl = (...args: string[]) => promisify(execFile)('openssl', args, { cwd: dir });
    const [started] = await Promise.all([
      startLocalTemporal({ port }),
      (async () => {
        await openssl(
          ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=test-ca'],
          ...['-keyout', 'ca.key', '-out', 'ca.pem', '-addext', 'basicConstraints=critical,CA:TRUE'],
        );
        for (const [name, cn, ext] of [
          ['server', SERVER_NAME, `subjectAltName=DNS:${SERVER_NAME}`],
          ['client', 'catalog-rollout-worker', 'extendedKeyUsage=clientAuth'],
        ] as const) {
          await openssl(
            'req',
            '-newkey',
            'rsa:2048',
            '-nodes',
            '-subj',
            `/CN=${cn}`,
            '-keyout',
            `${name}.key`,
            '-out',
            `${name}.csr`,
          );
          await writeFile(path.join(dir, `${name}.ext`), `${ext}\n`);
          await openssl(
            ...['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial'],
            ...['-days', '2', '-out', `${name}.pem`, '-extfile', `${name}.ext`],
          );
        }
      })(),
    ]);
    env = started;
    const upstream = `127.0.0.1:${port}`;
    tlsProxy = await startRecordingProxy(upstream, {
      key: await readFile(files.serverKey),
      cert: await readFile(files.serverCert),
      ca: await readFile(files.ca),
    });
    plainProxy = await startRecordingProxy(upstream);
  });

  after(async () => {
    await tlsProxy?.close();
    await plainProxy?.close();
    await env?.teardown();
    await rm(dir, { recursive: true, force: true });
  });

  const mtlsNames = [
    [
      'the standard names',
      'TEMPORAL_TLS_CLIENT_CERT_PATH',
      'TEMPORAL_TLS_CLIENT_KEY_PATH',
      'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
    ],
    ['the older names', 'TEMPORAL_TLS_CERT_PATH', 'TEMPORAL_TLS_KEY_PATH', 'TEMPORAL_TLS_SERVER_CA_PATH'],
  ] as const;
  for (const [names, certVariable, keyVariable, caVariable] of mtlsNames) {
    test(`the worker and the starter connect over mTLS with the client certificate, server CA and server name (${names})`, async () => {
      const config = loadTemporalConfig({
        TEMPORAL_ADDRESS: tlsProxy.address,
        [certVariable]: files.clientCert,
        [keyVariable]: files.clientKey,
        [caVariable]: files.ca,
        TEMPORAL_TLS_SERVER_NAME: SERVER_NAME,
      });
      assert.equal(
        config.warnings.length,
        certVariable === 'TEMPORAL_TLS_CERT_PATH' ? 3 : 0,
        config.warnings.join('\n'),
      );
      const seenBefore = tlsProxy.seen.length;
      const connection = await connectWorkerConnection(config);
      try {
        const info = await connection.workflowService.getSystemInfo({});
        assert.ok(info.serverVersion, 'the server answered through TLS');
      } finally {
        await connection.close();
      }
      const client = await connectClient(config);
      await client.workflowService.getSystemInfo({});
      await client.connection.close();
      const calls = tlsProxy.seen.slice(seenBefore).filter((call) => call.path.endsWith('/GetSystemInfo'));
      assert.ok(calls.length >= 2);
      for (const call of calls) {
        assert.equal(call.clientCertCn, 'catalog-rollout-worker', 'the client certificate was presented');
        assert.equal(call.clientCertAuthorized, true, 'and it is signed by the CA the server trusts');
      }
    });
  }

  test('an API key reaches the server as a bearer token, over TLS and (TEMPORAL_TLS=false) without', async () => {
    const overTls = loadTemporalConfig({
      TEMPORAL_ADDRESS: tlsProxy.address,
      TEMPORAL_API_KEY: API_KEY,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.ca,
      TEMPORAL_TLS_SERVER_NAME: SERVER_NAME,
    });
    const plain = loadTemporalConfig({
      TEMPORAL_ADDRESS: plainProxy.address,
      TEMPORAL_API_KEY: API_KEY,
      TEMPORAL_TLS: 'false',
    });
    assert.deepEqual(connectionOptions(plain), { address: plainProxy.address, tls: false, apiKey: API_KEY });
    // With only an API key, TLS is left to the SDK, which turns it on (Temporal Cloud).
    assert.equal(connectionOptions(loadTemporalConfig({ TEMPORAL_API_KEY: API_KEY })).tls, undefined);
    for (const [config, proxy] of [
      [overTls, tlsProxy],
      [plain, plainProxy],
    ] as const) {
      const connection = await connectWorkerConnection(config);
      try {
        await connection.workflowService.getSystemInfo({});
      } finally {
        await connection.close();
      }
      const call = [...proxy.seen].reverse().find((c) => c.path.endsWith('/GetSystemInfo'));
      assert.equal(call?.authorization, `Bearer ${API_KEY}`);
    }
  });

  test('a wrong certificate path stops the worker at start with a message naming the setting', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        TEMPORAL_ADDRESS: tlsProxy.address,
        TEMPORAL_TLS_CLIENT_CERT_PATH: path.join(dir, 'missing-client.pem'),
        TEMPORAL_TLS_CLIENT_KEY_PATH: files.clientKey,
        TEMPORAL_API_KEY: API_KEY,
        CITRIX_CUSTOMER_ID: 'acme123',
        CITRIX_CLIENT_ID: 'client',
        CITRIX_CLIENT_SECRET: 'citrix-secret-that-must-not-leak',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const [code] = await once(child, 'exit');
    assert.equal(code, 1);
    assert.match(output, /TEMPORAL_TLS_CLIENT_CERT_PATH: cannot read .*missing-client\.pem \(ENOENT\)/);
    assert.ok(!output.includes(API_KEY) && !output.includes('citrix-secret-that-must-not-leak'), output);
  });

  test('a server certificate that does not match TEMPORAL_TLS_SERVER_NAME fails the connection with a hint at the TLS settings', async () => {
    const config = loadWorkerConfig({
      TEMPORAL_ADDRESS: tlsProxy.address,
      TEMPORAL_TLS_SERVER_NAME: 'not-the-server.test',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.ca,
      CITRIX_CUSTOMER_ID: 'acme123',
      CITRIX_CLIENT_ID: 'client',
      CITRIX_CLIENT_SECRET: 'citrix-secret',
    }).temporal;
    await assert.rejects(
      connectWorkerConnection(config),
      /cannot reach the Temporal server .*check TEMPORAL_ADDRESS, the TLS settings/s,
    );
  });
});
