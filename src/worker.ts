import { Runtime, Worker, type NativeConnection, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities } from './activities';
import { CitrixClient } from './citrix';
import { ConfigError, loadWorkerConfig } from './config';
import { connectWorkerConnection } from './temporal';

export interface CatalogWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  citrix: CitrixClient;
  /** @default 30_000 */
  postRetrySettleMs?: number;
  /** A prebuilt workflow bundle (`npm run build` writes one); without it the code is bundled at start (about a second). */
  workflowBundle?: WorkflowBundleOption;
  /** @default 1000 */
  maxCachedWorkflows?: number;
  /** @default 200 */
  maxConcurrentActivities?: number;
  /** @default 40 */
  maxConcurrentWorkflowTasks?: number;
  /** @default 10_000 */
  shutdownGraceMs?: number;
}

/** Registers the catalog workflows and the Citrix activities on one task queue. */
export function createCatalogWorker(options: CatalogWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    taskQueue: options.taskQueue,
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: require.resolve('./workflows') }),
    activities: createActivities({ citrix: options.citrix, postRetrySettleMs: options.postRetrySettleMs }),
    maxCachedWorkflows: options.maxCachedWorkflows ?? 1000,
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? 200,
    maxConcurrentWorkflowTaskExecutions: options.maxConcurrentWorkflowTasks ?? 40,
    shutdownGraceTime: options.shutdownGraceMs ?? 10_000,
  });
}

async function main(): Promise<void> {
  const config = loadWorkerConfig();
  // The runtime shuts every worker down gracefully on SIGINT and SIGTERM.
  Runtime.install({ shutdownSignals: ['SIGINT', 'SIGTERM'] });
  const connection = await connectWorkerConnection(config.temporal);
  const citrix = new CitrixClient(config.citrix.client);
  try {
    const worker = await createCatalogWorker({
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
    });
    console.log(
      JSON.stringify({
        msg: 'worker started',
        address: config.temporal.address,
        namespace: config.temporal.namespace,
        taskQueue: config.temporal.taskQueue,
        citrixApi: citrix.apiBaseUrl,
      }),
    );
    await worker.run();
  } finally {
    await citrix.close();
    await connection.close();
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(
        `catalog-rollout worker: ${error instanceof ConfigError ? error.message : ((error as Error).message ?? error)}`,
      );
      process.exit(1);
    },
  );
}
