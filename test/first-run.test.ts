import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEED_IDS, startSimulator } from '../src/simulator';
import { SearchAttributesMissingError, startCatalogUpdate } from '../src/client';
import { findTemporalCli } from '../src/dev/local-temporal';
import { processEnvFor, quietTemporalLogs, spawnWorker } from './helpers';

quietTemporalLogs();

describe('a Temporal namespace without the search attributes registered', () => {
  let env: TestWorkflowEnvironment;

  before(async () => {
    // A dev server as a new user's own server is: none of the project's search attributes registered.
    const cli = findTemporalCli();
    env = await TestWorkflowEnvironment.createLocal({
      server: { executable: cli ? { type: 'existing-path', path: cli } : { type: 'cached-download' }, ip: '127.0.0.1' },
    });
  });
  after(() => env?.teardown());

  test('start refuses with the one command that registers them, and starts nothing', async () => {
    await assert.rejects(
      startCatalogUpdate(env.client, 'first-run', {
        catalogId: SEED_IDS.catalogs.finance,
        imageId: SEED_IDS.images.win11Nov,
      }),
      (error: unknown) => {
        assert.ok(error instanceof SearchAttributesMissingError, String(error));
        assert.match(error.message, /has no search attribute CatalogId/);
        assert.match(error.message, /temporal operator search-attribute create --namespace default --name \$name/);
        return true;
      },
    );
    const started = [];
    for await (const execution of env.client.workflow.list()) started.push(execution.workflowId);
    assert.deepEqual(started, []);
  });

  test('the worker refuses to start, naming the one command that registers them', async () => {
    const simulator = await startSimulator();
    let output = '';
    try {
      await assert.rejects(
        spawnWorker(processEnvFor(simulator, env.address, 'first-run'), (text) => (output += text)),
        /worker exited with 1 before it started/,
      );
    } finally {
      await simulator.close();
    }
    assert.match(output, /has no search attribute CatalogId, ImageId, RolloutId, RolloutPhase/);
    assert.match(output, /temporal operator search-attribute create --namespace default --name \$name --type Keyword/);
  });
});
