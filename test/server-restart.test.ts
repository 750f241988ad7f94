import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { SearchAttributes } from '../src/shared/rollout';
import { SEED_IDS, startSimulator, type RunningSimulator } from '../src/simulator';
import { startCatalogUpdate } from '../src/client';
import { findTemporalCli } from '../src/dev/local-temporal';
import type { updateCatalogImage } from '../src/workflows';
import {
  acceptedPosts,
  chaosCount,
  processEnvFor,
  eventually,
  freePort,
  historiesAsJson,
  killHard,
  printFigures,
  recordFigures,
  SecretWatch,
  sleep,
  spawnWorker,
  statusOf,
  workflowBundleFile,
} from './helpers';

const TASK_QUEUE = 'server-restart';
const { catalogs, images } = SEED_IDS;

describe('a Temporal server stopped mid-wait and started again from its database', () => {
  let dir: string;
  let server: ChildProcess | undefined;
  let worker: ChildProcess | undefined;
  let simulator: RunningSimulator;
  let address: string;
  let workerOutput = '';
  const secrets = new SecretWatch(() => [simulator]);

  async function startServer(): Promise<Client> {
    const cli = findTemporalCli();
    assert.ok(cli, 'the Temporal CLI is installed');
    const [, port] = address.split(':');
    server = spawn(
      cli,
      [
        'server',
        'start-dev',
        '--headless',
        '--ip',
        '127.0.0.1',
        '--port',
        port!,
        '--db-filename',
        path.join(dir, 'temporal.db'),
        '--log-level',
        'error',
        ...Object.values(SearchAttributes).flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
      ],
      { stdio: 'ignore' },
    );
    return connectToServer();
  }

  /** The server answers once it has opened its database. */
  function connectToServer(): Promise<Client> {
    return eventually(
      async () => {
        try {
          const connection = await Connection.connect({ address, connectTimeout: '1 second' });
          const client = new Client({ connection });
          await client.workflowService.getSystemInfo({});
          return client;
        } catch {
          return undefined;
        }
      },
      30_000,
      'the Temporal server to answer',
    );
  }

  async function stopServer(): Promise<void> {
    if (!server || server.exitCode !== null) return;
    const exited = once(server, 'exit');
    server.kill('SIGTERM');
    // A graceful stop sometimes waits on open connections: give it a while, then make sure.
    const timer = setTimeout(() => server?.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'server-restart-'));
    address = `127.0.0.1:${await freePort()}`;
    simulator = await startSimulator({ updateDurationMs: Infinity, acceptLagMs: 300 });
    const bundlePath = await workflowBundleFile();
    const client = await startServer();
    await client.connection.close();
    worker = await spawnWorker(
      processEnvFor(simulator, address, TASK_QUEUE, {
        WORKFLOW_BUNDLE_PATH: bundlePath,
        CITRIX_POST_RETRY_SETTLE_MS: '1000',
      }),
      (text) => (workerOutput += text),
    );
  });

  after(async () => {
    if (worker) await killHard(worker);
    await stopServer();
    await simulator?.close();
    await rm(dir, { recursive: true, force: true });
    printFigures();
  });

  const rounds = chaosCount(1, 3);

  test(`the update completes with one post after the server comes back, and the worker reconnects by itself (${rounds} restarts)`, async () => {
    let correct = 0;
    let duplicatePosts = 0;
    // Legal is a single-session catalog: the multi-session November image does not fit it.
    const catalogIds = Object.values(catalogs).filter((id) => id !== catalogs.legal);
    for (let round = 0; round < rounds; round++) {
      const catalogId = catalogIds[round % catalogIds.length]!;
      // The server of the previous round (or of `before`) may still run: start one only when none does, since a
      // second one on the same port would die at once and leave the first without an owner.
      let client = server && server.exitCode === null ? await connectToServer() : await startServer();
      const { handle } = await startCatalogUpdate(client, TASK_QUEUE, {
        catalogId,
        imageId: images.win11Nov,
        pollIntervalMs: 1_000,
      });
      await eventually(
        async () => ((await statusOf(handle))?.catalogState === 'Processing' ? true : undefined),
        20_000,
        'the catalog to be Processing',
      );
      await client.connection.close();

      await stopServer();
      await sleep(2_000);
      client = await startServer();
      simulator.completeUpdate(catalogId);
      const result = await client.workflow.getHandle<typeof updateCatalogImage>(handle.workflowId).result();
      const posts = acceptedPosts(simulator, catalogId);
      duplicatePosts += Math.max(0, posts - 1);
      if (result.outcome === 'imageAssigned' && posts === 1) correct++;
      assert.equal(worker?.exitCode, null, 'the worker survived the restart');
      if (round === rounds - 1) {
        const report = secrets.assertNoSecrets([
          { what: 'worker output', text: workerOutput },
          ...(await historiesAsJson(client)),
        ]);
        recordFigures({
          row: 'secrets: server restart',
          tried: report.texts,
          endedCorrectly: report.texts,
          duplicatePosts: 0,
        });
      }
      await client.connection.close();
      if (round < rounds - 1) await stopServer();
    }
    recordFigures({ row: 'Temporal server restart mid-wait', tried: rounds, endedCorrectly: correct, duplicatePosts });
    assert.equal(correct, rounds);
    assert.equal(duplicatePosts, 0);
  });
});
