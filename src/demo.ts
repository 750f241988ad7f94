/**
 * The main job on embedded defaults: a local Temporal dev server, the Catalog Service simulator and a worker, then one
 * catalog image update with live progress. Exits 0 only when the catalog ends on the new image.
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { CitrixClient } from './citrix';
import { CODEC_KEYS_VARIABLE, createDataConverter, readCodecKeyFile } from './codec';
import { SEED_IDS, startSimulator } from './simulator';
import { type CatalogUpdateResult, type CatalogUpdateStatus } from './shared';
import { startCatalogUpdate, watchWorkflow } from './client';
import { describeStatus } from './cli/render';
import { statusQuery } from './workflows';
import { startLocalTemporal } from './dev/local-temporal';
import { createCatalogWorker } from './worker';

const TASK_QUEUE = 'catalog-rollout-demo';

async function main(): Promise<number> {
  const startedAt = Date.now();
  // The progress lines are the demo's output; the SDK's own start-up chatter is not.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const keysFile = process.env[CODEC_KEYS_VARIABLE];
  // With the worker's key file, the demo's payloads are encrypted as production's would be.
  const dataConverter = createDataConverter(keysFile ? readCodecKeyFile(keysFile, CODEC_KEYS_VARIABLE) : undefined);
  console.log('Starting a local Temporal dev server…');
  const temporal = await startLocalTemporal({ dataConverter });
  const simulator = await startSimulator({ updateDurationMs: 15_000, acceptLagMs: 1_500 });
  console.log(`Citrix Catalog Service simulator on ${simulator.baseUrl}`);
  const citrix = new CitrixClient(simulator.clientOptions());
  try {
    const worker = await createCatalogWorker({
      connection: temporal.nativeConnection,
      taskQueue: TASK_QUEUE,
      citrix,
      postRetrySettleMs: 3_000,
      // A demo is watched: report progress every couple of seconds rather than once a minute.
      progressReportIntervalMs: 2_000,
      dataConverter,
    });
    const result = await worker.runUntil(async () => {
      const { handle } = await startCatalogUpdate(temporal.client, TASK_QUEUE, {
        catalogId: SEED_IDS.catalogs.finance,
        imageId: SEED_IDS.images.win11Nov,
        pollIntervalMs: 2_000,
        requestedBy: 'demo',
      });
      console.log(
        `Started workflow ${handle.workflowId}: catalog ${SEED_IDS.catalogs.finance} -> image ${SEED_IDS.images.win11Nov}`,
      );
      const end = await watchWorkflow<CatalogUpdateStatus, CatalogUpdateResult>(handle, {
        query: (h) => h.query(statusQuery),
        onChange: (status) => console.log(`${new Date().toISOString().slice(11, 19)}  ${describeStatus(status)}`),
      });
      if (end.kind === 'completed') return end.result;
      throw new Error(end.kind === 'failed' ? `${end.failure.type}: ${end.failure.message}` : end.reason);
    });
    const requests = simulator.requests();
    const posts = requests.filter((r) => r.operation === 'updateImage').length;
    console.log(`\n${result.outcome}: ${result.message}`);
    console.log(
      `Citrix calls: ${requests.length} (${posts} $updateImage, ${requests.filter((r) => r.operation === 'catalog').length} catalog reads, ` +
        `${requests.filter((r) => r.operation === 'token').length} token); demo took ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
    );
    const onNewImage = result.outcome === 'updated' || result.outcome === 'imageAssigned';
    return onNewImage && posts === 1 ? 0 : 1;
  } finally {
    await citrix.close();
    await simulator.close();
    await temporal.teardown();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`demo failed: ${(error as Error)?.message ?? error}`);
    process.exit(1);
  },
);
