/**
 * Records the histories that `test/replay.test.ts` replays. Run it when a workflow changes in a released way, after
 * making the change replay-safe with `patched()` or a new workflow type, and commit the new files next to the old ones:
 * old histories must keep replaying.
 *
 *   npm run histories:record -- [label] [name filter]   (label defaults to the package version)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { version } from '../package.json';
import { CitrixClient } from '../src/citrix';
import { SEED_IDS, startSimulator, type RunningSimulator } from '../src/simulator';
import { startRollout } from '../src/client';
import { catalogUpdateWorkflowId, type UpdateCatalogImageInput } from '../src/shared';
import type { RolloutInput } from '../src/shared/rollout';
import { startLocalTemporal } from '../src/dev/local-temporal';
import { createCatalogWorker } from '../src/worker';
import {
  abortSignal,
  approveUpdate,
  attachUpdate,
  pauseUpdate,
  progressQuery,
  resumeSignal,
  rollbackUpdate,
  statusQuery,
  updateCatalogImage,
} from '../src/workflows';

const TASK_QUEUE = 'record-histories';
const { catalogs, images } = SEED_IDS;

interface Scenario {
  name: string;
  /** A single catalog update, or a rollout. */
  input: UpdateCatalogImageInput | RolloutInput;
  arrange?: (simulator: RunningSimulator) => void;
  act?: (handle: WorkflowHandle) => Promise<void>;
}

const isRollout = (input: Scenario['input']): input is RolloutInput => !('catalogId' in input);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForPhase(handle: WorkflowHandle, phase: string): Promise<void> {
  const query = handle.workflowId.startsWith('rollout-') ? progressQuery.name : statusQuery.name;
  for (let i = 0; i < 200; i++) {
    const status = await handle.query<{ phase: string }>(query).catch(() => undefined);
    if (status?.phase === phase) return;
    await sleep(100);
  }
  throw new Error(`${handle.workflowId} never reached phase ${phase}`);
}

const base = { imageId: images.win11Nov, pollIntervalMs: 1_000 };
// Health gates are recorded in scenarios of their own; the others keep the paths they were recorded for.
const rollout = { imageId: images.win11Nov, pollIntervalMs: 1_000, canaryCount: 1, notify: true, healthGate: false };
const gated = { ...rollout, healthGate: true, healthWaitMs: 1_000, vdaUpdateDelayMinutes: 0 };
const scenarios: Scenario[] = [
  { name: 'updated', input: { ...base, catalogId: catalogs.finance } },
  { name: 'already-current', input: { ...base, catalogId: catalogs.finance, imageId: images.win11Oct } },
  {
    name: 'failed-error-substate',
    input: { ...base, catalogId: catalogs.engineering },
    arrange: (sim) =>
      sim.addFault({
        match: { catalogId: catalogs.engineering },
        action: {
          type: 'failNextUpdate',
          subState: 'ErrorMasterImageProvisioningFailed',
          statusMessage: 'Disk copy failed',
        },
      }),
  },
  { name: 'updated-restart-now', input: { ...base, catalogId: catalogs.sales, vdaUpdateDelayMinutes: 0 } },
  {
    name: 'rolled-back-by-citrix',
    input: { ...base, catalogId: catalogs.engineering },
    arrange: (sim) =>
      sim.addFault({
        match: { catalogId: catalogs.engineering },
        action: {
          type: 'failNextUpdate',
          endState: 'Active',
          atPercent: 0,
          statusMessage: 'Image could not be applied',
        },
      }),
  },
  {
    name: 'catalog-not-ready',
    input: { ...base, catalogId: catalogs.hr },
    arrange: (sim) => sim.patchCatalog(catalogs.hr, { state: 'Processing' }),
  },
  {
    name: 'cancelled-before-post',
    input: { ...base, catalogId: catalogs.callCenter },
    arrange: (sim) =>
      sim.addFault({ match: { operation: 'catalog' }, times: 1, action: { type: 'latency', ms: 2_000 } }),
    act: async (handle) => {
      await waitForPhase(handle, 'validating');
      await handle.cancel();
    },
  },
  {
    name: 'watch-stopped-after-post',
    input: { ...base, catalogId: catalogs.callCenter },
    act: async (handle) => {
      await waitForPhase(handle, 'waiting');
      await handle.cancel();
    },
  },
  {
    name: 'rollout-completed',
    input: { ...rollout, catalogIds: [catalogs.finance, catalogs.engineering, catalogs.sales], batchSize: 2 },
  },
  {
    name: 'rollout-halted-rolled-back',
    input: {
      ...rollout,
      catalogIds: [catalogs.finance, catalogs.engineering, catalogs.sales, catalogs.hr],
      batchSize: 2,
      rollbackOnHalt: true,
    },
    arrange: (sim) =>
      sim.addFault({
        match: { catalogId: catalogs.sales },
        action: { type: 'failNextUpdate', subState: 'ErrorMasterImageNotFound' },
      }),
  },
  {
    name: 'rollout-approved-then-aborted',
    input: {
      ...rollout,
      catalogIds: [catalogs.finance, catalogs.engineering, catalogs.sales],
      batchSize: 1,
      approval: 'everyWave',
    },
    act: async (handle) => {
      await waitForPhase(handle, 'awaitingApproval');
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'recorder' }] });
      await sleep(500);
      await handle.signal(abortSignal, { reason: 'recorded abort', by: 'recorder' });
    },
  },
  { name: 'rollout-dry-run', input: { ...rollout, allCatalogs: true, dryRun: true } },
  {
    name: 'rollout-steered',
    input: { ...rollout, catalogIds: [catalogs.callCenter, catalogs.hr], batchSize: 1, approval: 'afterCanary' },
    act: async (handle) => {
      await waitForPhase(handle, 'awaitingApproval');
      // Steering Updates, a refused one among them, and the signal earlier releases send.
      await handle.executeUpdate(pauseUpdate, { args: [{ by: 'recorder', reason: 'recorded pause' }] });
      await handle.executeUpdate(pauseUpdate, { args: [{ by: 'recorder' }] }).catch(() => undefined);
      await handle.signal(resumeSignal, { by: 'recorder' });
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'recorder', comment: 'recorded approval' }] });
    },
  },
  {
    name: 'rollout-rollback-requested',
    input: { ...rollout, catalogIds: [catalogs.finance, catalogs.engineering], batchSize: 1, approval: 'afterCanary' },
    act: async (handle) => {
      await waitForPhase(handle, 'awaitingApproval');
      await handle.executeUpdate(rollbackUpdate, { args: [{ by: 'recorder', reason: 'recorded rollback' }] });
    },
  },
  {
    // What a second start of a running update sends: the attach update, answered once the update posted.
    name: 'updated-attached',
    input: { ...base, catalogId: catalogs.engineering },
    act: async (handle) => {
      await handle.executeUpdate(attachUpdate, {
        args: [{ imageId: images.win11Nov, startRequestId: 'recorder', waitForPost: true }],
      });
    },
  },
  // Returns the catalogs of rollout-completed (recorded above, on the same server) to their previous images.
  {
    name: 'rollout-restore',
    input: { pollIntervalMs: 1_000, canaryCount: 1, restoreRolloutId: 'rollout-completed', healthGate: false },
  },
  { name: 'rollout-health-passed', input: { ...gated, catalogIds: [catalogs.callCenter, catalogs.hr] } },
  {
    name: 'rollout-health-failed',
    input: {
      ...gated,
      imageId: images.win11Dec,
      catalogIds: [catalogs.finance, catalogs.engineering],
      rollbackOnHalt: true,
    },
    arrange: (sim) =>
      sim.addFault({
        times: null,
        action: { type: 'unhealthyImage', imageId: images.win11Dec, unregisteredPercent: 100 },
      }),
  },
];

