import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { CitrixClient } from '../src/citrix';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../src/simulator';
import { startLocalTemporal, startTimeSkippingTemporal } from '../src/temporal';
import { createCatalogWorker, type CatalogWorkerOptions } from '../src/worker';
import { citrixFor, workflowBundle } from './helpers';

export interface TestStack {
  env: TestWorkflowEnvironment;
  simulator: RunningSimulator;
  /** A client of the simulator, for reading catalogs as Citrix reports them. */
  citrix: CitrixClient;
  worker: Worker;
  /** `host:port` of the Temporal server, for processes the test starts. */
  address?: string;
  stop(): Promise<void>;
}

export interface StackOptions {
  taskQueue: string;
  /** @default 'local' (the dev server) */
  server?: 'local' | 'timeSkipping';
  /** Listen on this port (local server only), so that child processes can reach it. */
  port?: number;
  /** Extra dev server flags, such as `--dynamic-config-value` settings. */
  serverArgs?: string[];
  simulator?: SimulatorOptions;
  worker?: Partial<Omit<CatalogWorkerOptions, 'connection' | 'taskQueue' | 'citrix'>>;
  /** Settings of the client the worker uses. */
  citrix?: Parameters<typeof citrixFor>[1];
}

/** A real Temporal server, the simulator and an in-process worker: what most tests need, started in parallel. */
export async function startStack(options: StackOptions): Promise<TestStack> {
  const [env, simulator, bundle] = await Promise.all([
    options.server === 'timeSkipping'
      ? startTimeSkippingTemporal()
      : startLocalTemporal({ port: options.port, extraArgs: options.serverArgs }),
    startSimulator(options.simulator),
    workflowBundle(),
  ]);
  const citrix = citrixFor(simulator, options.citrix);
  const worker = await createCatalogWorker({
    connection: env.nativeConnection,
    taskQueue: options.taskQueue,
    citrix,
    postRetrySettleMs: 1_000,
    workflowBundle: bundle,
    ...options.worker,
  });
  const running = worker.run();
  return {
    env,
    simulator,
    citrix,
    worker,
    address: options.port ? `127.0.0.1:${options.port}` : undefined,
    async stop() {
      worker.shutdown();
      await running;
      await citrix.close();
      await simulator.close();
      await env.teardown();
    },
  };
}
