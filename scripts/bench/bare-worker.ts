/**
 * A worker for the bench's bare throughput figure: one-activity workflows on their own task queue, with the same
 * concurrency and cache settings as the catalog worker (WORKER_* variables, same defaults). Prints "ready" once polling.
 */
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { WORKER_DEFAULTS } from '../../src/config';

const int = (name: string, fallback: number) => Number(process.env[name] || fallback);

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS ?? 'localhost:7233' });
  const worker = await Worker.create({
    connection,
    taskQueue: process.env.TEMPORAL_TASK_QUEUE ?? 'bench-bare',
    workflowsPath: require.resolve('./bare-workflows'),
    activities: { benchNoop: async () => undefined },
    maxCachedWorkflows: int('WORKER_MAX_CACHED_WORKFLOWS', WORKER_DEFAULTS.maxCachedWorkflows),
    maxConcurrentActivityTaskExecutions: int('WORKER_MAX_CONCURRENT_ACTIVITIES', 200),
    maxConcurrentWorkflowTaskExecutions: int('WORKER_MAX_CONCURRENT_WORKFLOW_TASKS', 40),
  });
  const running = worker.run();
  console.log('ready');
  await running;
  await connection.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
