/** The worker of the catalog workflows and the Citrix activities on one task queue, as production and tests run it. */
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Runtime, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { CitrixClient } from '../citrix';
import { type TemporalConfig, WORKER_DEFAULTS, type WorkerDeploymentVersion } from '../config';
import { TemporalUnreachableError, connectionOptions } from '../client/connection';
import {
  type Tracing,
  WorkerMetrics,
  activityInterceptors,
  tracingActivityInterceptors,
  workflowInterceptorModules,
  workflowSpanSinks,
} from '../observability';

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
  /** @default WORKER_DEFAULTS.maxCachedWorkflows */
  maxCachedWorkflows?: number;
  /** @default WORKER_DEFAULTS.maxConcurrentActivities */
  maxConcurrentActivities?: number;
  /** @default WORKER_DEFAULTS.maxConcurrentWorkflowTasks */
  maxConcurrentWorkflowTasks?: number;
  /** @default WORKER_DEFAULTS.shutdownGraceMs */
  shutdownGraceMs?: number;
  /** Poll intervals up to this loop inside one heartbeating activity attempt. @default WORKER_DEFAULTS */
  pollLoopMaxIntervalMs?: number;
  /** Least time between two progress reports of one poll. @default WORKER_DEFAULTS */
  progressReportIntervalMs?: number;
  /** Incoming webhook for rollout notifications. */
  webhookUrl?: string;
  /** The external analysis gate of rollouts' health checks. */
  analysisUrl?: string;
  /** How long it may take to answer. @default 30 s */
  analysisTimeoutMs?: number;
  /** @default metrics on the installed Temporal runtime's meter */
  metrics?: WorkerMetrics;
  /**
   * `createDataConverter(keys)` for payload encryption; clients need the same. Its failure converter reaches workflow
   * code only when the worker bundles it (a prebuilt bundle carries the one it was built with).
   * @default Temporal's default: plaintext payloads
   */
  dataConverter?: DataConverter;
  /** Spans for activities and workflows (`startTracing`); the Citrix client's spans come from its `onExchange`. @default off */
  tracing?: Tracing;
  /**
   * The build of a Worker Deployment this worker is. With it, Worker Versioning is on: a catalog update stays on the
   * build that started it, a rollout moves to the current build at its next wave. @default versioning off
   */
  deploymentVersion?: WorkerDeploymentVersion;
}

/** Registers the catalog workflows and the Citrix activities on one task queue. */
export function createCatalogWorker(options: CatalogWorkerOptions): Promise<Worker> {
  const metrics = options.metrics ?? new WorkerMetrics(Runtime.instance().metricMeter);
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    taskQueue: options.taskQueue,
    dataConverter: options.dataConverter,
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: require.resolve('../workflows') }),
    activities: createActivities({
      citrix: options.citrix,
      postRetrySettleMs: options.postRetrySettleMs,
      webhookUrl: options.webhookUrl,
      analysisUrl: options.analysisUrl,
      analysisTimeoutMs: options.analysisTimeoutMs,
      inActivityPollMaxIntervalMs: options.pollLoopMaxIntervalMs,
      maxLoopingPolls: Math.floor((options.maxConcurrentActivities ?? WORKER_DEFAULTS.maxConcurrentActivities) / 2),
      progressReportIntervalMs: options.progressReportIntervalMs,
    }),
    interceptors: {
      // Tracing first, so that the activity's span is current while the rest runs.
      activity: [
        ...(options.tracing ? [tracingActivityInterceptors(options.tracing)] : []),
        activityInterceptors(metrics),
      ],
      // A prebuilt bundle carries them already (the SDK would warn that it ignores them).
      ...(options.workflowBundle ? {} : { workflowModules: workflowInterceptorModules }),
    },
    sinks: { ...metrics.sinks(), ...workflowSpanSinks(options.tracing) },
    maxCachedWorkflows: options.maxCachedWorkflows ?? WORKER_DEFAULTS.maxCachedWorkflows,
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? WORKER_DEFAULTS.maxConcurrentActivities,
    maxConcurrentWorkflowTaskExecutions:
      options.maxConcurrentWorkflowTasks ?? WORKER_DEFAULTS.maxConcurrentWorkflowTasks,
    shutdownGraceTime: options.shutdownGraceMs ?? WORKER_DEFAULTS.shutdownGraceMs,
    ...(options.deploymentVersion && {
      workerDeploymentOptions: {
        useWorkerVersioning: true,
        version: options.deploymentVersion,
        // Each workflow declares its own (src/workflows); this covers one that does not, safely.
        defaultVersioningBehavior: 'PINNED',
      },
    }),
  });
}

/** The worker's own connection (the Rust core's), with the same options and message as the CLI's. */
export async function connectWorkerConnection(config: TemporalConfig): Promise<NativeConnection> {
  try {
    return await NativeConnection.connect(connectionOptions(config));
  } catch (error) {
    throw new TemporalUnreachableError(config.address, error, Boolean(config.tls || config.apiKey));
  }
}
