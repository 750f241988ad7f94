/**
 * The main job on embedded defaults: a local Temporal dev server with its UI, the Catalog Service simulator and a
 * worker, then one catalog image update with live progress. Exits 0 only when the catalog ends on the new image.
 * `--keep` leaves everything up afterwards, until Ctrl-C, to look around in the UI and with the CLI.
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { CitrixClient } from './citrix';
import { CODEC_KEYS_VARIABLE, createDataConverter, readCodecKeyFile } from './codec';
import { SEED_IDS, startSimulator } from './simulator';
import { type CatalogUpdateResult, type CatalogUpdateStatus } from './shared';
import { startCatalogUpdate, watchWorkflow } from './client';
import { describeStatus } from './cli/render';
import { statusQuery } from './workflows';
import { freeLoopbackPort, startLocalTemporal, uiBaseUrl, workflowUiUrl } from './dev/local-temporal';
import { createCatalogWorker } from './worker';

const TASK_QUEUE = 'catalog-rollout-demo';

async function main(args: string[]): Promise<number> {
  const unknown = args.filter((arg) => arg !== '--keep');
  if (unknown.length) {
    console.error(`demo: unknown option ${unknown.join(' ')}; the only option is --keep (stay up until Ctrl-C)`);
    return 2;
  }
  const keep = args.includes('--keep');
  const startedAt = Date.now();
  // The progress lines are the demo's output; the SDK's own start-up chatter is not. Ctrl-C is the demo's to handle:
  // with --keep it ends the wait, and the worker is shut down in order with everything else.
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  const interrupted = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const keysFile = process.env[CODEC_KEYS_VARIABLE];
  // With the worker's key file, the demo's payloads are encrypted as production's would be.
  const dataConverter = createDataConverter(keysFile ? readCodecKeyFile(keysFile, CODEC_KEYS_VARIABLE) : undefined);
  console.log('Starting a local Temporal dev server with its UI…');
  const uiPort = await freeLoopbackPort();
  const temporal = await startLocalTemporal({ uiPort, dataConverter });
  console.log(`Temporal server on ${temporal.address}, its UI on ${uiBaseUrl(uiPort)}`);
  const simulator = await startSimulator({ updateDurationMs: 15_000, acceptLagMs: 1_500 });
  console.log(`Citrix Catalog Service simulator on ${simulator.baseUrl}`);
  const citrix = new CitrixClient(simulator.clientOptions());
  const report = (result: CatalogUpdateResult) => {
    const requests = simulator.requests();
    const count = (operation: string) => requests.filter((r) => r.operation === operation).length;
    console.log(`\n${result.outcome}: ${result.message}`);
    console.log(
      `Citrix calls: ${requests.length} (${count('updateImage')} $updateImage, ${count('catalog')} catalog reads, ` +
        `${count('token')} token); demo took ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
    );
  };
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
      console.log(`Follow it in the Temporal UI: ${workflowUiUrl(uiPort, handle.workflowId, temporal.namespace)}`);
      const end = await watchWorkflow<CatalogUpdateStatus, CatalogUpdateResult>(handle, {
        query: (h) => h.query(statusQuery),
        onChange: (status) => console.log(`${new Date().toISOString().slice(11, 19)}  ${describeStatus(status)}`),
      });
      if (end.kind !== 'completed') {
        throw new Error(end.kind === 'failed' ? `${end.failure.type}: ${end.failure.message}` : end.reason);
      }
      if (keep) {
        report(end.result);
        console.log(
          `\nStill up (--keep): the UI on ${uiBaseUrl(uiPort)}, Temporal on ${temporal.address} ` +
            `(temporal workflow list --address ${temporal.address}), the simulator on ${simulator.baseUrl}, ` +
            `and the worker on task queue ${TASK_QUEUE}. Press Ctrl-C to stop them all.`,
        );
        await interrupted;
        console.log('Stopping the worker, the simulator and the Temporal server…');
      }
      return end.result;
    });
    if (!keep) report(result);
    const posts = simulator.requests().filter((r) => r.operation === 'updateImage').length;
    const onNewImage = result.outcome === 'updated' || result.outcome === 'imageAssigned';
    return onNewImage && posts === 1 ? 0 : 1;
  } finally {
    await citrix.close();
    await simulator.close();
    await temporal.teardown();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`demo failed: ${(error as Error)?.message ?? error}`);
    process.exit(1);
  },
);
