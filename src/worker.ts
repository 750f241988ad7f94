import { Runtime, type Worker, makeTelemetryFilterString } from '@temporalio/worker';
import { CitrixClient, RequestBudget, SecretRedactor } from './citrix';
import { createDataConverter } from './codec/data-converter';
import { ConfigError, SECRET_VARIABLES, loadWorkerConfig, secretsOf, type WorkerConfig } from './config';
import {
  citrixExchangeSpans,
  createJsonLogger,
  createRedactor,
  DEFAULT_SERVICE_NAMES,
  HISTOGRAM_BUCKETS,
  otlpHeaderValues,
  startHealthServer,
  startTracing,
  WorkerMetrics,
  type HealthServer,
} from './observability';
import { BudgetShare } from './runtime/budget-share';
import { connectWorkerConnection, createCatalogWorker } from './runtime/catalog-worker';
import { checkCitrixAccess, checkSearchAttributes } from './runtime/preflight';
import { TemporalProbe } from './runtime/readiness';

export { type CatalogWorkerOptions, createCatalogWorker } from './runtime/catalog-worker';

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
  const redactor = new SecretRedactor([...secretsOf(config), ...otlpHeaderValues()]);
  try {
    installRuntime(config, redactor);
  } catch (error) {
    throw new Error(
      `cannot start the metrics endpoint on METRICS_BIND_ADDRESS=${config.metricsBindAddress}: ${(error as Error).message}`,
    );
  }
  const log = Runtime.instance().logger;
  for (const warning of config.temporal.warnings) log.warn(warning);
  if (config.temporal.apiKey && config.temporal.tls === false) {
    log.warn('TEMPORAL_TLS=false: the Temporal API key is sent without TLS; do this only to a trusted local proxy');
  }
  const metrics = new WorkerMetrics(Runtime.instance().metricMeter);
  const tracing = startTracing({ serviceName: DEFAULT_SERVICE_NAMES.worker, warn: (message) => log.warn(message) });
  let worker: Worker | undefined;
  let health: HealthServer | undefined;
  let temporal: TemporalProbe | undefined;
  if (config.healthBindAddress) {
    health = await startHealthServer(config.healthBindAddress, {
      live: () => worker?.getState() !== 'FAILED',
      // Ready while it polls and its server answers: a worker cut off from Temporal takes no work.
      ready: () => worker?.getState() === 'RUNNING' && temporal?.reachable === true,
      details: () => ({
        state: worker?.getState() ?? 'STARTING',
        taskQueue: config.temporal.taskQueue,
        ...temporal?.details,
      }),
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
  const traceExchange = tracing && citrixExchangeSpans(tracing);
  const { maxRequestsPerSecond } = config.citrix;
  const budget = maxRequestsPerSecond ? new RequestBudget({ requestsPerSecond: maxRequestsPerSecond }) : undefined;
  let budgetShare: BudgetShare | undefined;
  const citrix = new CitrixClient({
    ...config.citrix.client,
    budget,
    onExchange: traceExchange
      ? (exchange) => {
          metrics.citrixExchange(exchange);
          traceExchange(exchange);
        }
      : metrics.citrixExchange,
    redactor,
  });
  try {
    // Refuse to take tasks that could only fail: wrong Citrix credentials, a namespace without the search attributes.
    const warnings = await Promise.all([
      checkCitrixAccess(citrix),
      checkSearchAttributes(connection.operatorService, config.temporal.namespace),
    ]);
    for (const warning of warnings) if (warning) log.warn(warning);
    temporal = new TemporalProbe(connection).start();
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
      analysisUrl: config.rolloutAnalysisUrl,
      metrics,
      dataConverter: createDataConverter(config.temporal.payloadCodecKeys),
      tracing,
      deploymentVersion: config.deploymentVersion,
    });
    if (budget) {
      budgetShare = await new BudgetShare({
        connection,
        namespace: config.temporal.namespace,
        taskQueue: config.temporal.taskQueue,
        identity: worker.options.identity,
        budget,
        log,
        onCount: metrics.citrixBudget,
      }).start();
    }
    const running = worker.run();
    log.info('worker started', {
      address: config.temporal.address,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      tls: Boolean(config.temporal.tls || (config.temporal.apiKey && config.temporal.tls !== false)),
      apiKey: config.temporal.apiKey ? 'set' : 'unset',
      citrixApi: citrix.apiBaseUrl,
      citrixRequestBudget: budget
        ? `${budget.requestsPerSecond} requests/s across ${budget.workers} worker(s), ` +
          `${Math.round((budget.requestsPerSecond / budget.workers) * 10) / 10} here`
        : 'off',
      prebuiltBundle: Boolean(config.workflowBundlePath),
      payloadEncryption: config.temporal.payloadCodecKeys
        ? {
            encryptingKeyId: config.temporal.payloadCodecKeys.encryptingKeyId,
            keyIds: config.temporal.payloadCodecKeys.keyIds,
          }
        : 'off',
      deploymentVersion: config.deploymentVersion
        ? `${config.deploymentVersion.deploymentName}.${config.deploymentVersion.buildId}`
        : 'unversioned',
      metrics: config.metricsBindAddress ? `http://${config.metricsBindAddress}/metrics` : 'off',
      health: health?.url ?? 'off',
      tracing: tracing ? 'otlp' : 'off',
      nodeEnv: process.env.NODE_ENV ?? 'development',
      startMs: Math.round(performance.now() - startedAt),
    });
    await running;
    log.info('worker stopped');
  } finally {
    temporal?.stop();
    await budgetShare?.stop();
    // The worker has stopped: the spans of its last activities and workflow tasks go out before the process exits.
    await tracing
      ?.shutdown()
      .catch((error: Error) => log.warn(`tracing: spans not sent at shutdown: ${error.message}`));
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
