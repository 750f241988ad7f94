import {
  Runtime,
  Worker,
  makeTelemetryFilterString,
  type NativeConnection,
  type WorkflowBundleOption,
} from '@temporalio/worker';
import { createActivities } from './activities';
import { CitrixClient, SecretRedactor } from './citrix';
import {
  ConfigError,
  DEFAULT_MAX_CACHED_WORKFLOWS,
  SECRET_VARIABLES,
  loadWorkerConfig,
  secretsOf,
  type WorkerConfig,
} from './config';
import {
  activityInterceptors,
  createJsonLogger,
  createRedactor,
  HISTOGRAM_BUCKETS,
  startHealthServer,
  WorkerMetrics,
  workflowInterceptorModules,
  type HealthServer,
} from './observability';
import { connectWorkerConnection } from './temporal';

export interface CatalogWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  citrix: CitrixClient;
  /** @default 30_000 */
  postRetrySettleMs?: number;
  /**
   * A prebuilt workflow bundle (`npm run build` writes one, with the observability interceptors in it); without it
   * the code is bundled at start (about a second).
   */
  workflowBundle?: WorkflowBundleOption;
  /** @default DEFAULT_MAX_CACHED_WORKFLOWS (500) */
  maxCachedWorkflows?: number;
  /** @default 200 */
  maxConcurrentActivities?: number;
  /** @default 40 */
  maxConcurrentWorkflowTasks?: number;
  /** @default 10_000 */
  shutdownGraceMs?: number;
  /** Poll intervals up to this loop inside one heartbeating activity attempt. @default 15_000 */
  pollLoopMaxIntervalMs?: number;
  /** Least time between two progress reports of one poll. @default 60_000 */
  progressReportIntervalMs?: number;
  /** Incoming webhook for rollout notifications. */
  webhookUrl?: string;
  /** @default metrics on the installed Temporal runtime's meter */
  metrics?: WorkerMetrics;
}

/** Registers the catalog workflows and the Citrix activities on one task queue. */
export function createCatalogWorker(options: CatalogWorkerOptions): Promise<Worker> {
  const metrics = options.metrics ?? new WorkerMetrics(Runtime.instance().metricMeter);
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    taskQueue: options.taskQueue,
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: require.resolve('./workflows') }),
    activities: createActivities({
      citrix: options.citrix,
      postRetrySettleMs: options.postRetrySettleMs,
      webhookUrl: options.webhookUrl,
      inActivityPollMaxIntervalMs: options.pollLoopMaxIntervalMs,
      maxLoopingPolls: Math.floor((options.maxConcurrentActivities ?? 200) / 2),
      progressReportIntervalMs: options.progressReportIntervalMs,
    }),
    interceptors: {
      activity: [activityInterceptors(metrics)],
      // A prebuilt bundle carries them already (the SDK would warn that it ignores them).
      ...(options.workflowBundle ? {} : { workflowModules: workflowInterceptorModules }),
    },
    sinks: metrics.sinks(),
    maxCachedWorkflows: options.maxCachedWorkflows ?? DEFAULT_MAX_CACHED_WORKFLOWS,
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? 200,
    maxConcurrentWorkflowTaskExecutions: options.maxConcurrentWorkflowTasks ?? 40,
    shutdownGraceTime: options.shutdownGraceMs ?? 10_000,
  });
}

/** How long after the grace period a shutdown may still take before the process gives up and exits non-zero. */
const SHUTDOWN_SLACK_MS = 10_000;

function installRuntime(config: WorkerConfig, redactor: SecretRedactor): void {
  Runtime.install({
    logger: createJsonLogger({ level: config.logLevel, secrets: redactor }),
    // The runtime shuts every worker down gracefully on SIGINT and SIGTERM.
    shutdownSignals: ['SIGINT', 'SIGTERM'],
    telemetryOptions: {
      // The Rust core's own log lines go through the same JSON logger and its redaction, not straight to stderr.
      logging: { forward: {}, filter: makeTelemetryFilterString({ core: config.logLevel, other: 'WARN' }) },
      ...(config.metricsBindAddress && {
        metrics: {
          prometheus: { bindAddress: config.metricsBindAddress, histogramBucketOverrides: HISTOGRAM_BUCKETS },
        },
      }),
    },
  });
}

