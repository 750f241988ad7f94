import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { InvalidInputError, type UpdateCatalogImageInput } from '../src/shared';
import { SEED_IDS, type RunningSimulator } from '../src/simulator';
import { startCatalogUpdate } from '../src/client';
import { updateCatalogImage } from '../src/workflows';
import {
  captureTemporalLogs,
  processEnvFor,
  failureOf,
  freePort,
  historiesAsJson,
  printFigures,
  recordFigures,
  runStarter,
  SecretWatch,
  spawnWorker,
  startStack,
  type TestStack,
} from './helpers';

captureTemporalLogs();

const TASK_QUEUE = 'bad-input';
const WRONG_SECRET_QUEUE = 'bad-input-wrong-secret';
const { catalogs, images } = SEED_IDS;
const MISSING_GUID = '00000000-0000-4000-8000-000000000000';

describe('bad input gets a clear, actionable error and posts nothing', () => {
  let stack: TestStack;
  let simulator: RunningSimulator;
  let closedPort: number;
  const secrets = new SecretWatch(() => [simulator]);
  const figures = { tried: 0, correct: 0 };

  before(async () => {
    closedPort = await freePort();
    stack = await startStack({
      taskQueue: TASK_QUEUE,
      simulator: { updateDurationMs: 1_000, acceptLagMs: 100 },
      moreWorkers: [{ taskQueue: WRONG_SECRET_QUEUE, citrix: { clientSecret: 'not-the-secret' } }],
    });
    ({ simulator } = stack);
  });

  after(async () => {
    await stack?.stop();
    recordFigures({ row: 'bad input', tried: figures.tried, endedCorrectly: figures.correct, duplicatePosts: 0 });
    printFigures();
  });

  const posts = () => simulator.requests().filter((r) => r.operation === 'updateImage').length;

  /** Counts the case; the assertion inside decides whether it ended correctly. */
  async function expectCase(check: () => Promise<void>): Promise<void> {
    figures.tried++;
    const before = posts();
    await check();
    assert.equal(posts(), before, 'nothing was posted');
    figures.correct++;
  }

  const processEnv = (extra: Record<string, string | undefined> = {}) =>
    processEnvFor(simulator, stack.address, TASK_QUEUE, extra);
  const start = ['start', '--catalog', catalogs.finance, '--image', images.win11Nov];
  const starterCases: Array<[string, string[], number, RegExp, Record<string, string | undefined>?]> = [
    [
      'a malformed catalog id',
      ['start', '--catalog', 'Finance', '--image', images.win11Nov],
      2,
      /--catalog must be a catalog GUID/,
    ],
    [
      'a malformed image id',
      ['start', '--catalog', catalogs.finance, '--image', '../images'],
      2,
      /--image must be a Citrix template image id/,
    ],
    [
      'a negative VDA update delay',
      [...start, '--vda-update-delay', '-5'],
      2,
      /--vda-update-delay must be -1 \(next shutdown\), 0 \(now\)/,
    ],
    [
      'an absurd VDA update delay',
      [...start, '--vda-update-delay', '99999999'],
      2,
      /--vda-update-delay must be at most a week/,
    ],
    ['a zero poll interval', [...start, '--poll-interval', '0s'], 2, /expected a duration with a unit/],
    ['a negative poll interval', [...start, '--poll-interval', '-30s'], 2, /expected a duration with a unit/],
    ['an absurd poll interval', [...start, '--poll-interval', '5h'], 2, /--poll-interval must be at most 1 hour/],
    [
      'a deadline shorter than the poll interval',
      [...start, '--poll-interval', '10m', '--deadline', '5m'],
      2,
      /--deadline must be longer than --poll-interval/,
    ],
    ['an absurd deadline', [...start, '--deadline', '30d'], 2, /--deadline must be at most 7 days/],
    ['an empty warning title', [...start, '--warning-title', '  '], 2, /--warning-title must not be empty/],
    [
      'an oversized warning message',
      [...start, '--warning-message', 'x'.repeat(3000)],
      2,
      /--warning-message is longer than 2048 characters/,
    ],
    ['a missing image', ['start', '--catalog', catalogs.finance], 2, /required option '--image <id>'/],
    [
      'an unreachable Temporal server (exit 3: it could not tell)',
      start,
      3,
      /cannot reach the Temporal server at 127\.0\.0\.1:\d+ .*TEMPORAL_ADDRESS/s,
      { TEMPORAL_ADDRESS: 'CLOSED' },
    ],
    [
      'missing Citrix credentials (catalogs)',
      ['catalogs'],
      2,
      /CITRIX_CUSTOMER_ID is required.*CITRIX_CLIENT_SECRET/s,
      { CITRIX_CUSTOMER_ID: undefined, CITRIX_CLIENT_SECRET: undefined },
    ],
    [
      'a wrong client secret (catalogs)',
      ['catalogs'],
      1,
      /refused the API client credentials.*check the client id, the secret/s,
      { CITRIX_CLIENT_SECRET: 'not-the-secret' },
    ],
    [
      'an unreachable Citrix host (catalogs)',
      ['catalogs'],
      1,
      /failed before an answer arrived \(ECONNREFUSED\)/,
      { CITRIX_API_BASE_URL: 'CLOSED', CITRIX_TOKEN_URL: 'CLOSED_TOKEN' },
    ],
  ];

  // A few at a time: each is a process that compiles TypeScript on start.
  describe(
    `the starter exits 2 for bad input, 1 for a refusing server and 3 for an unreachable one, with a message that says what to do (${starterCases.length} cases)`,
    { concurrency: 4 },
    () => {
      for (const [what, args, code, message, extra = {}] of starterCases) {
        test(what, async () => {
          const resolved = Object.fromEntries(
            Object.entries(extra).map(([name, value]) => [
              name,
              value === 'CLOSED'
                ? name === 'TEMPORAL_ADDRESS'
                  ? `127.0.0.1:${closedPort}`
                  : `http://127.0.0.1:${closedPort}/catalogservice`
                : value === 'CLOSED_TOKEN'
                  ? `http://127.0.0.1:${closedPort}/cctrustoauth2/${simulator.customerId}/tokens/clients`
                  : value,
            ]),
          );
          await expectCase(async () => {
            const result = await runStarter(args, processEnv(resolved));
            secrets.keep(`starter output for ${what}`, result.stdout + result.stderr);
            assert.equal(result.code, code, `${what}: exit ${result.code}\n${result.stderr}`);
            assert.match(result.stderr, message, what);
          });
        });
      }
    },
  );

  const workerCases: Array<[string, Record<string, string | undefined>, RegExp]> = [
    [
      'missing credentials',
      { CITRIX_CLIENT_SECRET: undefined, CITRIX_CLIENT_ID: undefined },
      /CITRIX_CLIENT_ID is required.*CITRIX_CLIENT_SECRET/s,
    ],
    [
      'a Citrix URL that is not a URL',
      { CITRIX_API_BASE_URL: 'api.cloud.com/catalogservice' },
      /CITRIX_API_BASE_URL must be a URL/,
    ],
    ['an unreachable Temporal server', { TEMPORAL_ADDRESS: 'CLOSED' }, /cannot reach the Temporal server/],
    ['a webhook that is a file', { ROLLOUT_WEBHOOK_URL: 'file:///etc/passwd' }, /ROLLOUT_WEBHOOK_URL must be an https/],
    [
      'a webhook on a link-local (cloud metadata) address',
      { ROLLOUT_WEBHOOK_URL: 'https://169.254.169.254/latest/meta-data' },
      /ROLLOUT_WEBHOOK_URL names a link-local/,
    ],
    [
      'a token URL over plain http to another host',
      { CITRIX_TOKEN_URL: 'http://trust.example.com/root/tokens/clients' },
      /CITRIX_TOKEN_URL must use https/,
    ],
    [
      'a Citrix URL with a user name and password in it',
      { CITRIX_API_BASE_URL: 'https://admin:hunter22@api.cloud.com/catalogservice' },
      /CITRIX_API_BASE_URL must not carry a user name or password/,
    ],
    [
      'a request timeout past what a timer can hold',
      { CITRIX_REQUEST_TIMEOUT_MS: String(2 ** 32) },
      /CITRIX_REQUEST_TIMEOUT_MS: must be at most 600000/,
    ],
  ];

  describe(
    `the worker refuses to start with exit 1 and one clear message for a broken configuration (${workerCases.length} cases)`,
    { concurrency: workerCases.length },
    () => {
      for (const [what, extra, message] of workerCases) {
        test(what, () =>
          expectCase(async () => {
            let output = '';
            const env = processEnv(extra);
            if (env.TEMPORAL_ADDRESS === 'CLOSED') env.TEMPORAL_ADDRESS = `127.0.0.1:${closedPort}`;
            await assert.rejects(
              spawnWorker(env, (text) => (output += text)),
              /worker exited with 1 before it started/,
              what,
            );
            secrets.keep(`worker output for ${what}`, output);
            assert.match(output, message, what);
            // A webhook URL is a credential, and so is a password in a URL: neither is repeated back.
            if (extra.ROLLOUT_WEBHOOK_URL) assert.ok(!output.includes(extra.ROLLOUT_WEBHOOK_URL), what);
            assert.ok(!output.includes('hunter22'), what);
          }),
        );
      }
    },
  );

  const update = (input: Partial<UpdateCatalogImageInput>, taskQueue = TASK_QUEUE) =>
    startCatalogUpdate(stack.env.client, taskQueue, {
      catalogId: catalogs.finance,
      imageId: images.win11Nov,
      pollIntervalMs: 1_000,
      ...input,
    });

  const workflowCases: Array<[string, () => void, Partial<UpdateCatalogImageInput>, string, RegExp, string?]> = [
    ['an unknown catalog', () => {}, { catalogId: MISSING_GUID }, 'CatalogNotFound', /check the catalog id/],
    ['an unknown image', () => {}, { imageId: MISSING_GUID }, 'ImageNotFound', /check the image id/],
    [
      'an image still importing',
      () => {},
      { imageId: images.importing },
      'ImageNotUsable',
      /wait until Citrix shows it Ready/,
    ],
    [
      'an image that failed',
      () => {},
      { imageId: images.failed },
      'ImageNotUsable',
      /never become usable, pick another image/,
    ],
    [
      'a deprecated image',
      () => {},
      { imageId: images.deprecated },
      'ImageNotUsable',
      /deprecated: pick a current image/,
    ],
    ...(['Processing', 'Error', 'Deleting', 'NotFound'] as const).map(
      (state) =>
        [
          `a catalog in state ${state}`,
          () =>
            simulator.patchCatalog(catalogs.finance, {
              state,
              subState: state === 'Error' ? 'ErrorMasterImageNotFound' : null,
            }),
          {},
          'CatalogNotReady',
          new RegExp(`state ${state}.*(wait until|fix the catalog|pick another catalog)`, 's'),
        ] as [string, () => void, Partial<UpdateCatalogImageInput>, string, RegExp],
    ),
    [
      'a wrong client secret',
      () => {},
      {},
      'CitrixAuthFailed',
      /refused the API client credentials.*check the client id, the secret/s,
      WRONG_SECRET_QUEUE,
    ],
  ];

  describe(`the workflow fails at once, non-retryably, for targets no retry can fix (${workflowCases.length} cases)`, () => {
    for (const [what, arrange, input, type, message, taskQueue] of workflowCases) {
      test(what, async () => {
        secrets.collectTokens();
        simulator.reset();
        arrange();
        await expectCase(async () => {
          const started = Date.now();
          const { handle } = await update(input, taskQueue);
          const failure = await failureOf(handle.result());
          secrets.keepError(what, failure);
          assert.equal(failure.type, type, `${what}: ${failure.message}`);
          assert.equal(failure.nonRetryable, true, what);
          assert.match(failure.message, message, what);
          assert.ok(Date.now() - started < 10_000, `${what} failed without retrying`);
        });
      });
    }
  });

  const apiCases: Array<[string, UpdateCatalogImageInput, RegExp]> = [
    [
      'a negative poll interval',
      { catalogId: catalogs.finance, imageId: images.win11Nov, pollIntervalMs: -1 },
      /pollIntervalMs must be at least 1 second/,
    ],
    [
      'a fractional VDA delay',
      { catalogId: catalogs.finance, imageId: images.win11Nov, vdaUpdateDelayMinutes: 1.5 },
      /whole number of minutes/,
    ],
    [
      'an absurd check-in interval',
      { catalogId: catalogs.finance, imageId: images.win11Nov, checkInIntervalMs: 1e12 },
      /checkInIntervalMs/,
    ],
    [
      'an unknown option',
      { catalogId: catalogs.finance, imageId: images.win11Nov, force: true } as UpdateCatalogImageInput,
      /force/,
    ],
  ];

  describe(`the client API refuses bad input before starting anything, and a workflow started around it fails as InvalidInput (${apiCases.length} cases)`, () => {
    before(() => {
      secrets.collectTokens();
      simulator.reset();
    });

    for (const [what, input, message] of apiCases) {
      test(what, () =>
        expectCase(async () => {
          await assert.rejects(startCatalogUpdate(stack.env.client, TASK_QUEUE, input), (error: unknown) => {
            assert.ok(error instanceof InvalidInputError, what);
            assert.match(error.message, message, what);
            return true;
          });
          const handle = await stack.env.client.workflow.start(updateCatalogImage, {
            taskQueue: TASK_QUEUE,
            workflowId: `bad-input-direct-${what.replace(/\W+/g, '-')}`,
            args: [input],
          });
          const failure = await failureOf(handle.result());
          secrets.keepError(what, failure);
          assert.equal(failure.type, 'InvalidInput');
          assert.equal(failure.nonRetryable, true);
          assert.match(failure.message, message);
        }),
      );
    }

    test('Citrix was not even read', () => {
      assert.equal(simulator.requests().length, 0, 'Citrix was not even read');
    });
  });

  test('no bad input leaks the client secret or a bearer token into a history, log line or message', async () => {
    const report = secrets.assertNoSecrets(await historiesAsJson(stack.env.client));
    recordFigures({ row: 'secrets: bad input', tried: report.texts, endedCorrectly: report.texts, duplicatePosts: 0 });
  });
});
