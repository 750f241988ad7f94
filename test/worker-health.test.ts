import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { RunningSimulator } from '../src/simulator';
import {
  eventually,
  freePort,
  killHard,
  processEnvFor,
  quietTemporalLogs,
  spawnWorker,
  startStack,
  type TestStack,
} from './helpers';
import { startProxy } from './helpers/proxy';

quietTemporalLogs();

const TASK_QUEUE = 'worker-health-test';

/** The worker process as Docker or Kubernetes runs it: refusing what cannot work, ready only while it can work. */
describe('worker health follows its dependencies', () => {
  let stack: TestStack;
  let simulator: RunningSimulator;

  before(async () => {
    stack = await startStack({ taskQueue: TASK_QUEUE, worker: false });
    ({ simulator } = stack);
  });
  after(() => stack?.stop());

  test('a wrong Citrix secret stops the worker at start with a clear refusal, the secret not repeated', async () => {
    let output = '';
    const wrong = 'Wrong-Secret-7f3a9c1e';
    await assert.rejects(
      spawnWorker(
        processEnvFor(simulator, stack.address, TASK_QUEUE, { CITRIX_CLIENT_SECRET: wrong }),
        (text) => (output += text),
      ),
      /worker exited with 1 before it started/,
    );
    assert.match(output, /Citrix Cloud refused the worker's credentials/);
    assert.match(output, /CITRIX_CLIENT_SECRET/);
    assert.ok(!output.includes(wrong), 'the secret is not repeated');
    assert.equal(simulator.requests().filter((r) => r.operation === 'catalogs').length, 0, 'no catalog was read');
  });

  test(
    '/readyz turns 503 while Temporal is unreachable and 200 again when it is back',
    { timeout: 180_000 },
    async () => {
      const proxy = await startProxy(stack.address);
      const port = await freePort();
      let worker: ChildProcess | undefined;
      const readyz = async () => {
        const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
        return response && { status: response.status, body: (await response.json()) as Record<string, unknown> };
      };
      try {
        worker = await spawnWorker(
          processEnvFor(simulator, proxy.address, TASK_QUEUE, { HEALTH_BIND_ADDRESS: `127.0.0.1:${port}` }),
          () => undefined,
        );
        await eventually(async () => (await readyz())?.status === 200 || undefined, 30_000, 'ready');
        proxy.cut();
        const down = await eventually(
          async () => {
            const answer = await readyz();
            return answer?.status === 503 ? answer : undefined;
          },
          60_000,
          'not ready while Temporal is cut off',
        );
        assert.equal(down.body.temporal, 'unreachable');
        assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200, 'still alive: keep the process');
        proxy.restore();
        await eventually(async () => (await readyz())?.status === 200 || undefined, 120_000, 'ready again');
      } finally {
        if (worker) await killHard(worker);
        await proxy.close();
      }
    },
  );
});