async function record(env: TestWorkflowEnvironment, simulator: RunningSimulator, scenario: Scenario, dir: string) {
  simulator.reset();
  scenario.arrange?.(simulator);
  const input = scenario.input;
  const handle: WorkflowHandle = isRollout(input)
    ? await startRollout(env.client, TASK_QUEUE, { ...input, rolloutId: scenario.name })
    : await env.client.workflow.start(updateCatalogImage, {
        taskQueue: TASK_QUEUE,
        workflowId: `${catalogUpdateWorkflowId(input.catalogId)}-${scenario.name}`,
        args: [input],
      });
  await scenario.act?.(handle);
  await handle.result().catch(() => undefined);
  // Every run of the chain, oldest first: an update that continued as new has runs that end in ContinuedAsNew.
  const runs = [];
  for await (const execution of env.client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` })) {
    runs.push(execution);
  }
  runs.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
  for (const [index, execution] of runs.entries()) {
    const file = path.join(dir, `${scenario.name}${index ? `-run${index + 1}` : ''}.json`);
    await writeFile(
      file,
      historyToJSON(await env.client.workflow.getHandle(handle.workflowId, execution.runId).fetchHistory()),
    );
    console.log(`recorded ${file}`);
  }
}

async function recordOn(
  scenarios: Scenario[],
  dir: string,
  options: { extraArgs?: string[]; updateDurationMs: number },
): Promise<void> {
  if (scenarios.length === 0) return;
  const env = await startLocalTemporal({ extraArgs: options.extraArgs });
  const simulator = await startSimulator({ updateDurationMs: options.updateDurationMs, acceptLagMs: 300 });
  const citrix = new CitrixClient(simulator.clientOptions());
  try {
    const worker = await createCatalogWorker({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUE,
      citrix,
      postRetrySettleMs: 1_000,
    });
    await worker.runUntil(async () => {
      for (const scenario of scenarios) await record(env, simulator, scenario, dir);
    });
  } finally {
    await citrix.close();
    await simulator.close();
    await env.teardown();
  }
}

async function main(): Promise<void> {
  const label = process.argv[2] ?? version;
  const only = (list: Scenario[]) => list.filter((scenario) => scenario.name.includes(process.argv[3] ?? ''));
  const dir = path.resolve(__dirname, '../test/histories', String(label));
  await mkdir(dir, { recursive: true });
  await recordOn(only(scenarios), dir, { updateDurationMs: 4_000 });
  // A low threshold makes the server suggest continue-as-new within seconds rather than days.
  const chains: Scenario[] = [
    { name: 'continued-as-new', input: { ...base, catalogId: catalogs.finance } },
    {
      name: 'rollout-continued-as-new',
      input: {
        ...rollout,
        catalogIds: [catalogs.finance, catalogs.engineering, catalogs.sales],
        canaryCount: 0,
        batchSize: 1,
      },
    },
  ];
  await recordOn(only(chains), dir, {
    extraArgs: ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=20'],
    updateDurationMs: 10_000,
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
