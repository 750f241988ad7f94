import { Command, InvalidArgumentError } from 'commander';
import { readFile } from 'node:fs/promises';
import { BlockList, createServer, connect, isIP, type AddressInfo } from 'node:net';
import ms from 'ms';
import { parseSeed, type SimulatorSeed } from './seed';
import { startSimulator } from './server';

function duration(value: string): number {
  if (/^infinity$/i.test(value)) return Infinity;
  const parsed = /^\d+(\.\d+)?$/.test(value) ? Number(value) : ms(value as ms.StringValue);
  if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed < 0) {
    throw new InvalidArgumentError(`expected a duration such as 1500, 1.5s or 20m (or Infinity), got '${value}'`);
  }
  return parsed;
}

function integer(min: number, max: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got '${value}'`);
    }
    return parsed;
  };
}

function positiveRate(value: string): number {
  const parsed = /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(parsed) || parsed <= 0) {
    throw new InvalidArgumentError(
      `expected a positive number of requests per second such as 50 or 2.5, got '${value}'`,
    );
  }
  return parsed;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** 127.0.0.0/8, ::1 (IPv4-mapped loopback addresses too) or localhost. */
function isLoopback(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const family = isIP(host);
  return family !== 0 && LOOPBACK.check(host, family === 4 ? 'ipv4' : 'ipv6');
}

async function loadSeed(path: string): Promise<SimulatorSeed> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read data file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  try {
    return parseSeed(JSON.parse(text));
  } catch (error) {
    throw new Error(`data file ${path}: ${(error as Error).message}`);
  }
}

async function main(): Promise<void> {
  const program = new Command('simulator')
    .description('Citrix Cloud Catalog Service simulator; prints one JSON line with its URLs and credentials')
    .option('--port <port>', 'port to listen on (0: any free port)', integer(0, 65535), 8787)
    .option('--host <address>', 'address to listen on (0.0.0.0 in a container, with --allow-remote)', '127.0.0.1')
    .option('--allow-remote', 'allow a --host that is not a loopback address, exposing the admin API to the network')
    .option('--data <file>', 'JSON data set to serve instead of the built-in seed')
    .option('--update-duration <duration>', 'how long an accepted image update stays Processing', duration, 20_000)
    .option('--accept-lag <duration>', 'how long a catalog reads unchanged after a 202', duration, 1_500)
    .option(
      '--machine-restart <duration>',
      'how long machines take to restart by themselves after an update with vdaUpdateDelay -1 (Infinity: never)',
      duration,
      5_000,
    )
    .option('--minute <duration>', "how long one of vdaUpdateDelay's minutes lasts", duration, 1_000)
    .option('--token-ttl <seconds>', 'lifetime of issued tokens', integer(1, 86_400 * 365), 3600)
    .option(
      '--rate-limit <requests per second>',
      "answer 429 with a retryDelay, as Citrix Cloud's gateway does, to a customer's API requests past this rate " +
        '(sliding one-second window; token endpoints and the admin API are not limited; default: no limit)',
      positiveRate,
    )
    .configureOutput({ outputError: (text, write) => write(text) });
  program.exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 1));
  const options = program.parse().opts<{
    port: number;
    host: string;
    allowRemote?: boolean;
    data?: string;
    updateDuration: number;
    acceptLag: number;
    machineRestart: number;
    minute: number;
    tokenTtl: number;
    rateLimit?: number;
  }>();

  if (!isLoopback(options.host) && !options.allowRemote) {
    throw new Error(
      `the simulator hands out its demo credentials and has an admin API; listening on ${options.host} exposes them ` +
        'to the network: pass --allow-remote to do it anyway, for example inside a container network',
    );
  }
  const local = options.host === '127.0.0.1' || options.host === 'localhost';
  const simulator = await startSimulator({
    port: local ? options.port : 0,
    seed: options.data ? await loadSeed(options.data) : undefined,
    updateDurationMs: options.updateDuration,
    acceptLagMs: options.acceptLag,
    machineRestartMs: options.machineRestart,
    minuteMs: options.minute,
    tokenTtlSeconds: options.tokenTtl,
    rateLimit: options.rateLimit === undefined ? undefined : { requestsPerSecond: options.rateLimit },
  });
  const { customerId, siteId, clientId, clientSecret, adminToken } = simulator;
  let { baseUrl, tokenUrl, govTokenUrl, adminUrl } = simulator;
  if (!local) {
    // The simulator itself listens on loopback only; forward connections from the requested address to it.
    const origin = new URL(simulator.baseUrl).origin;
    const inner = Number(new URL(origin).port);
    const forwarder = createServer((socket) => {
      const upstream = connect(inner, '127.0.0.1');
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      forwarder.once('error', reject);
      forwarder.listen({ host: options.host, port: options.port }, resolve);
    });
    const port = (forwarder.address() as AddressInfo).port;
    const outer = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
    [baseUrl, tokenUrl, govTokenUrl, adminUrl] = [baseUrl, tokenUrl, govTokenUrl, adminUrl].map((url) =>
      url.replace(origin, outer),
    ) as [string, string, string, string];
  }
  // The only place the admin token is shown: whoever started the simulator reads it here.
  process.stdout.write(
    `${JSON.stringify({ baseUrl, tokenUrl, govTokenUrl, adminUrl, adminToken, customerId, siteId, clientId, clientSecret })}\n`,
  );

  const stop = () => {
    simulator.close().then(
      () => process.exit(0),
      () => process.exit(0),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  const code = (error as NodeJS.ErrnoException).code;
  const message =
    code === 'EADDRINUSE' ? `port already in use (${(error as Error).message})` : (error as Error).message;
  process.stderr.write(`simulator: ${message}\n`);
  process.exit(1);
});
