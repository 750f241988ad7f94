import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startRollout } from '../src/client';
import { catalogUpdateWorkflowId } from '../src/shared';
import { DEFAULT_SEED, SEED_IDS, type RunningSimulator } from '../src/simulator';
import {
  SecretWatch,
  acceptedPosts,
  eventually,
  failureOf,
  freePort,
  historiesAsJson,
  processEnvFor,
  quietTemporalLogs,
  runStarter,
  sleep,
  spawnWorker,
  startStack,
  type TestStack,
  workflowBundleFile,
} from './helpers';

quietTemporalLogs();

const TASK_QUEUE = 'hostile-input-test';
const { catalogs, images } = SEED_IDS;
/** A name that a backtracking engine needs 2^48 steps to reject for `^(a+)+@$`. */
const REDOS_NAME = 'a'.repeat(48);

describe('promises kept under hostile input', () => {
  let stack: TestStack;
  let simulator: RunningSimulator;
  let worker: ChildProcess;
  let workerOutput = '';
  let healthUrl: string;
  const secrets = new SecretWatch(() => [simulator]);

  /** The notification receiver: answers at once, or trickles its answer a byte at a time. */
  const webhook = { trickle: false, closedAt: [] as number[], posts: 0 };
  let receiver: Server;

  before(async () => {
    const seed = structuredClone(DEFAULT_SEED);
    // A secret whose URL, form and JSON spellings all differ from the raw one.
    seed.clientSecret = 'Zq+8/w "x=3&y\\Lm%2B9-sim';
    seed.catalogs.push({ ...seed.catalogs[0]!, id: 'ca7a10c0-0000-4000-a000-0000000000ee', name: REDOS_NAME });
    receiver = createServer((req, res) => {
      webhook.posts += 1;
      req.resume();
      req.on('end', () => (webhook.trickle ? trickle(res) : res.writeHead(200).end('ok')));
      res.on('close', () => webhook.closedAt.push(Date.now()));
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const healthPort = await freePort();
    healthUrl = `http://127.0.0.1:${healthPort}`;
    let bundlePath: string;
    [stack, bundlePath] = await Promise.all([
      startStack({
        taskQueue: TASK_QUEUE,
        simulator: { seed, updateDurationMs: 1_500, acceptLagMs: 100 },
        worker: false,
      }),
      workflowBundleFile(),
    ]);
    ({ simulator } = stack);
    worker = await spawnWorker(
      processEnvFor(simulator, stack.address, TASK_QUEUE, {
        WORKFLOW_BUNDLE_PATH: bundlePath,
        CITRIX_POST_RETRY_SETTLE_MS: '500',
        HEALTH_BIND_ADDRESS: `127.0.0.1:${healthPort}`,
        ROLLOUT_WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/T0/B1/secret`,
        // The image's heap: a worker that reads a 200 MB answer whole dies of it.
        NODE_OPTIONS: '--max-old-space-size=256',
        LOG_LEVEL: 'DEBUG',
      }),
      (text) => (workerOutput += text),
    );
  });

  after(async () => {
    if (worker?.exitCode === null) worker.kill('SIGKILL');
    receiver?.closeAllConnections();
    receiver?.close();
    await stack?.stop();
  });

  beforeEach(() => {
    secrets.collectTokens();
    simulator.reset();
    webhook.trickle = false;
  });

  const starterEnv = () => processEnvFor(simulator, stack.address, TASK_QUEUE);
  const workerAlive = async () => worker.exitCode === null && (await fetch(`${healthUrl}/healthz`)).ok;

  describe('an endpoint that echoes the request leaks no secret or token into histories, failures, status, output or logs', () => {
    const texts: { what: string; text: string }[] = [];
    const start = async (catalogId: string, what: string) => {
      const run = await runStarter(
        ['start', '--catalog', catalogId, '--image', images.win11Nov, '--poll-interval', '1s', '--wait', '--json'],
        starterEnv(),
      );
      const status = await runStarter(['status', catalogId, '--json'], starterEnv());
      texts.push({ what: `start --wait (${what})`, text: run.stdout + run.stderr });
      texts.push({ what: `status --json (${what})`, text: status.stdout + status.stderr });
      return { run, status };
    };

    test('the token endpoint echoes the form, client_secret and all', async () => {
      simulator.addFault({ match: { operation: 'token' }, times: null, action: { type: 'echo', status: 401 } });
      const refused = await start(catalogs.finance, 'token endpoint echoes');
      assert.equal(refused.run.code, 1, refused.run.stderr);
      // Under --json the end is the last JSON line: the failure's own words.
      const last = JSON.parse(refused.run.stdout.trim().split('\n').at(-1)!);
      assert.equal(last.event, 'failed');
      assert.match(last.message, /refused the API client credentials/);
    });

    test('the API echoes its request (the bearer header) as JSON, once as a 502, then as a 401 that does not clear', async () => {
      simulator.addFault({
        match: { operation: 'catalog' },
        times: 2,
        action: { type: 'echo', status: 502, json: true },
      });
      simulator.addFault({ match: { operation: 'catalog' }, times: null, action: { type: 'echo', status: 401 } });
      const echoed = await start(catalogs.engineering, 'API echoes');
      assert.equal(echoed.run.code, 1, echoed.run.stderr);
      assert.ok(simulator.issuedTokens().length >= 1, 'tokens were issued, so there was something to leak');
      assert.equal(acceptedPosts(simulator), 0);
    });

    test('no text holds the client secret, an encoding of it or a bearer token, and every worker line is JSON', async () => {
      secrets.collectTokens();
      texts.push({ what: 'worker log', text: workerOutput }, ...(await historiesAsJson(stack.env.client)));
      const all = texts.map((t) => t.text).join('\n');
      assert.match(all, /answered 502/, 'the 502 echo was seen and reported');
      const report = secrets.assertNoSecrets(texts);
      // The raw secret is checked by SecretWatch; its encodings here.
      const secret = simulator.clientSecret;
      for (const form of [encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2)]) {
        assert.ok(!all.includes(form), 'an encoded client secret appears in the output');
      }
      console.log(`secrets: ${report.texts} texts (${report.chars} characters) checked for ${report.tokens} tokens`);
      // The Rust core's lines are forwarded into the JSON log (and its redaction): no line bypasses it.
      const notJson = workerOutput.split('\n').filter((line) => line.trim() && !isJson(line));
      assert.deepEqual(notJson, [], 'every line the worker writes is a JSON log line');
    });
  });

  test('a catastrophic name pattern neither stalls the worker nor hangs the rollout', async () => {
    const slowest = { ms: 0 };
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const started = Date.now();
        const answer = await fetch(`${healthUrl}/healthz`, { signal: AbortSignal.timeout(5_000) });
        slowest.ms = Math.max(slowest.ms, Date.now() - started);
        assert.ok(answer.ok);
        await sleep(100);
      }
    })();
    const handle = await startRollout(stack.env.client, TASK_QUEUE, {
      healthGate: false,
      imageId: images.win11Nov,
      allCatalogs: true,
      catalogNamePattern: '^(a+)+@$',
      notify: false,
    });
    const result = await handle.result();
    watching = false;
    await watch;
    assert.equal(result.phase, 'completed');
    assert.equal(result.catalogCount, 0, `no catalog name matches, ${REDOS_NAME} included`);
    assert.ok(slowest.ms < 1_000, `the health endpoint took ${slowest.ms} ms to answer`);
    console.log(`ReDoS: slowest health answer during the rollout ${slowest.ms} ms`);
  });

  for (const [what, action, message] of [
    ['a 200 MB catalog list', { type: 'hugeBody', bytes: 200 * 1024 * 1024 }, /more than 32 MiB/],
    [
      'a catalog list of the wrong type',
      { type: 'status', status: 200, body: { items: 'x' } },
      /malformed catalog list/,
    ],
  ] as const) {
    test(`${what} ends the rollout in a clear non-retryable failure, the worker alive at a 256 MB heap`, async () => {
      simulator.addFault({ match: { operation: 'catalogs' }, times: null, action });
      const handle = await startRollout(stack.env.client, TASK_QUEUE, {
        healthGate: false,
        imageId: images.win11Nov,
        allCatalogs: true,
        dryRun: true,
      });
      const failure = await failureOf(handle.result());
      assert.equal(failure.type, 'CitrixInvalidResponse');
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, message);
      assert.match(failure.message, /read 3 times: check CITRIX_API_BASE_URL/);
      assert.equal(simulator.requests().filter((r) => r.operation === 'catalogs').length, 3);
      assert.ok(await workerAlive(), 'the worker survived');
    });
  }

  test('a trickling webhook holds nothing up and is abandoned within its deadline after a cancel', async () => {
    webhook.trickle = true;
    webhook.closedAt.length = 0;
    const postsBefore = webhook.posts;
    const handle = await startRollout(stack.env.client, TASK_QUEUE, {
      healthGate: false,
      imageId: images.win11Nov,
      catalogIds: [catalogs.hr],
      canaryCount: 0,
      pollIntervalMs: 1_000,
    });
    await eventually(() => webhook.posts > postsBefore || undefined, 20_000, 'the first notification');
    // The catalog is posted while the notification still trickles: notifications are off its critical path.
    await eventually(() => acceptedPosts(simulator, catalogs.hr) === 1 || undefined, 20_000, 'the post');
    assert.equal(webhook.closedAt.length, 0, 'the notification is still being answered');
    const cancelledAt = Date.now();
    await handle.cancel();
    await eventually(() => webhook.closedAt.length > 0 || undefined, 15_000, 'the webhook connection to close');
    const abandonedAfterMs = webhook.closedAt[0]! - cancelledAt;
    assert.ok(abandonedAfterMs < 10_000, `abandoned ${abandonedAfterMs} ms after the cancel`);
    console.log(`webhook: abandoned ${abandonedAfterMs} ms after the cancel`);
    await stack.env.client.workflow
      .getHandle(catalogUpdateWorkflowId(catalogs.hr))
      .result()
      .catch(() => undefined);
  });
});

function isJson(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

/** Headers at once, then one byte every half second: a receiver that never quite answers. */
function trickle(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/plain' });
  const timer = setInterval(() => res.write('.'), 500);
  res.on('close', () => clearInterval(timer));
}
