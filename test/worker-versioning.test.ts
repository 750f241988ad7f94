import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { startCatalogUpdate, startRollout } from '../src/client';
import { findTemporalCli } from '../src/dev/local-temporal';
import { SEED_IDS } from '../src/simulator';
import { approveUpdate, progressQuery } from '../src/workflows';
import {
  eventually,
  processEnvFor,
  quietTemporalLogs,
  spawnWorker,
  startStack,
  statusOf,
  workflowBundleFile,
  type TestStack,
} from './helpers';

quietTemporalLogs();

const TASK_QUEUE = 'worker-versioning-test';
const DEPLOYMENT = 'catalog-rollout';
const execFileAsync = promisify(execFile);

describe('Worker Versioning: a new build ships while updates and rollouts run on the old one', () => {
  let stack: TestStack;
  let bundlePath: string;
  const workers: ChildProcess[] = [];
  const outputs = { a: '', b: '' };

  before(async () => {
    [stack, bundlePath] = await Promise.all([
      // Each update takes 12 s at Citrix: long enough for build B to become current while the first runs on A.
      startStack({ taskQueue: TASK_QUEUE, simulator: { updateDurationMs: 12_000 }, worker: false }),
      workflowBundleFile(),
    ]);
  });

  after(async () => {
    for (const worker of workers) {
      if (worker.exitCode !== null) continue;
      worker.kill('SIGTERM');
      await once(worker, 'exit');
    }
    await stack?.stop();
  });

  const temporal = async (...args: string[]) =>
    (await execFileAsync(findTemporalCli()!, [...args, '--address', stack.address], { encoding: 'utf8' })).stdout;

  async function startBuild(buildId: 'a' | 'b'): Promise<void> {
    const env = processEnvFor(stack.simulator, stack.address, TASK_QUEUE, {
      WORKFLOW_BUNDLE_PATH: bundlePath,
      TEMPORAL_DEPLOYMENT_NAME: DEPLOYMENT,
      TEMPORAL_WORKER_BUILD_ID: `build-${buildId}`,
    });
    workers.push(await spawnWorker(env, (text) => (outputs[buildId] += text)));
    await setCurrent(buildId);
  }

  async function setCurrent(buildId: 'a' | 'b'): Promise<void> {
    // The version exists once the server has seen its worker poll.
    await eventually(
      () =>
        temporal(
          'worker',
          'deployment',
          'set-current-version',
          '--deployment-name',
          DEPLOYMENT,
          '--build-id',
          `build-${buildId}`,
          '--yes',
        ).catch(() => undefined),
      20_000,
      `build-${buildId} to become the current version`,
    );
  }

  /** The build of every workflow task that completed, with when it did. */
  async function workflowTaskBuilds(handle: WorkflowHandle) {
    const history = await handle.fetchHistory();
    return (history.events ?? [])
      .filter((event) => event.workflowTaskCompletedEventAttributes)
      .map((event) => ({
        buildId: event.workflowTaskCompletedEventAttributes!.deploymentVersion?.buildId,
        atMs: Number(event.eventTime!.seconds) * 1000,
      }));
  }

  async function versioningOf(handle: WorkflowHandle) {
    const { raw } = await handle.describe();
    const info = raw.workflowExecutionInfo?.versioningInfo;
    return { buildId: info?.deploymentVersion?.buildId, behavior: info?.behavior };
  }

  test('an update started on build A stays pinned to A after B becomes current, and a new one runs on B', async () => {
    await startBuild('a');
    const { handle: onA } = await startCatalogUpdate(stack.env.client, TASK_QUEUE, {
      catalogId: SEED_IDS.catalogs.finance,
      imageId: SEED_IDS.images.win11Nov,
      pollIntervalMs: 1_000,
    });
    await eventually(
      async () => ((await statusOf(onA))?.catalogState === 'Processing' ? true : undefined),
      20_000,
      'the first update to be Processing at Citrix',
    );

    await startBuild('b');
    const bCurrentAtMs = Date.now();
    const { handle: onB } = await startCatalogUpdate(stack.env.client, TASK_QUEUE, {
      catalogId: SEED_IDS.catalogs.sales,
      imageId: SEED_IDS.images.win11Dec,
      pollIntervalMs: 1_000,
    });

    const [resultA, resultB] = await Promise.all([onA.result(), onB.result()]);
    assert.equal(resultA.outcome, 'imageAssigned');
    assert.equal(resultB.outcome, 'imageAssigned');

    // PINNED is 1 in Temporal's VersioningBehavior enum.
    assert.deepEqual(await versioningOf(onA), { buildId: 'build-a', behavior: 1 });
    assert.deepEqual(await versioningOf(onB), { buildId: 'build-b', behavior: 1 });
    const tasksOfA = await workflowTaskBuilds(onA);
    assert.ok(
      tasksOfA.some((task) => task.atMs >= bCurrentAtMs - 1_000),
      'the first update had workflow tasks after B became current',
    );
    assert.deepEqual(new Set(tasksOfA.map((task) => task.buildId)), new Set(['build-a']));
    assert.deepEqual(new Set((await workflowTaskBuilds(onB)).map((task) => task.buildId)), new Set(['build-b']));
    assert.ok(outputs.a.includes(`"deploymentVersion":"${DEPLOYMENT}.build-a"`), 'worker A logged its version');

    const listed = await temporal('worker', 'deployment', 'list');
    assert.match(listed, new RegExp(DEPLOYMENT));
    const described = await temporal('worker', 'deployment', 'describe', '--name', DEPLOYMENT, '--output', 'json');
    const deployment = JSON.parse(described) as {
      routingConfig: { currentVersionBuildID: string };
      versionSummaries: Array<{ BuildID: string; drainageStatus: string }>;
    };
    assert.equal(deployment.routingConfig.currentVersionBuildID, 'build-b', described);
    // A is no longer current and drains: it can be retired once its pinned updates are done (drained).
    assert.equal(
      deployment.versionSummaries.find((version) => version.BuildID === 'build-a')?.drainageStatus,
      'draining',
    );
  });

  test('a rollout started on build A moves to the current build B, while its canary update stays on A', async () => {
    const { catalogs, images } = SEED_IDS;
    await setCurrent('a');
    const rollout = await startRollout(stack.env.client, TASK_QUEUE, {
      catalogIds: [catalogs.engineering, catalogs.callCenter],
      imageId: images.win11Nov,
      canaryCount: 1,
      batchSize: 1,
      approval: 'afterCanary',
      healthGate: false,
      pollIntervalMs: 1_000,
    });
    await eventually(
      async () =>
        (await rollout.query(progressQuery).catch(() => undefined))?.phase === 'awaitingApproval' ? true : undefined,
      40_000,
      'the rollout to wait for approval after its canary',
    );
    assert.deepEqual(await versioningOf(rollout), { buildId: 'build-a', behavior: 2 }, 'AUTO_UPGRADE on A');

    await setCurrent('b');
    await rollout.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
    const result = await rollout.result();
    assert.equal(result.waves.length, 2);

    // AUTO_UPGRADE is 2 in Temporal's VersioningBehavior enum.
    assert.deepEqual(await versioningOf(rollout), { buildId: 'build-b', behavior: 2 });
    const builds = (await workflowTaskBuilds(rollout)).map((task) => task.buildId);
    assert.equal(builds[0], 'build-a');
    assert.equal(builds.at(-1), 'build-b');
    const updateOf = (catalogId: string) => stack.env.client.workflow.getHandle(`catalog-update-${catalogId}`);
    assert.equal((await versioningOf(updateOf(catalogs.engineering))).buildId, 'build-a', 'the canary ran on A');
    assert.equal((await versioningOf(updateOf(catalogs.callCenter))).buildId, 'build-b', 'the next wave on B');
  });
});
