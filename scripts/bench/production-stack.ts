/**
 * The bench's production-stack scenario: the scale scenario's load on Temporal's own server (PostgreSQL, the four
 * services as processes of their own, `src/dev/temporal-cluster.ts`), so that it can be set beside the dev server's.
 * `scripts/production-stack/install.sh` must have run (`npm run test:production-stack` runs it).
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { startCatalogUpdate } from '../../src/client';
import { catalogUpdateWorkflowId } from '../../src/shared';
import { TemporalCluster } from '../../src/dev/temporal-cluster';

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
  cpuMs: (pid: number) => number;
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

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

/** CPU of a process and its children, those still running and those it has reaped (PostgreSQL's backends). */
function treeCpuMs(pid: number, cpuMs: (pid: number) => number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const reaped = ((Number(fields[13]) + Number(fields[14])) * 1000) / CLK_TCK;
  let total = cpuMs(pid) + reaped;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const child = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(child.slice(child.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) total += cpuMs(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return total;
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
    const serverCpu = () => Object.values(pids.services).reduce((sum, pid) => sum + options.cpuMs(pid), 0);
    const cpu0 = {
      server: serverCpu(),
      pg: treeCpuMs(pids.postgres, options.cpuMs),
      worker: options.cpuMs(worker.pid!),
    };
    const firstStartMs = Date.now();
    const queue = [...options.catalogIds];
    await Promise.all(
      Array.from({ length: options.startConcurrency }, async () => {
        for (let id = queue.shift(); id; id = queue.shift()) {
          await startCatalogUpdate(client, options.taskQueue, {
            catalogId: id,
            imageId: options.imageId,
            pollIntervalMs: options.pollIntervalMs,
            deadlineMs: 3_600_000,
          });
        }
      }),
    );
    const query = `WorkflowType = 'updateCatalogImage' AND ExecutionStatus = 'Running'`;
    const deadline = Date.now() + options.timeoutMs;
    while ((await client.workflow.count(query)).count > 0) {
      if (Date.now() > deadline) throw new Error(`updates still running on the cluster after ${options.timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    const cpu1 = {
      server: serverCpu(),
      pg: treeCpuMs(pids.postgres, options.cpuMs),
      worker: options.cpuMs(worker.pid!),
    };
    let completed = 0;
    let lastCloseMs = firstStartMs;
    for (const id of options.catalogIds) {
      const info = await client.workflow.getHandle(catalogUpdateWorkflowId(id)).describe();
      if (info.status.name === 'COMPLETED') completed += 1;
      lastCloseMs = Math.max(lastCloseMs, info.closeTime?.getTime() ?? 0);
    }
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
