import type { DataConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { CitrixClient } from '../../src/citrix';
import { startLocalTemporal, startTimeSkippingTemporal } from '../../src/dev/local-temporal';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator';
import { createCatalogWorker, type CatalogWorkerOptions } from '../../src/worker';
import { workflowBundle } from './bundles';
import { citrixFor, type CitrixSettings } from './citrix';

/** Settings of an in-process worker, over the stack's defaults. */
export type WorkerSettings = Partial<Omit<CatalogWorkerOptions, 'connection' | 'taskQueue' | 'citrix'>>;

/** One more in-process worker, on a task queue of its own. */
export interface WorkerSpec {
  taskQueue: string;
  /** Settings of a Citrix client of its own, over the stack's `citrix`; without them it shares the stack's client. */
  citrix?: CitrixSettings | ((simulator: RunningSimulator) => CitrixSettings);
  /** Over the stack's `worker` settings. */
  worker?: WorkerSettings;
}

export interface TestStack {
  env: TestWorkflowEnvironment;
  simulator: RunningSimulator;
  /** A client of the simulator, for reading catalogs as Citrix reports them (and the one the workers share). */
  citrix: CitrixClient;
  /** The in-process workers: the one on `taskQueue` (unless `worker: false`), then `moreWorkers`. */
  workers: Worker[];
  /** `host:port` of the Temporal server, for processes the test starts. */
  address: string;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** The task queue of the in-process worker. */
  taskQueue: string;
  /** @default 'local' (the dev server) */
  server?: 'local' | 'timeSkipping';
  /** Listen on this port (local server only). */
  port?: number;
  /** Extra dev server flags, such as `--dynamic-config-value` settings. */
  serverArgs?: string[];
  simulator?: SimulatorOptions;
  /**
   * Settings of the in-process worker on `taskQueue`, and the defaults of `moreWorkers`. `false` for no worker on
   * `taskQueue`: a suite that runs its workers as processes.
   */
  worker?: WorkerSettings | false;
  /** Settings of the client the workers use. */
  citrix?: CitrixSettings;
  /** In-process workers on other task queues, such as one whose Citrix client has the wrong secret. */
  moreWorkers?: WorkerSpec[];
  /** The data converter of the stack's client and workers (`createDataConverter(keys)` for encrypted payloads). */
  dataConverter?: DataConverter;
}

/** A real Temporal server, the simulator and in-process workers: what most tests need, started in parallel. */
export async function startStack(options: StackOptions): Promise<TestStack> {
  const [server, sim, built] = await Promise.allSettled([
    options.server === 'timeSkipping'
      ? startTimeSkippingTemporal()
      : startLocalTemporal({ port: options.port, extraArgs: options.serverArgs, dataConverter: options.dataConverter }),
    startSimulator(options.simulator),
    workflowBundle(options.dataConverter?.failureConverterPath),
  ]);
  if (server.status === 'rejected' || sim.status === 'rejected' || built.status === 'rejected') {
    if (server.status === 'fulfilled') await server.value.teardown();
    if (sim.status === 'fulfilled') await sim.value.close();
    throw [server, sim, built].find((result) => result.status === 'rejected')!.reason;
  }
  const [env, simulator, bundle] = [server.value, sim.value, built.value];
  const citrix = citrixFor(simulator, options.citrix);
  const clients = [citrix];
  const workers: Worker[] = [];
  const runs: Promise<void>[] = [];
  async function stop(): Promise<void> {
    for (const worker of workers) worker.shutdown();
    await Promise.all(runs);
    for (const client of clients) await client.close();
    await simulator.close();
    await env.teardown();
  }

  const specs: WorkerSpec[] = [
    ...(options.worker === false ? [] : [{ taskQueue: options.taskQueue }]),
    ...(options.moreWorkers ?? []),
  ];
  const created = await Promise.allSettled(
    specs.map(async (spec) => {
      const settings = typeof spec.citrix === 'function' ? spec.citrix(simulator) : spec.citrix;
      const client = settings ? citrixFor(simulator, { ...options.citrix, ...settings }) : citrix;
      if (client !== citrix) clients.push(client);
      const worker = await createCatalogWorker({
        connection: env.nativeConnection,
        taskQueue: spec.taskQueue,
        citrix: client,
        postRetrySettleMs: 1_000,
        workflowBundle: bundle,
        dataConverter: options.dataConverter,
        ...(options.worker || {}),
        ...spec.worker,
      });
      workers.push(worker);
      runs.push(worker.run());
    }),
  );
  const failed = created.find((result) => result.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return { env, simulator, citrix, workers, address: env.address, stop };
}
