import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SEED_IDS } from '../src/simulator';
import {
  acceptedPosts,
  jsonLines,
  processEnvFor,
  quietTemporalLogs,
  runStarter,
  spawnWorker,
  startStack,
  workflowBundleFile,
  type TestStack,
} from './helpers';

quietTemporalLogs();

const TASK_QUEUE = 'client-profiles-test';
const NAMESPACE = 'default';

describe('the worker and the starter configured by a Temporal CLI profile alone', () => {
  let stack: TestStack;
  let bundlePath: string;
  let dir: string;
  const workers: ChildProcess[] = [];

  before(async () => {
    [stack, bundlePath, dir] = await Promise.all([
      startStack({
        taskQueue: TASK_QUEUE,
        simulator: { updateDurationMs: 2_000 },
        worker: false,
      }),
      workflowBundleFile(),
      mkdtemp(path.join(tmpdir(), 'catalog-rollout-profiles-')),
    ]);
  });

  after(async () => {
    for (const worker of workers) if (worker.exitCode === null) worker.kill('SIGKILL');
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The processes' environment: the simulator, the task queue and the profile; no TEMPORAL_ADDRESS or _NAMESPACE. */
  function profileEnv(extra: Record<string, string> = {}) {
    const env = processEnvFor(stack.simulator, stack.address, TASK_QUEUE, {
      WORKFLOW_BUNDLE_PATH: bundlePath,
      CITRIX_POST_RETRY_SETTLE_MS: '1000',
      TEMPORAL_CONFIG_FILE: path.join(dir, 'temporal.toml'),
      TEMPORAL_PROFILE: 'ops',
      ...extra,
    });
    delete env.TEMPORAL_ADDRESS;
    delete env.TEMPORAL_NAMESPACE;
    return env;
  }

  test('a worker and the starter find the server and namespace in the profile and complete an update', async () => {
    // The file as `temporal config set --profile ops ...` writes it; the default profile points nowhere, so only the
    // profile TEMPORAL_PROFILE names can have reached the server.
    await writeFile(
      path.join(dir, 'temporal.toml'),
      `[profile.default]\naddress = "127.0.0.1:1"\n\n[profile.ops]\naddress = "${stack.address}"\nnamespace = "${NAMESPACE}"\n`,
    );
    let output = '';
    const worker = await spawnWorker(profileEnv(), (text) => (output += text));
    workers.push(worker);
    const started = jsonLines(output).find((line) => line.msg === 'worker started');
    assert.equal(started?.address, stack.address);
    assert.equal(started?.namespace, NAMESPACE);

    const run = await runStarter(
      [
        'start',
        '--catalog',
        SEED_IDS.catalogs.sales,
        '--image',
        SEED_IDS.images.win11Dec,
        '--poll-interval',
        '1s',
        '--wait',
        '--json',
      ],
      profileEnv(),
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal(jsonLines(run.stdout).at(-1)?.outcome, 'imageAssigned');
    assert.equal(acceptedPosts(stack.simulator), 1);
    const inNamespace = await stack.env.client.workflow.workflowService.countWorkflowExecutions({
      namespace: NAMESPACE,
      query: `TaskQueue = "${TASK_QUEUE}"`,
    });
    assert.equal(Number(inNamespace.count), 1, 'the update ran in the profile namespace');

    worker.kill('SIGTERM');
    await once(worker, 'exit');
  });

  test('an older TLS variable name is warned about once by the worker and on stderr by the starter', async () => {
    // The variable turns TLS on against the plaintext dev server: both fail to connect, after their warning.
    const env = profileEnv({ TEMPORAL_TLS_SERVER_CA_PATH: path.join(dir, 'temporal.toml') });
    const expected = /TEMPORAL_TLS_SERVER_CA_PATH is deprecated .*rename it to TEMPORAL_TLS_SERVER_CA_CERT_PATH/g;
    let output = '';
    await assert.rejects(spawnWorker(env, (text) => (output += text)));
    assert.equal(output.match(expected)?.length, 1, output);
    const listed = await runStarter(['list'], env);
    assert.notEqual(listed.code, 0);
    assert.equal(listed.stderr.match(expected)?.length, 1, listed.stderr);
  });
});
