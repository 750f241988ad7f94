/** `npm run codec-server`: decrypts payloads for the Temporal UI and CLI with the worker's keys. */
import { ConfigError, loadCodecServerConfig } from '../config';
import { EncryptionCodec } from './encryption-codec';
import { startCodecServer } from './server';

async function main(): Promise<void> {
  const config = loadCodecServerConfig();
  const server = await startCodecServer({
    codec: new EncryptionCodec(config.keys),
    host: config.host,
    port: config.port,
    authToken: config.authToken,
    corsOrigins: config.corsOrigins,
  });
  // One line, for people and scripts alike; key ids are names, not keys.
  console.log(
    JSON.stringify({
      codecServer: server.url,
      keyIds: config.keys.keyIds,
      encryptingKeyId: config.keys.encryptingKeyId,
      authorization: config.authToken ? 'required' : 'off (loopback only)',
      corsOrigins: config.corsOrigins,
    }),
  );
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void server.close().then(() => process.exit(0)));
  }
}

main().catch((error: unknown) => {
  const message = error instanceof ConfigError ? error.message : ((error as Error).message ?? String(error));
  console.error(`catalog-rollout codec server: ${message}`);
  process.exit(1);
});
