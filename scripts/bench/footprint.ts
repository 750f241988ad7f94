/**
 * What one cached workflow costs a worker, for the bench's `footprint` scenario: N workflows each run their first
 * workflow task and then wait on an activity that no worker serves, so all of them stay in the worker's cache. Run once
 * with the catalog workflows and once with the bench's bare one-activity workflow; every module a workflow's code
 * imports is evaluated again for each workflow, so the difference is what the project's workflow code weighs.
 *
 *   node --expose-gc lib/scripts/bench/footprint.js catalog|bare <workflows>     (TEMPORAL_ADDRESS)
 *
 * Prints one JSON line: resident memory added per workflow (the workflows live in the worker's workflow thread, so the
 * process's RSS is the measure), and CPU per workflow (its start and first task).
 */
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { workflowInterceptorModules } from '../../src/observability';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function settledRss(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss;
}

async function main(): Promise<void> {
  const [kind, count] = [process.argv[2], Number(process.argv[3] ?? 400)];
  if (kind !== 'catalog' && kind !== 'bare') throw new Error('usage: footprint.js catalog|bare <workflows>');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const address = process.env.TEMPORAL_ADDRESS ?? 'localhost:7233';
  const taskQueue = `bench-footprint-${kind}-${Date.now()}`;
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
  const workflowBundle = await bundleWorkflowCode(
    kind === 'catalog'
      ? { workflowsPath: require.resolve('../../src/workflows'), workflowInterceptorModules, logger: quiet }
      : { workflowsPath: require.resolve('./bare-workflows'), logger: quiet },
  );
  const connection = await NativeConnection.connect({ address });
  // Workflows only: the activity each one schedules is never picked up, so it stays cached and waiting.
  const worker = await Worker.create({ connection, taskQueue, workflowBundle, maxCachedWorkflows: count + 100 });
  const running = worker.run();
  const client = new Client({ connection: await Connection.connect({ address }) });
  await sleep(1_000);
  const before = settledRss();
  const cpuBefore = process.cpuUsage();

  const handles: WorkflowHandle[] = [];
  for (let i = 0; i < count; i += 50) {
    const batch = Array.from({ length: Math.min(50, count - i) }, (_, j) => {
      const n = (i + j).toString(16).padStart(12, '0');
      return kind === 'catalog'
        ? client.workflow.start('updateCatalogImage', {
            taskQueue,
            workflowId: `${taskQueue}-${n}`,
            args: [{ catalogId: `ca7a10c0-0000-4000-b000-${n}`, imageId: 'footprint-image' }],
          })
        : client.workflow.start('benchOneActivity', { taskQueue, workflowId: `${taskQueue}-${n}` });
    });
    handles.push(...(await Promise.all(batch)));
  }
  // Tasks are served in order: once the last workflow has scheduled its activity, all of them have.
  for (;;) {
    const { events } = await handles[handles.length - 1]!.fetchHistory();
    if (events?.some((event) => event.activityTaskScheduledEventAttributes)) break;
    await sleep(200);
  }
  const cpu = process.cpuUsage(cpuBefore);
  await sleep(1_000);
  const after = settledRss();
  console.log(
    JSON.stringify({
      kind,
      workflows: count,
      rssKbPerWorkflow: Math.round((after - before) / count / 1024),
      cpuMsPerWorkflow: Number(((cpu.user + cpu.system) / 1000 / count).toFixed(1)),
      bundleKb: Math.round(workflowBundle.code.length / 1024),
    }),
  );
  await Promise.all(handles.map((handle) => handle.terminate('footprint measured').catch(() => undefined)));
  worker.shutdown();
  await running;
  await connection.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