async function main(): Promise<void> {
  const startedAt = performance.now();
  const config = loadWorkerConfig();
  // One redactor for the logs and the Citrix client: it learns every token the client is issued.
  const redactor = new SecretRedactor(secretsOf(config));
  try {
    installRuntime(config, redactor);
  } catch (error) {
    throw new Error(
      `cannot start the metrics endpoint on METRICS_BIND_ADDRESS=${config.metricsBindAddress}: ${(error as Error).message}`,
    );
  }
  const log = Runtime.instance().logger;
  if (config.temporal.apiKey && config.temporal.tls === false) {
    log.warn('TEMPORAL_TLS=false: the Temporal API key is sent without TLS; do this only to a trusted local proxy');
  }
  const metrics = new WorkerMetrics(Runtime.instance().metricMeter);
  let worker: Worker | undefined;
  let health: HealthServer | undefined;
  if (config.healthBindAddress) {
    health = await startHealthServer(config.healthBindAddress, {
      live: () => worker?.getState() !== 'FAILED',
      ready: () => worker?.getState() === 'RUNNING',
      details: () => ({ state: worker?.getState() ?? 'STARTING', taskQueue: config.temporal.taskQueue }),
    }).catch((error: Error) => {
      throw new Error(
        `cannot start the health endpoint on HEALTH_BIND_ADDRESS=${config.healthBindAddress}: ${error.message}`,
      );
    });
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log.info('shutting down: running activities may finish within the grace period', {
        signal,
        shutdownGraceMs: config.shutdownGraceMs,
      });
      // A last resort: the SDK stops the worker after the grace period, this stops the process if that hangs.
      setTimeout(() => {
        log.error('shutdown took too long: exiting', { shutdownGraceMs: config.shutdownGraceMs });
        process.exit(1);
      }, config.shutdownGraceMs + SHUTDOWN_SLACK_MS).unref();
    });
  }

  const connection = await connectWorkerConnection(config.temporal);
  const citrix = new CitrixClient({ ...config.citrix.client, onExchange: metrics.citrixExchange, redactor });
  try {
    worker = await createCatalogWorker({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      citrix,
      postRetrySettleMs: config.citrix.postRetrySettleMs,
      workflowBundle: config.workflowBundlePath ? { codePath: config.workflowBundlePath } : undefined,
      maxCachedWorkflows: config.maxCachedWorkflows,
      maxConcurrentActivities: config.maxConcurrentActivities,
      maxConcurrentWorkflowTasks: config.maxConcurrentWorkflowTasks,
      shutdownGraceMs: config.shutdownGraceMs,
      pollLoopMaxIntervalMs: config.pollLoopMaxIntervalMs,
      progressReportIntervalMs: config.progressReportIntervalMs,
      webhookUrl: config.rolloutWebhookUrl,
      metrics,
    });
    const running = worker.run();
    log.info('worker started', {
      address: config.temporal.address,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      tls: Boolean(config.temporal.tls || (config.temporal.apiKey && config.temporal.tls !== false)),
      apiKey: config.temporal.apiKey ? 'set' : 'unset',
      citrixApi: citrix.apiBaseUrl,
      prebuiltBundle: Boolean(config.workflowBundlePath),
      metrics: config.metricsBindAddress ? `http://${config.metricsBindAddress}/metrics` : 'off',
      health: health?.url ?? 'off',
      nodeEnv: process.env.NODE_ENV ?? 'development',
      startMs: Math.round(performance.now() - startedAt),
    });
    await running;
    log.info('worker stopped');
  } finally {
    await citrix.close();
    await connection.close();
    await health?.close();
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      const message = error instanceof ConfigError ? error.message : ((error as Error).message ?? String(error));
      // The configuration may not have loaded: redact what the environment holds.
      const redact = createRedactor(SECRET_VARIABLES.map((name) => process.env[name]));
      console.error(redact(`catalog-rollout worker: ${message}`));
      process.exit(1);
    },
  );
}
