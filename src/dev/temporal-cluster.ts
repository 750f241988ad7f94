/**
 * A throwaway Temporal cluster as production runs it: Temporal's own server on PostgreSQL, its frontend, history,
 * matching and worker services each a process of its own, on 127.0.0.1. For `npm run test:production-stack` and the
 * benchmark's production-stack scenario; `scripts/production-stack/install.sh` installs what it runs.
 *
 * It sets PostgreSQL up with `deploy/temporal/setup-schema.sh` and the namespace with `setup-namespace.sh`, the scripts
 * the compose jobs run, and gives the server `deploy/temporal/dynamicconfig.yaml`, the file compose mounts.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { createWriteStream, existsSync, readdirSync, rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freeLoopbackPort } from './local-temporal';

const run = promisify(execFile);
/** The project's folder, from the sources (src/dev) and from the compiled code (lib/src/dev) alike. */
const ROOT = (() => {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'deploy'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no project folder above ${__dirname}`);
  }
})();
/** The release install.sh builds; its folder holds `bin/temporal-server`, `bin/temporal-sql-tool` and `schema/`. */
export const TEMPORAL_SERVER_VERSION = '1.32.2';

export type TemporalService = 'frontend' | 'history' | 'matching' | 'worker';
/** Started in this order; each joins the others through the membership ring (in PostgreSQL). */
export const TEMPORAL_SERVICES: readonly TemporalService[] = ['history', 'matching', 'frontend', 'worker'];

export interface TemporalClusterOptions {
  /** Where install.sh put the server. @default .cache/temporal-server-<version> */
  installDir?: string;
  /** PostgreSQL's bin folder (initdb, pg_ctl). @default PG_BIN, else pg_ctl on PATH, else Debian's newest */
  pgBin?: string;
  namespace?: string;
  /** Told about each step (start, restart, stop), for the test's log. */
  log?: (line: string) => void;
}

interface Ports {
  postgres: number;
  services: Record<TemporalService, { grpc: number; membership: number; http?: number }>;
}

export class TemporalCluster {
  /** The frontend, `127.0.0.1:port`. */
  readonly address: string;
  readonly namespace: string;
  private readonly processes = new Map<TemporalService, ChildProcess>();

  private constructor(
    private readonly dir: string,
    private readonly installDir: string,
    private readonly pgBin: string,
    private readonly ports: Ports,
    namespace: string,
    private readonly log: (line: string) => void,
  ) {
    this.address = `127.0.0.1:${ports.services.frontend.grpc}`;
    this.namespace = namespace;
  }

  /** Initialises PostgreSQL, applies the schemas, starts the four services and registers the namespace. */
  static async start(options: TemporalClusterOptions = {}): Promise<TemporalCluster> {
    const installDir = options.installDir ?? path.join(ROOT, '.cache', `temporal-server-${TEMPORAL_SERVER_VERSION}`);
    for (const file of ['bin/temporal-server', 'bin/temporal-sql-tool', 'schema/postgresql/v12']) {
      if (!existsSync(path.join(installDir, file))) {
        throw new Error(`${path.join(installDir, file)} is missing: run scripts/production-stack/install.sh first`);
      }
    }
    const pgBin = options.pgBin ?? findPgBin();
    const dir = await mkdtemp(path.join(tmpdir(), 'catalog-rollout-cluster-'));
    // PostgreSQL runs as its own user when this process is root; it must reach its folder inside this one.
    await chmod(dir, 0o755);
    const taken = new Set<number>();
    const port = () => freeMembershipPort(taken);
    const ports: Ports = {
      postgres: await freeLoopbackPort(),
      services: {
        frontend: { grpc: await port(), membership: await port(), http: await port() },
        history: { grpc: await port(), membership: await port() },
        matching: { grpc: await port(), membership: await port() },
        worker: { grpc: await port(), membership: await port() },
      },
    };
    const cluster = new TemporalCluster(
      dir,
      installDir,
      pgBin,
      ports,
      options.namespace ?? 'default',
      options.log ?? (() => {}),
    );
    process.on('exit', cluster.killOnExit);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, cluster.killOnSignal);
    try {
      await cluster.setUpPostgres();
      await cluster.writeServerConfig();
      await cluster.validateDynamicConfig();
      // One at a time: on a new database each service's first start writes the cluster's metadata, and racing
      // starts fail on each other's rows. The worker service needs the frontend up.
      for (const service of TEMPORAL_SERVICES) await cluster.startService(service);
      await cluster.registerNamespace();
    } catch (error) {
      const tail = await cluster.logTail();
      await cluster.stop();
      throw new Error(`the Temporal cluster did not start: ${(error as Error).message}\n${tail}`);
    }
    return cluster;
  }

  /** SIGKILLs the service's process (no graceful hand-over) and starts it again. */
  async restartService(service: TemporalService): Promise<void> {
    const child = this.processes.get(service);
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
    this.log(`killed the ${service} service (SIGKILL)`);
    await this.startService(service);
    if (service === 'frontend') await this.waitForFrontend();
  }

  /** Stops PostgreSQL as a crash would (`pg_ctl stop -m immediate`), waits `downMs`, and starts it again. */
  async restartPostgres(downMs: number): Promise<void> {
    await this.pgCtl(['stop', '-m', 'immediate']);
    this.log(`stopped PostgreSQL (immediate: no checkpoint, recovery at start) for ${downMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, downMs));
    await this.startPostgres();
    this.log('started PostgreSQL again');
  }

  /** The process ids of the four services and of PostgreSQL's postmaster (for CPU figures). */
  async processIds(): Promise<{ services: Record<TemporalService, number>; postgres: number }> {
    const services = Object.fromEntries(
      TEMPORAL_SERVICES.map((service) => [service, this.processes.get(service)?.pid ?? 0]),
    ) as Record<TemporalService, number>;
    const postmaster = await readFile(path.join(this.pgData, 'postmaster.pid'), 'utf8');
    return { services, postgres: Number(postmaster.split('\n')[0]) };
  }

  /** The last lines each service wrote, for a failed test's message. */
  async logTail(lines = 20): Promise<string> {
    const parts: string[] = [];
    for (const name of [...TEMPORAL_SERVICES, 'pg/postgresql']) {
      const text = await readFile(path.join(this.dir, `${name}.log`), 'utf8').catch(() => '');
      parts.push(`--- ${name}\n${text.trimEnd().split('\n').slice(-lines).join('\n')}`);
    }
    return parts.join('\n');
  }

  /** When the process exits without `stop()` (a failed test, Ctrl-C): nothing of the cluster outlives it. */
  private readonly killOnExit = () => {
    for (const child of this.processes.values()) child.kill('SIGKILL');
    const pgCtl = path.join(this.pgBin, 'pg_ctl');
    const args = ['-D', this.pgData, 'stop', '-m', 'immediate'];
    try {
      if (userInfo().uid === 0) execFileSync('runuser', ['-u', 'postgres', '--', pgCtl, ...args], { stdio: 'ignore' });
      else execFileSync(pgCtl, args, { stdio: 'ignore' });
    } catch {
      // not running
    }
    rmSync(this.dir, { recursive: true, force: true });
  };

  /** Cleans up, then dies of the signal as it would have without this handler. */
  private readonly killOnSignal = (signal: NodeJS.Signals) => {
    this.killOnExit();
    process.kill(process.pid, signal);
  };

  async stop(): Promise<void> {
    process.off('exit', this.killOnExit);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.off(signal, this.killOnSignal);
    await Promise.all(
      [...this.processes.values()].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    this.processes.clear();
    await this.pgCtl(['stop', '-m', 'fast']).catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }

  private get configFile() {
    return path.join(this.dir, 'server.yaml');
  }

  private get pgData() {
    return path.join(this.dir, 'pg', 'data');
  }

  /** Runs a PostgreSQL program as the `postgres` user when this process is root (PostgreSQL refuses root). */
  private async asPostgres(program: string, args: string[]) {
    const binary = path.join(this.pgBin, program);
    return userInfo().uid === 0 ? run('runuser', ['-u', 'postgres', '--', binary, ...args]) : run(binary, args);
  }

  private pgCtl(args: string[]) {
    return this.asPostgres('pg_ctl', ['-D', this.pgData, '-w', '-t', '60', ...args]);
  }

  private async startPostgres(): Promise<void> {
    const options = [
      `-p ${this.ports.postgres}`,
      `-k ${path.join(this.dir, 'pg')}`,
      '-c listen_addresses=127.0.0.1',
      // Four services, each with its pools for the two databases.
      '-c max_connections=200',
    ].join(' ');
    await this.pgCtl(['-l', path.join(this.dir, 'pg', 'postgresql.log'), '-o', options, 'start']);
  }

  /** A cluster of its own, the `temporal` role with a password, then the compose job's schema script. */
  private async setUpPostgres(): Promise<void> {
    const pgDir = path.join(this.dir, 'pg');
    await mkdir(pgDir, { mode: 0o700 });
    if (userInfo().uid === 0) await run('chown', ['postgres:postgres', pgDir]);
    // A throwaway password for a throwaway database, in a file of this run's folder only.
    this.password = randomBytes(18).toString('base64url');
    const pwFile = path.join(pgDir, 'pwfile');
    await writeFile(pwFile, `${this.password}\n`, { mode: 0o600 });
    if (userInfo().uid === 0) await run('chown', ['postgres', pwFile]);
    await this.asPostgres('initdb', [
      '-D',
      this.pgData,
      '-U',
      'temporal',
      '--pwfile',
      pwFile,
      '--auth-local=scram-sha-256',
      '--auth-host=scram-sha-256',
      '-E',
      'UTF8',
    ]);
    await rm(pwFile);
    await this.startPostgres();
    this.log(`PostgreSQL ${await this.pgVersion()} on 127.0.0.1:${this.ports.postgres}`);
    const started = performance.now();
    await run('sh', [path.join(ROOT, 'deploy/temporal/setup-schema.sh')], {
      env: {
        ...process.env,
        PATH: `${path.join(this.installDir, 'bin')}${path.delimiter}${process.env.PATH ?? ''}`,
        POSTGRES_SEEDS: '127.0.0.1',
        DB_PORT: String(this.ports.postgres),
        POSTGRES_USER: 'temporal',
        SQL_PASSWORD: this.password,
        SCHEMA_DIR: path.join(this.installDir, 'schema/postgresql/v12'),
      },
    });
    this.log(`schemas applied by deploy/temporal/setup-schema.sh in ${Math.round(performance.now() - started)} ms`);
  }

  private password = '';

  private async pgVersion(): Promise<string> {
    const { stdout } = await run(path.join(this.pgBin, 'postgres'), ['--version']);
    return stdout.trim().replace(/^postgres \(PostgreSQL\) /, '');
  }

  private async writeServerConfig(): Promise<void> {
    const store = (database: string, maxConns: number) => `
      sql:
        pluginName: postgres12
        databaseName: ${database}
        connectAddr: 127.0.0.1:${this.ports.postgres}
        connectProtocol: tcp
        user: temporal
        password: ${JSON.stringify(this.password)}
        maxConns: ${maxConns}
        maxIdleConns: ${maxConns}
        maxConnLifetime: 1h`;
    const service = (name: TemporalService) => {
      const { grpc, membership, http } = this.ports.services[name];
      return `
  ${name}:
    rpc:
      grpcPort: ${grpc}
      membershipPort: ${membership}
      bindOnLocalHost: true${http ? `\n      httpPort: ${http}` : ''}`;
    };
    const config = `# Written by src/dev/temporal-cluster.ts for one run.
log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: 4
  datastores:
    default:${store('temporal', 20)}
    visibility:${store('temporal_visibility', 10)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:${TEMPORAL_SERVICES.map(service).join('')}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: ${this.address}
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: ${path.join(ROOT, 'deploy/temporal/dynamicconfig.yaml')}
  pollInterval: 10s
`;
    await writeFile(this.configFile, config, { mode: 0o600 });
  }

  /** The server's own check of the file compose mounts: known keys, values of the right type. */
  private async validateDynamicConfig(): Promise<void> {
    const file = path.join(ROOT, 'deploy/temporal/dynamicconfig.yaml');
    const { stdout, stderr } = await run(path.join(this.installDir, 'bin/temporal-server'), [
      'validate-dynamic-config',
      file,
    ]);
    // It exits 0 either way: an unknown key or a wrong type shows as a warning line.
    const warnings = `${stdout}${stderr}`.split('\n').filter((line) => /warning/i.test(line));
    if (warnings.length) throw new Error(`deploy/temporal/dynamicconfig.yaml:\n${warnings.join('\n')}`);
    this.log("deploy/temporal/dynamicconfig.yaml passes the server's validate-dynamic-config");
  }

  private async startService(service: TemporalService): Promise<void> {
    const out = createWriteStream(path.join(this.dir, `${service}.log`), { flags: 'a' });
    const child = spawn(
      path.join(this.installDir, 'bin/temporal-server'),
      ['--config-file', this.configFile, '--allow-no-auth', 'start', '--service', service],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    this.processes.set(service, child);
    const started = performance.now();
    await waitForPort(this.ports.services[service].grpc, child, service);
    this.log(
      `started the ${service} service (pid ${child.pid}, gRPC 127.0.0.1:${this.ports.services[service].grpc}) ` +
        `in ${Math.round(performance.now() - started)} ms`,
    );
  }

  private temporalCli(args: string[]) {
    return run('temporal', [...args, '--address', this.address], { env: { ...process.env } });
  }

  private async waitForFrontend(): Promise<void> {
    await retry(60_000, () => this.temporalCli(['operator', 'cluster', 'health']));
  }

  /** The compose job's namespace script, again until the new cluster answers (as compose restarts the job). */
  private async registerNamespace(): Promise<void> {
    await this.waitForFrontend();
    const started = performance.now();
    await retry(90_000, () =>
      run('sh', [path.join(ROOT, 'deploy/temporal/setup-namespace.sh')], {
        env: { ...process.env, TEMPORAL_ADDRESS: this.address, NAMESPACE: this.namespace },
      }),
    );
    this.log(
      `namespace ${this.namespace} and search attributes registered by deploy/temporal/setup-namespace.sh in ` +
        `${Math.round(performance.now() - started)} ms`,
    );
  }
}

async function retry<T>(timeoutMs: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}

/** Resolves once something accepts connections on the port; fails when `child` exits first or after a minute. */
async function waitForPort(port: number, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the ${what} service exited (${child.exitCode ?? child.signalCode}) before it listened`);
    }
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`the ${what} service did not listen on 127.0.0.1:${port} within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * A free port of 127.0.0.1 below 32768: the PostgreSQL schema keeps a member's port as a smallint, so the ephemeral
 * range (where the system's free ports come from) is out of reach.
 */
async function freeMembershipPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.has(port)) continue;
    const server = createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false)).listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!free) continue;
    await new Promise((resolve) => server.close(resolve));
    taken.add(port);
    return port;
  }
  throw new Error('no free port of 127.0.0.1 between 20000 and 32000');
}

function findPgBin(env = process.env): string {
  if (env.PG_BIN) return env.PG_BIN;
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, 'pg_ctl')) && existsSync(path.join(dir, 'initdb'))) return dir;
  }
  const debian = '/usr/lib/postgresql';
  const versions = existsSync(debian)
    ? readdirSync(debian)
        .filter((name) => existsSync(path.join(debian, name, 'bin/initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions[0]) return path.join(debian, versions[0], 'bin');
  throw new Error('PostgreSQL is missing: run scripts/production-stack/install.sh, or set PG_BIN to its bin folder');
}
