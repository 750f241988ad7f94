/**
 * The bench's production-stack scenario: the scale scenario's load on Temporal's own server (PostgreSQL, the four
 * services as processes of their own, `src/dev/temporal-cluster.ts`), so that it can be set beside the dev server's.
 * `scripts/production-stack/install.sh` must have run (`npm run test:production-stack` runs it).
 */
import type { ChildProcess } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { startCatalogUpdate } from '../../src/client';
import { catalogUpdateWorkflowId } from '../../src/shared';
import { TemporalCluster } from '../../src/dev/temporal-cluster';
import { closeTimes, cpuMs, pool, treeCpuMs, waitUntilClosed } from './measure';

export interface ClusterRunOptions {
  catalogIds: string[];
  imageId: string;
  pollIntervalMs: number;
  taskQueue: string;
  startConcurrency: number;
  timeoutMs: number;
  /** Starts the catalog worker against `address` (the bench's own way, with its log file). */
  startWorker: (address: string) => ChildProcess;
  stopWorker: (worker: ChildProcess) => Promise<void>;
  log: (line: string) => void;
}

export interface ClusterRun {
  clusterStartMs: number;
  completed: number;
  wallMs: number;
  /** The four services together. */
  serverCpuMs: number;
  postgresCpuMs: number;
  workerCpuMs: number;
}

export async function runScaleOnCluster(options: ClusterRunOptions): Promise<ClusterRun> {
  const started = performance.now();
  const cluster = await TemporalCluster.start({ log: (line) => options.log(`cluster: ${line}`) });
  const clusterStartMs = performance.now() - started;
  const worker = options.startWorker(cluster.address);
  const connection = await Connection.connect({ address: cluster.address });
  try {
    const client = new Client({ connection, namespace: cluster.namespace });
    // As on the dev server, the worker polls before the first start: its cold start is not part of the wall time.
    for (let waited = 0; ; waited += 250) {
      const { pollers } = await connection.workflowService.describeTaskQueue({
        namespace: cluster.namespace,
        taskQueue: { name: options.taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      });
      if (pollers?.length) break;
      if (waited > 90_000) throw new Error('the catalog worker did not poll the cluster within 90 s');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const pids = await cluster.processIds();
    const serverCpu = () => Object.values(pids.services).reduce((sum, pid) => sum + cpuMs(pid), 0);
    const cpu0 = {
      server: serverCpu(),
      pg: treeCpuMs(pids.postgres),
      worker: cpuMs(worker.pid!),
    };
    const firstStartMs = Date.now();
    await pool(options.catalogIds, options.startConcurrency, (id) =>
      startCatalogUpdate(client, options.taskQueue, {
        catalogId: id,
        imageId: options.imageId,
        pollIntervalMs: options.pollIntervalMs,
        deadlineMs: 3_600_000,
      }),
    );
    await waitUntilClosed(client, `WorkflowType = 'updateCatalogImage'`, options.timeoutMs);
    const cpu1 = {
      server: serverCpu(),
      pg: treeCpuMs(pids.postgres),
      worker: cpuMs(worker.pid!),
    };
    const closes = await closeTimes(client, options.catalogIds.map(catalogUpdateWorkflowId));
    const completed = closes.filter((c) => c.status === 'COMPLETED').length;
    const lastCloseMs = Math.max(firstStartMs, ...closes.map((c) => c.closeMs));
    return {
      clusterStartMs,
      completed,
      wallMs: lastCloseMs - firstStartMs,
      serverCpuMs: cpu1.server - cpu0.server,
      postgresCpuMs: cpu1.pg - cpu0.pg,
      workerCpuMs: cpu1.worker - cpu0.worker,
    };
  } finally {
    await options.stopWorker(worker);
    await connection.close();
    await cluster.stop();
  }
}
