/**
 * `npm run bench`: what catalog-rollout adds on top of Citrix's own update time, measured end to end.
 *
 * Starts a Temporal dev server (SQLite file, journal_mode=WAL, synchronous=OFF), the Citrix simulator and one catalog
 * worker as separate processes, runs the scenarios, prints one table and writes it as JSON under bench-results/.
 * Every size is a flag (`npm run bench -- --help`). Not a test: it prints figures and marks the targets.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { Command } from 'commander';
import ms from 'ms';
import { CitrixClient } from '../../src/citrix';
import { catalogUpdateWorkflowId } from '../../src/shared';
import { SearchAttributes, catalogsOf } from '../../src/shared/rollout';
import {
  DEFAULT_SEED,
  SEED_IDS,
  type RecordedRequest,
  type RunningSimulator,
  type SimulatorSeed,
} from '../../src/simulator';
import { startCatalogUpdate, startRollout } from '../../src/client';
import { ROLLOUT_LIMITS } from '../../src/shared/rollout-progress';
import { findTemporalCli, freeLoopbackPort, startTimeSkippingTemporal } from '../../src/dev/local-temporal';
import { createCatalogWorker } from '../../src/worker';
import { TEMPORAL_SERVER_VERSION } from '../../src/dev/temporal-cluster';
import { closeTimes, cpuMs, pool, waitUntilClosed } from './measure';
import { runScaleOnCluster } from './production-stack';

/* ---------------------------------------------------------------- options */

interface Options {
  catalogs: number;
  updateDuration: number;
  acceptLag: number;
  poll: number;
  singleCatalogs: number;
  baselineSleep: number;
  throughputWorkflows: number;
  footprintWorkflows: number;
  longHours: number;
  longPoll: number;
  startConcurrency: number;
  inject429: number;
  workerEnv: string[];
  serverArg: string[];
  eagerActivities: boolean;
  workerHeapMb: number;
  budgetCatalogs: number;
  budgetRate: number;
  budgetWorkers: number;
  budgetUpdate: number;
  budgetPoll: number;
  scenarios: string;
  build: boolean;
  out?: string;
}

const duration = (value: string): number => {
  const parsed = /^\d+$/.test(value) ? Number(value) : ms(value as ms.StringValue);
  if (typeof parsed !== 'number' || !Number.isFinite(parsed)) throw new Error(`not a duration: ${value}`);
  return parsed;
};
const collect = (value: string, previous: string[]) => [...previous, value];

function parseOptions(): Options {
  return new Command('bench')
    .description('catalog-rollout overhead benchmark (prints figures; not a test)')
    .option('--catalogs <n>', 'catalogs updated at once by one worker', Number, 1000)
    .option('--update-duration <d>', 'simulated Citrix update time (Processing)', duration, 60_000)
    .option('--accept-lag <d>', 'simulated time a catalog reads unchanged after the 202', duration, 1_500)
    .option('--poll <d>', 'poll interval of the scale and single-catalog scenarios', duration, 5_000)
    .option('--single-catalogs <n>', 'catalogs per group in the single-catalog scenario', Number, 3)
    .option('--baseline-sleep <d>', 'sleep of the Terraform-like baseline loop', duration, 30_000)
    .option('--throughput-workflows <n>', 'workflows per throughput measurement (bare and orchestration)', Number, 500)
    .option('--footprint-workflows <n>', 'cached workflows per memory footprint measurement', Number, 500)
    .option('--long-hours <h>', 'hours a catalog stays Processing in the time-skipping history scenario', Number, 24)
    .option('--long-poll <d>', 'poll interval of the time-skipping history scenario', duration, 30_000)
    .option('--start-concurrency <n>', 'workflow starts in flight at once', Number, 100)
    .option(
      '--inject-429 <n>',
      'answer this many catalog reads of the scale scenario with 429 (Retry-After 1)',
      Number,
      0,
    )
    .option('--worker-env <K=V>', 'extra environment for the catalog worker (repeatable)', collect, [])
    .option('--server-arg <arg>', 'extra argument for `temporal server start-dev` (repeatable)', collect, [])
    .option(
      '--worker-heap-mb <n>',
      "V8 heap limit of the worker processes (--max-old-space-size), as the Docker image sets it; 0 for Node's default",
      Number,
      256,
    )
    .option(
      '--no-eager-activities',
      "leave the server's eager activity dispatch off (system.enableActivityEagerExecution, on by default here)",
    )
    .option('--budget-catalogs <n>', 'catalogs of the rollout in the request budget scenario', Number, 2000)
    .option('--budget-rate <n>', "the simulator's rate limit and the workers' request budget (requests/s)", Number, 50)
    .option('--budget-workers <n>', 'worker processes sharing the budget', Number, 3)
    .option('--budget-update <d>', 'simulated Citrix update time in the budget scenario', duration, 60_000)
    .option(
      '--budget-poll <d>',
      'poll interval of the budget scenario: short enough that 500 updates at once ask more than the budget',
      duration,
      5_000,
    )
    .option(
      '--scenarios <list>',
      'comma-separated: coldstart,single,scale,throughput,footprint,long,budget,production-stack (the last two ' +
        'run only when named; production-stack runs scale too, and needs scripts/production-stack/install.sh)',
      'coldstart,single,scale,throughput,footprint,long',
    )
    .option('--no-build', 'skip `npm run build` (lib/ and workflow-bundle.js must be current)')
    .option('--out <file>', 'where to write the JSON (default bench-results/bench-<time>.json)')
    .parse()
    .opts<Options>();
}

/* ---------------------------------------------------------------- processes */

function findRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'tsconfig.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the project root (tsconfig.json)');
    dir = up;
  }
  return dir;
}
const ROOT = findRoot();
const sleep = (msec: number) => new Promise((resolve) => setTimeout(resolve, msec));

const heapFlags = (opt: Options) => (opt.workerHeapMb > 0 ? [`--max-old-space-size=${opt.workerHeapMb}`] : []);

/** Resident set size now and at its peak (VmHWM), in MB. */
function rssMb(pid: number): { now: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { now: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

const children: ChildProcess[] = [];
function startProcess(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, logDir: string) {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const log = createWriteStream(path.join(logDir, `${name}.log`));
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  return child;
}

function waitForOutput(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(
      () => reject(new Error(`${what} did not start within ${timeoutMs} ms:\n${text}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      text += chunk;
      const match = pattern.exec(text);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stderr!.off('data', onData);
        resolve(match[0]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code}:\n${text}`)));
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/* ---------------------------------------------------------------- simulator */

/** The simulator in its own process: the addresses and credentials it prints, as the in-process one has them. */
type Simulator = Pick<
  RunningSimulator,
  'baseUrl' | 'tokenUrl' | 'adminUrl' | 'adminToken' | 'customerId' | 'siteId' | 'clientId' | 'clientSecret'
> & { child: ChildProcess };

const catalogId = (i: number) => `ca7a10c0-0000-4000-b000-${String(i + 1).padStart(12, '0')}`;

function seedWith(count: number): SimulatorSeed {
  const template = DEFAULT_SEED.catalogs[0]!;
  const catalogs = Array.from({ length: count }, (_, i) => ({
    ...template,
    id: catalogId(i),
    name: `Bench ${String(i + 1).padStart(5, '0')}`,
  }));
  return { ...DEFAULT_SEED, catalogs };
}

async function admin(sim: Simulator, method: string, resource: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${sim.adminUrl}/${resource}`, {
    method,
    headers: {
      authorization: `Bearer ${sim.adminToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`simulator admin ${method} ${resource}: HTTP ${response.status}`);
  return response.status === 204 ? undefined : response.json();
}
const simRequests = async (sim: Simulator) =>
  ((await admin(sim, 'GET', 'requests')) as { requests: RecordedRequest[] }).requests;
const setTiming = (sim: Simulator, updateDurationMs: number | null, acceptLagMs: number) =>
  admin(sim, 'POST', 'settings', { updateDurationMs, acceptLagMs });

function citrixEnv(sim: Simulator): Record<string, string> {
  return {
    CITRIX_CUSTOMER_ID: sim.customerId,
    CITRIX_CLIENT_ID: sim.clientId,
    CITRIX_CLIENT_SECRET: sim.clientSecret,
    CITRIX_SITE_ID: sim.siteId,
    CITRIX_API_BASE_URL: sim.baseUrl,
    CITRIX_TOKEN_URL: sim.tokenUrl,
  };
}

function citrixClient(sim: Simulator, onExchange?: () => void): CitrixClient {
  return new CitrixClient({
    customerId: sim.customerId,
    clientId: sim.clientId,
    clientSecret: sim.clientSecret,
    siteId: sim.siteId,
    apiBaseUrl: sim.baseUrl,
    tokenUrl: sim.tokenUrl,
    onExchange,
  });
}

/* ---------------------------------------------------------------- figures */

interface Figure {
  scenario: string;
  figure: string;
  value: string;
  target?: string;
  ok?: boolean;
}
const figures: Figure[] = [];
function record(scenario: string, figure: string, value: string, target?: string, ok?: boolean): void {
  figures.push({ scenario, figure, value, target, ok });
  const verdict = ok === undefined ? '' : `: ${ok ? 'ok' : 'MISSED'}`;
  console.log(`  [${scenario}] ${figure}: ${value}${target ? `  (target ${target}${verdict})` : ''}`);
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
const s = (msec: number, digits = 2) => `${(msec / 1000).toFixed(digits)} s`;

/** Per catalog: reads, posts and the moment Citrix finished its update (post + accept lag + update time). */
function perCatalog(log: RecordedRequest[], id: string, acceptLag: number, updateDuration: number) {
  const mine = log.filter((r) => r.path.toLowerCase().includes(id));
  const reads = mine.filter((r) => r.operation === 'catalog').length;
  const posts = mine.filter((r) => r.operation === 'updateImage');
  const accepted = posts.find((r) => r.status === 202 || r.withheldStatus === 202);
  return {
    reads,
    posts: posts.length,
    activeAtMs: accepted ? Date.parse(accepted.time) + acceptLag + updateDuration : NaN,
  };
}

function errorAnswers(log: RecordedRequest[]) {
  return {
    status429: log.filter((r) => r.status === 429).length,
    other: log.filter((r) => r.status === 0 || r.status >= 500).length,
  };
}

/** The highest number of catalog reads that arrived within one second, and the mean over the busy seconds. */
function readBurstiness(log: RecordedRequest[]): { peak: number; mean: number } {
  const perSecond = new Map<number, number>();
  for (const r of log) {
    if (r.operation !== 'catalog') continue;
    const second = Math.floor(Date.parse(r.time) / 1000);
    perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
  }
  const counts = [...perSecond.values()];
  return { peak: Math.max(0, ...counts), mean: counts.reduce((a, b) => a + b, 0) / Math.max(1, counts.length) };
}

/* ---------------------------------------------------------------- main */

const IMAGE = SEED_IDS.images.win11Nov;
const CATALOG_QUEUE = 'bench-catalogs';
const BUDGET_QUEUE = 'bench-budget';
const BARE_QUEUE = 'bench-bare';

async function main(): Promise<void> {
  /** The scale scenario's figures on the dev server, for the production-stack scenario's ratios. */
  let devServerScale: { wallMs: number; serverCpuMs: number; workerCpuMs: number } | undefined;
  const opt = parseOptions();
  const scenarios = new Set(opt.scenarios.split(',').map((x) => x.trim()));
  // The production-stack scenario is a ratio to the dev server's scale run, in the same run.
  if (scenarios.has('production-stack')) scenarios.add('scale');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const cores = os.cpus().length;
  const loadBefore = os.loadavg();
  const startedAt = new Date();
  const runDir = path.join(ROOT, 'bench-results', `run-${startedAt.toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(runDir, { recursive: true });
  console.log(`bench: ${cores} cores, load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}; logs in ${runDir}`);

  if (opt.build) {
    console.log('bench: npm run build');
    const built = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    if (built.status !== 0) throw new Error('npm run build failed');
  }
  const bundlePath = path.join(ROOT, 'lib/workflow-bundle.js');
  for (const file of [bundlePath, path.join(ROOT, 'lib/src/worker.js')]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build (or drop --no-build)`);
  }

  // Catalog ranges per scenario, so that no scenario reads another's catalogs.
  const ranges: Record<string, [number, number]> = {};
  let used = 0;
  const take = (name: string, n: number) => {
    ranges[name] = [used, used + n];
    used += n;
  };
  take('coldstart', 0);
  take('single', 3 * opt.singleCatalogs);
  take('scale', opt.catalogs);
  take('orchestration', opt.throughputWorkflows);
  take('long', 1);
  take('budget', scenarios.has('budget') ? opt.budgetCatalogs : 0);
  take('production-stack', scenarios.has('production-stack') ? opt.catalogs : 0);
  const ids = (name: string) =>
    Array.from({ length: ranges[name]![1] - ranges[name]![0] }, (_, i) => catalogId(ranges[name]![0] + i));
  const seedFile = path.join(runDir, 'seed.json');
  writeFileSync(seedFile, JSON.stringify(seedWith(used)));

  // Temporal dev server, with the SQLite pragmas Temporal's own TypeScript CI uses.
  const cli = findTemporalCli();
  if (!cli) throw new Error('the Temporal CLI is not on PATH (or TEMPORAL_CLI_PATH)');
  const [port, httpPort, metricsPort] = [await freeLoopbackPort(), await freeLoopbackPort(), await freeLoopbackPort()];
  const address = `127.0.0.1:${port}`;
  const server = startProcess(
    'temporal',
    cli,
    [
      'server',
      'start-dev',
      '--headless',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--http-port',
      String(httpPort),
      '--metrics-port',
      String(metricsPort),
      '--db-filename',
      path.join(runDir, 'temporal.db'),
      '--sqlite-pragma',
      'journal_mode=WAL',
      '--sqlite-pragma',
      'synchronous=OFF',
      '--log-level',
      'warn',
      ...Object.values(SearchAttributes).flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
      // An activity scheduled by a workflow task goes straight back to the worker that completed it, skipping a
      // round trip through matching; the worker side is on by default. Recommended for production servers too.
      ...(opt.eagerActivities ? ['--dynamic-config-value', 'system.enableActivityEagerExecution=true'] : []),
      ...opt.serverArg,
    ],
    process.env,
    runDir,
  );
  const simChild = startProcess(
    'simulator',
    process.execPath,
    [
      path.join(ROOT, 'lib/src/simulator/main.js'),
      '--port',
      '0',
      '--data',
      seedFile,
      '--update-duration',
      String(opt.updateDuration),
      '--accept-lag',
      String(opt.acceptLag),
    ],
    process.env,
    runDir,
  );
  const sim: Simulator = { child: simChild, ...JSON.parse(await waitForOutput(simChild, /^\{.*\}$/m, 'simulator')) };

  let connection: Connection | undefined;
  for (let i = 0; !connection; i++) {
    try {
      connection = await Connection.connect({ address, connectTimeout: '2 seconds' });
      await connection.workflowService.getSystemInfo({});
    } catch (error) {
      connection = undefined;
      if (i > 60) throw error;
      await sleep(500);
    }
  }
  const client = new Client({ connection });
  const workerEnv: NodeJS.ProcessEnv = {
    ...process.env,
    ...citrixEnv(sim),
    TEMPORAL_ADDRESS: address,
    TEMPORAL_TASK_QUEUE: CATALOG_QUEUE,
    WORKFLOW_BUNDLE_PATH: bundlePath,
    LOG_LEVEL: 'WARN',
    // Sized for the scale scenario: every waiting update holds an activity slot while its poll loops.
    WORKER_MAX_CONCURRENT_ACTIVITIES: String(Math.max(200, 2 * opt.catalogs + 200)),
    // The overhead scenarios measure the worker and Temporal, not a Citrix budget (the budget scenario sets its own).
    CITRIX_MAX_REQUESTS_PER_SECOND: '0',
    ...Object.fromEntries(opt.workerEnv.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
  };

  // ---- cold start: a workflow task waits on the queue; the worker is spawned; when was the task picked up?
  const probe = await client.workflow.start('updateCatalogImage', {
    taskQueue: CATALOG_QUEUE,
    workflowId: `bench-coldstart-${Date.now()}`,
    args: [{ catalogId: 'not-a-guid', imageId: IMAGE }],
  });
  const spawnedAt = Date.now();
  const worker = startProcess(
    'worker',
    process.execPath,
    [...heapFlags(opt), path.join(ROOT, 'lib/src/worker.js')],
    workerEnv,
    runDir,
  );
  await Promise.race([
    probe.result().catch(() => undefined),
    new Promise((_, reject) =>
      worker.once('exit', (code) => reject(new Error(`worker exited with ${code}: see worker.log`))),
    ),
  ]);
  {
    const { events } = await probe.fetchHistory();
    const started = events?.find((e) => e.workflowTaskStartedEventAttributes);
    const at = started?.eventTime
      ? Number(started.eventTime.seconds) * 1000 + Math.floor((started.eventTime.nanos ?? 0) / 1e6)
      : NaN;
    if (scenarios.has('coldstart')) {
      record(
        'coldstart',
        'worker cold start to first task polled (prebuilt bundle)',
        s(at - spawnedAt),
        '≤ 3 s',
        at - spawnedAt <= 3_000,
      );
      record('coldstart', 'worker RSS after start', `${rssMb(worker.pid!).now.toFixed(0)} MB`);
    }
  }
  const pollWorkerRss = () => {
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, rssMb(worker.pid!).now)), 500);
    return () => {
      clearInterval(timer);
      return Math.max(peak, rssMb(worker.pid!).now);
    };
  };
  const cpuOf = () => ({ worker: cpuMs(worker.pid!), sim: cpuMs(simChild.pid!), server: cpuMs(server.pid!) });

  const startUpdates = async (catalogIds: string[], pollIntervalMs: number) => {
    const first = Date.now();
    await pool(catalogIds, opt.startConcurrency, (id) =>
      startCatalogUpdate(client, CATALOG_QUEUE, {
        catalogId: id,
        imageId: IMAGE,
        pollIntervalMs,
        deadlineMs: 3_600_000,
      }),
    );
    return { firstStartMs: first, lastStartMs: Date.now() };
  };
  const citrixTime = opt.acceptLag + opt.updateDuration;

  // ---- single-catalog updates: ours at the scale poll interval, ours at the baseline's 30 s, and the baseline.
  if (scenarios.has('single')) {
    console.log('bench: single-catalog scenario');
    await setTiming(sim, opt.updateDuration, opt.acceptLag);
    await admin(sim, 'DELETE', 'requests');
    const all = ids('single');
    const k = opt.singleCatalogs;
    const groups = { fast: all.slice(0, k), slow: all.slice(k, 2 * k), baseline: all.slice(2 * k) };
    let baselineCalls = 0;
    const baselineClient = citrixClient(sim, () => baselineCalls++);
    const baselineDone = new Map<string, number>();
    const baseline = Promise.all(
      groups.baseline.map(async (id) => {
        // What a Terraform apply does: refresh (read), post, then sleep and read until the catalog is done.
        await baselineClient.getCatalog(id);
        await baselineClient.updateImage(id, { templateId: IMAGE, citrixPrepared: false, vdaUpdateDelay: -1 });
        for (;;) {
          await sleep(opt.baselineSleep);
          const catalog = await baselineClient.getCatalog(id);
          if (catalog.state === 'Active' && catalog.imageId?.toLowerCase() === IMAGE.toLowerCase()) break;
        }
        baselineDone.set(id, Date.now());
      }),
    );
    await startUpdates(groups.fast, opt.poll);
    await startUpdates(groups.slow, opt.baselineSleep);
    await Promise.all(
      [...groups.fast, ...groups.slow].map((id) => client.workflow.getHandle(catalogUpdateWorkflowId(id)).result()),
    );
    await baseline;
    await baselineClient.close();
    const log = await simRequests(sim);
    const tokens = log.filter((r) => r.operation === 'token').length - 1; // one is the baseline client's
    const imageReads = log.filter((r) => r.operation === 'image').length;
    const ours = [...groups.fast, ...groups.slow].length;
    const describeGroup = async (label: string, group: string[], poll: number) => {
      const closes = await closeTimes(client, group.map(catalogUpdateWorkflowId));
      const stats = group.map((id) => perCatalog(log, id, opt.acceptLag, opt.updateDuration));
      const reads = stats.reduce((a, x) => a + x.reads, 0) / group.length;
      const calls = reads + stats.reduce((a, x) => a + x.posts, 0) / group.length + (imageReads + tokens) / ours;
      const expected = 3 + 1 + Math.ceil(citrixTime / poll);
      const latencies = closes.map((c, i) => c.closeMs - stats[i]!.activeAtMs);
      record(
        'single',
        `catalog-rollout @${s(poll, 0)} poll: Citrix API calls per update`,
        `${calls.toFixed(2)} (catalog reads ${reads.toFixed(1)}, image reads ${(imageReads / ours).toFixed(2)}, posts 1, tokens ${(tokens / ours).toFixed(2)})`,
        `= ${expected} (3 validation reads + 1 POST + ⌈${s(citrixTime, 1)} / ${s(poll, 0)}⌉), wasted 0`,
        calls <= expected + 0.5,
      );
      record(
        'single',
        `catalog-rollout @${s(poll, 0)} poll: detection latency p50 / p99`,
        `${s(percentile(latencies, 50))} / ${s(percentile(latencies, 99))}`,
        `≤ ${s(poll + 1000, 0)}`,
        percentile(latencies, 99) <= poll + 1000,
      );
    };
    await describeGroup('fast', groups.fast, opt.poll);
    await describeGroup('slow', groups.slow, opt.baselineSleep);
    const bLatencies = groups.baseline.map(
      (id) => baselineDone.get(id)! - perCatalog(log, id, opt.acceptLag, opt.updateDuration).activeAtMs,
    );
    record(
      'single',
      `baseline (Terraform-like: read, post, sleep ${s(opt.baselineSleep, 0)} + read): API calls per update`,
      `${(baselineCalls / groups.baseline.length + 1 / groups.baseline.length).toFixed(2)} (incl. token)`,
    );
    record(
      'single',
      'baseline: detection latency p50 / p99',
      `${s(percentile(bLatencies, 50))} / ${s(percentile(bLatencies, 99))}`,
    );
  }

  // ---- scale: N catalogs at once, one worker.
  if (scenarios.has('scale')) {
    console.log(`bench: scale scenario, ${opt.catalogs} catalogs`);
    await setTiming(sim, opt.updateDuration, opt.acceptLag);
    await admin(sim, 'DELETE', 'requests');
    if (opt.inject429 > 0) {
      await admin(sim, 'POST', 'faults', {
        match: { operation: 'catalog' },
        times: opt.inject429,
        action: { type: 'status', status: 429, retryAfterSeconds: 1 },
      });
    }
    const catalogIds = ids('scale');
    const cpu0 = cpuOf();
    const stopRss = pollWorkerRss();
    const { firstStartMs, lastStartMs } = await startUpdates(catalogIds, opt.poll);
    await waitUntilClosed(
      client,
      `WorkflowType = 'updateCatalogImage' AND TaskQueue = '${CATALOG_QUEUE}' AND StartTime >= '${new Date(firstStartMs - 1000).toISOString()}'`,
      3 * citrixTime + 300_000,
    );
    const peakRss = stopRss();
    const cpu1 = cpuOf();
    devServerScale = { serverCpuMs: cpu1.server - cpu0.server, workerCpuMs: cpu1.worker - cpu0.worker, wallMs: 0 };
    const closes = await closeTimes(client, catalogIds.map(catalogUpdateWorkflowId));
    const log = await simRequests(sim);
    const stats = catalogIds.map((id) => perCatalog(log, id, opt.acceptLag, opt.updateDuration));
    const completed = closes.filter((c) => c.status === 'COMPLETED').length;
    const wall = Math.max(...closes.map((c) => c.closeMs)) - firstStartMs;
    devServerScale.wallMs = wall;
    const target = 1.2 * (opt.updateDuration + opt.poll);
    const latencies = closes.map((c, i) => c.closeMs - stats[i]!.activeAtMs).filter(Number.isFinite);
    const reads = stats.reduce((a, x) => a + x.reads, 0) / catalogIds.length;
    const other = (op: string) => log.filter((r) => r.operation === op).length / catalogIds.length;
    const errors = errorAnswers(log);
    const burst = readBurstiness(log);
    const n = opt.catalogs;
    record('scale', 'updates completed', `${completed} / ${n}`, `${n}`, completed === n);
    record(
      'scale',
      'wall time, first start to last completion',
      s(wall, 1),
      `≤ ${s(target, 1)} (1.2 × (update + poll))`,
      wall <= target,
    );
    record('scale', 'time to start all workflows', s(lastStartMs - firstStartMs, 1));
    const postTimes = stats.map((x) => x.activeAtMs - citrixTime).filter(Number.isFinite);
    record(
      'scale',
      'first start to last update posted (p50 / max)',
      `${s(percentile(postTimes, 50) - firstStartMs, 1)} / ${s(Math.max(...postTimes) - firstStartMs, 1)}`,
    );
    record(
      'scale',
      'detection latency p50 / p99',
      `${s(percentile(latencies, 50))} / ${s(percentile(latencies, 99))}`,
      `≤ ${s(opt.poll + 1000, 0)}`,
      percentile(latencies, 99) <= opt.poll + 1000,
    );
    record(
      'scale',
      'worker peak RSS',
      `${peakRss.toFixed(0)} MB (lifetime VmHWM ${rssMb(worker.pid!).peak.toFixed(0)} MB)`,
      '≤ 500 MB',
      peakRss <= 500,
    );
    record(
      'scale',
      'worker CPU per update',
      `${((cpu1.worker - cpu0.worker) / n).toFixed(1)} ms (total ${s(cpu1.worker - cpu0.worker, 1)})`,
    );
    record(
      'scale',
      'simulator CPU per update',
      `${((cpu1.sim - cpu0.sim) / n).toFixed(1)} ms (total ${s(cpu1.sim - cpu0.sim, 1)})`,
    );
    record(
      'scale',
      'Temporal dev server CPU per update',
      `${((cpu1.server - cpu0.server) / n).toFixed(1)} ms (total ${s(cpu1.server - cpu0.server, 1)})`,
    );
    record(
      'scale',
      'Citrix API calls per update',
      `${(reads + other('updateImage') + other('image') + other('token')).toFixed(2)} (catalog reads ${reads.toFixed(2)}, image reads ${other('image').toFixed(2)}, posts ${other('updateImage').toFixed(2)}, tokens ${other('token').toFixed(3)})`,
      `= ${3 + 1 + Math.ceil(citrixTime / opt.poll)}`,
    );
    record(
      'scale',
      'catalog reads in the busiest second / mean per busy second',
      `${burst.peak} / ${burst.mean.toFixed(0)}`,
    );
    record('scale', '429s received / other error answers (each retried)', `${errors.status429} / ${errors.other}`);
  }

  // ---- throughput: the same dev server's bare one-activity workflows/s, then catalog updates/s with no Citrix time.
  if (scenarios.has('throughput')) {
    const m = opt.throughputWorkflows;
    console.log(`bench: throughput scenario, ${m} workflows each`);
    const bare = startProcess(
      'bare-worker',
      process.execPath,
      [...heapFlags(opt), path.join(ROOT, 'lib/scripts/bench/bare-worker.js')],
      { ...workerEnv, TEMPORAL_TASK_QUEUE: BARE_QUEUE },
      runDir,
    );
    await waitForOutput(bare, /ready/, 'bare worker');
    const bareIds = Array.from({ length: m }, (_, i) => `bench-bare-${startedAt.getTime()}-${i}`);
    const bareFirst = Date.now();
    await pool(bareIds, opt.startConcurrency, (workflowId) =>
      client.workflow.start('benchOneActivity', { taskQueue: BARE_QUEUE, workflowId }),
    );
    await waitUntilClosed(client, `TaskQueue = '${BARE_QUEUE}'`, 600_000);
    const bareWall = Math.max(...(await closeTimes(client, bareIds)).map((c) => c.closeMs)) - bareFirst;
    await stopProcess(bare);
    const bareRate = m / (bareWall / 1000);

    await setTiming(sim, 0, 0);
    await admin(sim, 'DELETE', 'requests');
    const catalogIds = ids('orchestration');
    const { firstStartMs } = await startUpdates(catalogIds, 1_000);
    await waitUntilClosed(
      client,
      `WorkflowType = 'updateCatalogImage' AND TaskQueue = '${CATALOG_QUEUE}' AND StartTime >= '${new Date(firstStartMs - 1000).toISOString()}'`,
      600_000,
    );
    const closes = await closeTimes(client, catalogIds.map(catalogUpdateWorkflowId));
    const wall = Math.max(...closes.map((c) => c.closeMs)) - firstStartMs;
    const rate = m / (wall / 1000);
    record(
      'throughput',
      'bare one-activity workflows per second (same dev server)',
      `${bareRate.toFixed(1)}/s (${m} in ${s(bareWall, 1)})`,
    );
    record(
      'throughput',
      'catalog updates per second with zero Citrix time (1 s poll)',
      `${rate.toFixed(1)}/s (${m} in ${s(wall, 1)})`,
    );
    record(
      'throughput',
      'ratio of rollout orchestration throughput to bare',
      (rate / bareRate).toFixed(2),
      '≥ 0.5',
      rate / bareRate >= 0.5,
    );
    await setTiming(sim, opt.updateDuration, opt.acceptLag);
  }

  // ---- memory and CPU of one cached workflow: ours against the bare one-activity workflow, each in its own process.
  if (scenarios.has('footprint')) {
    const n = opt.footprintWorkflows;
    console.log(`bench: footprint scenario, ${n} cached workflows each`);
    const measure = async (kind: 'catalog' | 'bare') => {
      const probe = spawnSync(
        process.execPath,
        ['--expose-gc', path.join(ROOT, 'lib/scripts/bench/footprint.js'), kind, String(n)],
        { env: { ...process.env, TEMPORAL_ADDRESS: address }, encoding: 'utf8', timeout: 600_000 },
      );
      const line = probe.stdout.split('\n').find((l) => l.startsWith('{'));
      if (!line) throw new Error(`footprint probe (${kind}) failed: ${probe.stderr.slice(-2000)}`);
      return JSON.parse(line) as { rssKbPerWorkflow: number; cpuMsPerWorkflow: number; bundleKb: number };
    };
    const [ours, bare] = [await measure('catalog'), await measure('bare')];
    record(
      'footprint',
      'worker memory per cached workflow (RSS): updateCatalogImage / bare one-activity',
      `${ours.rssKbPerWorkflow} KB / ${bare.rssKbPerWorkflow} KB (bundles ${ours.bundleKb} / ${bare.bundleKb} KB)`,
    );
    record(
      'footprint',
      'worker CPU per workflow, start and first task: updateCatalogImage / bare one-activity',
      `${ours.cpuMsPerWorkflow} ms / ${bare.cpuMsPerWorkflow} ms`,
    );
  }

  // ---- history of one update that stays Processing for long, on the time-skipping test server.
  if (scenarios.has('long')) {
    console.log(`bench: ${opt.longHours} h update on the time-skipping server`);
    await setTiming(sim, null, 0);
    await admin(sim, 'DELETE', 'requests');
    const env = await startTimeSkippingTemporal();
    const citrix = citrixClient(sim);
    const longWorker = await createCatalogWorker({
      connection: env.nativeConnection,
      taskQueue: 'bench-long',
      citrix,
      workflowBundle: { codePath: bundlePath },
    });
    const running = longWorker.run();
    const [id] = ids('long');
    const started = Date.now();
    const handle: WorkflowHandle = await env.client.workflow.start('updateCatalogImage', {
      taskQueue: 'bench-long',
      workflowId: catalogUpdateWorkflowId(id!),
      args: [
        { catalogId: id, imageId: IMAGE, pollIntervalMs: opt.longPoll, deadlineMs: (opt.longHours + 24) * 3_600_000 },
      ],
    });
    const result = handle.result();
    const wanted = Math.ceil((opt.longHours * 3_600_000) / opt.longPoll);
    for (;;) {
      const reads = (await simRequests(sim)).filter((r) => r.operation === 'catalog' && r.path.includes(id!)).length;
      if (reads >= wanted) break;
      if (Date.now() - started > 900_000) throw new Error(`only ${reads} of ${wanted} polls after 15 minutes`);
      await sleep(1_000);
    }
    await admin(sim, 'POST', `catalogs/${id}/complete`);
    await result;
    const { events } = await handle.fetchHistory();
    const length = events?.length ?? 0;
    record(
      'long',
      `history events of one update Processing ${opt.longHours} h at ${s(opt.longPoll, 0)} polls`,
      `${length} (${wanted}+ polls, ${s(Date.now() - started, 0)} real time)`,
      '≤ 500',
      length <= 500,
    );
    longWorker.shutdown();
    await running;
    await citrix.close();
    await env.teardown();
    await setTiming(sim, opt.updateDuration, opt.acceptLag);
  }

  // ---- budget: one rollout over many catalogs by several worker processes sharing a request budget, against a
  // simulator that refuses requests past the same rate. Is the budget used fully, and never overrun?
  if (scenarios.has('budget')) {
    const n = opt.budgetCatalogs;
    const rate = opt.budgetRate;
    console.log(`bench: budget scenario, ${n} catalogs, ${rate} requests/s across ${opt.budgetWorkers} workers`);
    // A clean slate: the earlier scenarios ran unlimited and set the busiest second. The catalogs of this scenario
    // are its own, so going back to the seed changes nothing they had.
    await admin(sim, 'POST', 'reset');
    await admin(sim, 'POST', 'settings', {
      updateDurationMs: opt.budgetUpdate,
      acceptLagMs: opt.acceptLag,
      rateLimit: { requestsPerSecond: rate },
    });
    const budgetWorkers = Array.from({ length: opt.budgetWorkers }, (_, i) =>
      startProcess(
        `budget-worker-${i + 1}`,
        process.execPath,
        [...heapFlags(opt), path.join(ROOT, 'lib/src/worker.js')],
        {
          ...workerEnv,
          TEMPORAL_TASK_QUEUE: BUDGET_QUEUE,
          CITRIX_MAX_REQUESTS_PER_SECOND: String(rate),
          // The budget, not the slots, must be what holds updates back: each waiting update holds one.
          WORKER_MAX_CONCURRENT_ACTIVITIES: '1000',
          LOG_LEVEL: 'INFO',
        },
        runDir,
      ),
    );
    // Each worker counts the others at start or at its next count, 15 s on.
    const plural = opt.budgetWorkers === 1 ? 'worker' : 'workers';
    await Promise.all(
      budgetWorkers.map((child, i) =>
        waitForOutput(child, new RegExp(`across ${opt.budgetWorkers} ${plural}`), `budget worker ${i + 1}`, 90_000),
      ),
    );
    const catalogIds = ids('budget');
    const started = Date.now();
    const handle = await startRollout(client, BUDGET_QUEUE, {
      rolloutId: `bench-budget-${started}`,
      imageId: IMAGE,
      catalogIds,
      canaryCount: 0,
      // Waves as large as a rollout allows, and as many updates at once: the budget is the bottleneck, not these.
      batchSize: ROLLOUT_LIMITS.catalogsPerWave,
      maxParallel: 500,
      healthGate: false,
      notify: false,
      pollIntervalMs: opt.budgetPoll,
    });
    const result = await handle.result();
    const wall = Date.now() - started;
    const stats = (await admin(sim, 'GET', 'rateLimit')) as {
      accepted: number;
      refused: number;
      busiestSecond: number;
    };
    const log = await simRequests(sim);
    await Promise.all(budgetWorkers.map((child) => stopProcess(child)));

    const api = log.filter((r) => r.operation !== 'token');
    const perCatalogStats = catalogIds.map((id) => {
      const mine = api.filter((r) => r.path.toLowerCase().includes(id));
      const accepted = mine.filter(
        (r) => r.operation === 'updateImage' && (r.status === 202 || r.withheldStatus === 202),
      );
      const doneAt = accepted[0] ? Date.parse(accepted[0].time) + opt.acceptLag + opt.budgetUpdate : Infinity;
      // The first read at or after Citrix finished is the one that sees it; a margin for the clocks' rounding.
      const readsAfterDone = mine.filter(
        (r) => r.operation === 'catalog' && r.status === 200 && Date.parse(r.time) > doneAt + 50,
      ).length;
      return { posts: accepted.length, readsAfterDone };
    });
    const status429 = api.filter((r) => r.status === 429).length;
    const failedOther = api.filter((r) => r.status === 0 || (r.status >= 400 && r.status !== 429)).length;
    const extraPosts = perCatalogStats.reduce((a, x) => a + Math.max(0, x.posts - 1), 0);
    const lateReads = perCatalogStats.reduce((a, x) => a + Math.max(0, x.readsAfterDone - 1), 0);
    // Wasted calls: accepted posts beyond one per catalog, plus requests that failed other than with 429 (5xx, 4xx
    // or no answer), plus reads of a catalog after the read that first saw its update finished. 429s are counted on
    // their own below.
    const wasted = extraPosts + failedOther + lateReads;
    // What a perfect scheduler needs: every request Citrix accepted sent at exactly the rate, then one update's time.
    const ideal = (stats.accepted / rate) * 1000 + opt.budgetUpdate;
    const count = (op: string) => api.filter((r) => r.operation === op && r.status < 400).length / n;
    const completed = catalogsOf(result).filter((c) => c.state === 'imageAssigned' || c.state === 'updated').length;
    record('budget', 'rollout', `${result.phase}, ${completed} / ${n} catalogs updated`, `${n}`, completed === n);
    record('budget', 'wall time, rollout start to end', s(wall, 1));
    record(
      'budget',
      'ideal: (posts + reads) ÷ rate + update time',
      `${s(ideal, 1)} (${stats.accepted} requests accepted ÷ ${rate}/s + ${s(opt.budgetUpdate, 0)})`,
    );
    record('budget', 'wall ÷ ideal', (wall / ideal).toFixed(3), '≤ 1.15', wall / ideal <= 1.15);
    const share429 = (100 * status429) / Math.max(1, api.length);
    record(
      'budget',
      '429s received',
      `${status429} (${share429.toFixed(2)} % of ${api.length} requests)`,
      '≤ 1 %',
      share429 <= 1,
    );
    record(
      'budget',
      'Citrix API calls per update (accepted)',
      `${(stats.accepted / n).toFixed(2)} (catalog reads ${count('catalog').toFixed(2)}, image reads ${count('image').toFixed(2)}, posts ${count('updateImage').toFixed(2)}, other ${(stats.accepted / n - count('catalog') - count('image') - count('updateImage')).toFixed(2)})`,
    );
    record(
      'budget',
      'wasted calls: extra posts + failed (not 429) + reads after done seen',
      `${wasted} (${extraPosts} + ${failedOther} + ${lateReads})`,
      '0',
      wasted === 0,
    );
    record(
      'budget',
      "simulator's busiest second (requests accepted)",
      `${stats.busiestSecond}`,
      `≤ ${rate}`,
      stats.busiestSecond <= rate,
    );
    await admin(sim, 'POST', 'settings', { rateLimit: null, updateDurationMs: opt.updateDuration });
  }

  // ---- production-stack: the scale scenario's load again, on Temporal's own server on PostgreSQL (four service
  // processes), beside the dev server's figures of this same run.
  if (scenarios.has('production-stack') && devServerScale) {
    console.log(
      `bench: production-stack scenario, ${opt.catalogs} catalogs on Temporal server ${TEMPORAL_SERVER_VERSION}`,
    );
    await setTiming(sim, opt.updateDuration, opt.acceptLag);
    const n = opt.catalogs;
    const run = await runScaleOnCluster({
      catalogIds: ids('production-stack'),
      imageId: IMAGE,
      pollIntervalMs: opt.poll,
      taskQueue: CATALOG_QUEUE,
      startConcurrency: opt.startConcurrency,
      timeoutMs: 3 * citrixTime + 300_000,
      startWorker: (address) =>
        startProcess(
          'cluster-worker',
          process.execPath,
          [...heapFlags(opt), path.join(ROOT, 'lib/src/worker.js')],
          { ...workerEnv, TEMPORAL_ADDRESS: address },
          runDir,
        ),
      stopWorker: stopProcess,
      log: (line) => console.log(`  ${line}`),
    });
    const dev = devServerScale;
    const perUpdate = (ms: number) => `${(ms / n).toFixed(1)} ms`;
    record(
      'production-stack',
      'cluster start: PostgreSQL, schemas, four services, namespace',
      s(run.clusterStartMs, 1),
    );
    record('production-stack', 'updates completed', `${run.completed} / ${n}`, `${n}`, run.completed === n);
    record(
      'production-stack',
      'wall time: cluster / dev server (ratio)',
      `${s(run.wallMs, 1)} / ${s(dev.wallMs, 1)} (${(run.wallMs / dev.wallMs).toFixed(2)})`,
    );
    record(
      'production-stack',
      'Temporal CPU per update: four services + PostgreSQL / dev server (ratio)',
      `${perUpdate(run.serverCpuMs)} + ${perUpdate(run.postgresCpuMs)} / ${perUpdate(dev.serverCpuMs)} ` +
        `(${((run.serverCpuMs + run.postgresCpuMs) / dev.serverCpuMs).toFixed(2)})`,
    );
    record(
      'production-stack',
      'worker CPU per update: cluster / dev server',
      `${perUpdate(run.workerCpuMs)} / ${perUpdate(dev.workerCpuMs)}`,
    );
  }

  const cpuEnd = cpuOf();
  record(
    'process',
    'total CPU over the run: worker / simulator / Temporal dev server',
    `${s(cpuEnd.worker, 1)} / ${s(cpuEnd.sim, 1)} / ${s(cpuEnd.server, 1)}`,
  );

  await stopProcess(worker);
  await connection.close();
  await stopProcess(simChild);
  await stopProcess(server);

  const loadAfter = os.loadavg();
  const report = {
    startedAt: startedAt.toISOString(),
    machine: {
      cores,
      cpu: os.cpus()[0]?.model,
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      loadBefore,
      loadAfter,
    },
    options: { ...opt },
    figures,
  };
  const out =
    opt.out ?? path.join(ROOT, 'bench-results', `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  printTable(report.machine, opt);
  console.log(`\nJSON: ${out}`);
}

function printTable(machine: { cores: number; loadBefore: number[]; loadAfter: number[] }, opt: Options): void {
  const rows = figures.map((f) => [
    f.scenario,
    f.figure,
    f.value,
    f.target ?? '',
    f.ok === undefined ? '' : f.ok ? 'ok' : 'MISSED',
  ]);
  const header = ['scenario', 'figure', 'value', 'target', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(
    `\ncatalog-rollout bench: ${machine.cores} cores, load ${machine.loadBefore.map((l) => l.toFixed(2)).join(' ')} → ` +
      `${machine.loadAfter.map((l) => l.toFixed(2)).join(' ')}; ${opt.catalogs} catalogs, update ${s(opt.updateDuration, 0)}, ` +
      `accept lag ${s(opt.acceptLag, 1)}, poll ${s(opt.poll, 0)}, eager activities ${opt.eagerActivities ? 'on' : 'off'}, worker heap ${opt.workerHeapMb || 'default'} MB`,
  );
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

main().then(
  () => process.exit(0),
  async (error: unknown) => {
    console.error(error);
    await Promise.all(children.map((child) => stopProcess(child)));
    process.exit(1);
  },
);
