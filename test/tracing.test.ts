import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client';
import { Worker } from '@temporalio/worker';
import { context, propagation } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { noopMetricMeter } from '@temporalio/common';
import { startRollout } from '../src/client';
import { type Tracing, WorkerMetrics, workflowSpanSinks } from '../src/observability';
import { TRACED_UPDATES_PATCH } from '../src/observability/tracing-workflow-interceptors';
import { SEED_IDS, type RunningSimulator } from '../src/simulator';
import { approveUpdate, progressQuery } from '../src/workflows';
import {
  acceptedPosts,
  processEnvFor,
  productionWorkflowBundle,
  quietTemporalLogs,
  recordedHistories,
  eventually,
  runStarter,
  spawnWorker,
  startStack,
  type TestStack,
} from './helpers';

quietTemporalLogs();

const TASK_QUEUE = 'tracing-test';
/** An in-process worker that traces into memory, for what a process cannot show as cheaply. */
const IN_PROCESS_QUEUE = 'tracing-in-process';
/** Sent to the collector as an API key: it must never show up in what the worker or the starter prints or exports. */
const COLLECTOR_KEY = 'otlp-key-6c1f0e9a2b7d4c3e';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: { key: string; value: Record<string, unknown> }[];
  /** `code` 2 is ERROR. */
  status?: { code?: number };
  /** The attributes of the process that exported it (`service.name`, …). */
  resource: { attributes?: OtlpSpan['attributes'] };
}

/** A local OTLP/HTTP collector: keeps every body POSTed to `/v1/traces` (JSON, as the exporter sends it). */
async function startCollector() {
  const bodies: string[] = [];
  const headers: Record<string, string | string[] | undefined>[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') {
        bodies.push(Buffer.concat(chunks).toString('utf8'));
        headers.push(req.headers);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    headers,
    spans(): OtlpSpan[] {
      return bodies.flatMap((body) =>
        (JSON.parse(body).resourceSpans ?? []).flatMap(
          ({ resource = {}, scopeSpans = [] }: { resource?: OtlpSpan['resource']; scopeSpans?: { spans?: [] }[] }) =>
            scopeSpans.flatMap(({ spans }) =>
              (spans ?? []).map((span: Omit<OtlpSpan, 'resource'>) => ({ ...span, resource })),
            ),
        ),
      );
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function attribute(span: { attributes?: OtlpSpan['attributes'] }, key: string): unknown {
  const value = span.attributes?.find((a) => a.key === key)?.value;
  return value && Object.values(value)[0];
}

/** What `startTracing` sets up, exporting to memory instead of OTLP. */
function inMemoryTracing(): Tracing & { exporter: InMemorySpanExporter } {
  const exporter = new InMemorySpanExporter();
  const spanProcessor = new SimpleSpanProcessor(exporter);
  const resource = new Resource({ 'service.name': 'in-process' });
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register({ contextManager: new AsyncLocalStorageContextManager().enable() });
  return { tracer: provider.getTracer('test'), resource, spanProcessor, exporter, shutdown: () => provider.shutdown() };
}

describe('OpenTelemetry tracing of a worker process and the starter', () => {
  const memory = inMemoryTracing();
  let stack: TestStack;
  let simulator: RunningSimulator;
  let bundlePath: string;
  let bundleDir: string;
  const workers: ChildProcess[] = [];

  before(async () => {
    const { code } = await productionWorkflowBundle();
    stack = await startStack({
      taskQueue: TASK_QUEUE,
      simulator: { updateDurationMs: 2_000, acceptLagMs: 100 },
      worker: false,
      moreWorkers: [{ taskQueue: IN_PROCESS_QUEUE, worker: { workflowBundle: { code }, tracing: memory } }],
    });
    ({ simulator } = stack);
    bundleDir = mkdtempSync(join(tmpdir(), 'catalog-rollout-tracing-'));
    bundlePath = join(bundleDir, 'workflow-bundle.js');
    writeFileSync(bundlePath, code);
  });

  after(async () => {
    for (const worker of workers) if (worker.exitCode === null) worker.kill('SIGKILL');
    await stack?.stop();
    await memory.shutdown();
    context.disable();
    propagation.disable();
    if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
  });

  const envWith = (extra: Record<string, string>) =>
    processEnvFor(simulator, stack.address, TASK_QUEUE, {
      WORKFLOW_BUNDLE_PATH: bundlePath,
      WORKER_SHUTDOWN_GRACE_MS: '2000',
      OTEL_EXPORTER_OTLP_ENDPOINT: undefined,
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: undefined,
      OTEL_TRACES_EXPORTER: undefined,
      OTEL_SDK_DISABLED: undefined,
      OTEL_SERVICE_NAME: undefined,
      ...extra,
    });

  /** Runs one update from the starter to its end on a worker process; returns what both printed. */
  async function updateThroughProcesses(catalogId: string, env: Record<string, string | undefined>) {
    let workerOutput = '';
    const worker = await spawnWorker(env, (text) => (workerOutput += text));
    workers.push(worker);
    const started = await runStarter(
      ['start', '--catalog', catalogId, '--image', SEED_IDS.images.win11Dec, '--poll-interval', '1s', '--wait'],
      env,
    );
    assert.equal(started.code, 0, started.stderr);
    // SIGTERM is how a worker is stopped: its last spans must leave before it exits.
    worker.kill('SIGTERM');
    const [code] = await once(worker, 'exit');
    assert.equal(code, 0, workerOutput);
    return { workerOutput, starterOutput: started.stdout + started.stderr };
  }

  test('an update is one trace from the start to the Citrix post, and no secret is exported', async () => {
    simulator.reset();
    const collector = await startCollector();
    try {
      const { catalogs } = SEED_IDS;
      const env = envWith({
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_EXPORTER_OTLP_HEADERS: `x-api-key=${COLLECTOR_KEY}`,
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test',
        OTEL_BSP_SCHEDULE_DELAY: '200',
      });
      // One failed Citrix read, which the activity's retry gets past: its span must say how it failed.
      simulator.addFault({ match: { operation: 'image' }, action: { type: 'status', status: 503 } });
      const { workerOutput, starterOutput } = await updateThroughProcesses(catalogs.sales, env);
      assert.equal(acceptedPosts(simulator), 1);
      assert.match(workerOutput, /"tracing":"otlp"/);

      const spans = collector.spans();
      const named = (prefix: string) => spans.filter((span) => span.name.startsWith(prefix));
      // `start` is one Update-with-Start: its span carries the trace to the workflow it starts.
      const [start] = named('UpdateWithStartWorkflow:attach');
      assert.ok(start, `the starter exported its start span; got ${spans.map((s) => s.name).join(', ')}`);
      assert.equal(attribute(start.resource, 'service.name'), 'catalog-rollout-cli');
      const trace = spans.filter((span) => span.traceId === start.traceId);
      const run = trace.find((span) => span.name === 'RunWorkflow:updateCatalogImage');
      assert.ok(run, 'the workflow span is in the start span trace');
      assert.equal(attribute(run.resource, 'service.name'), 'catalog-rollout-worker');
      assert.equal(attribute(run.resource, 'deployment.environment'), 'test', 'OTEL_RESOURCE_ATTRIBUTES are applied');
      const postActivity = trace.find((span) => span.name === 'RunActivity:postImageUpdate');
      assert.ok(postActivity, 'the post activity span is in the same trace');

      // The post the simulator logged, and the span of that very exchange.
      const posts = simulator.requests().filter((r) => r.operation === 'updateImage');
      assert.equal(posts.length, 1);
      const postSpan = trace.find((span) => span.name === 'POST catalogs/{catalogId}/$updateImage');
      assert.ok(postSpan, 'the Citrix post has a span in the trace');
      assert.equal(postSpan.parentSpanId, postActivity.spanId, 'the Citrix span is a child of the activity span');
      const accepted = workerOutput.split('\n').find((line) => line.includes('image update accepted by Citrix'));
      assert.ok(
        accepted?.includes(`"trace_id":"${start.traceId}"`),
        `the activity's log line names its trace: ${accepted}`,
      );
      assert.equal(attribute(postSpan, 'citrix.request.transaction_id'), posts[0]!.transactionId);
      assert.equal(attribute(postSpan, 'citrix.transaction_id'), posts[0]!.transactionId);
      assert.equal(Number(attribute(postSpan, 'http.response.status_code')), 202);
      assert.equal(attribute(postSpan, 'url.template'), 'catalogs/{catalogId}/$updateImage');
      const imageReads = trace.filter((span) => span.name === 'GET images/{imageId}');
      const failed = imageReads.find((span) => attribute(span, 'error.type') !== undefined);
      assert.ok(failed, `the failed image read has a span (${imageReads.length} image reads)`);
      assert.equal(attribute(failed, 'error.type'), 'CITRIX_SERVER_ERROR');
      assert.equal(Number(attribute(failed, 'http.response.status_code')), 503);
      assert.equal(failed.status?.code, 2, 'the span status is ERROR');
      assert.ok(imageReads.length >= 2, 'the retried read has a span too');
      const reads = trace.filter((span) => span.name === 'GET catalogs/{catalogId}');
      assert.ok(reads.length >= 2, `the catalog reads have spans too (${reads.length})`);

      assert.ok(
        collector.headers.every((h) => h['x-api-key'] === COLLECTOR_KEY),
        'the exporter sent its header',
      );
      const exported = collector.bodies.join('\n');
      const secrets = [simulator.clientSecret, COLLECTOR_KEY, ...simulator.issuedTokens()];
      assert.ok(simulator.issuedTokens().length > 0);
      for (const secret of secrets) {
        assert.ok(!exported.includes(secret), 'a secret or token was exported in a span');
        assert.ok(!workerOutput.includes(secret), 'a secret or token was logged by the worker');
        assert.ok(!starterOutput.includes(secret), 'a secret or token was printed by the starter');
      }
      assert.doesNotMatch(exported, /[Bb]earer|CWSAuth|authorization/);
    } finally {
      await collector.close();
    }
  });

  test('with OTEL_SDK_DISABLED=true nothing is sent and the update completes as before', async () => {
    simulator.reset();
    const collector = await startCollector();
    try {
      const env = envWith({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_SDK_DISABLED: 'true' });
      const { workerOutput } = await updateThroughProcesses(SEED_IDS.catalogs.finance, env);
      assert.equal(acceptedPosts(simulator), 1);
      assert.match(workerOutput, /"tracing":"off"/);
      assert.deepEqual(collector.bodies, [], 'nothing reached the collector');
    } finally {
      await collector.close();
    }
  });

  test('an exporter the worker cannot honour stops it at start with the variable named', async () => {
    const env = envWith({ OTEL_TRACES_EXPORTER: 'zipkin' });
    await assert.rejects(
      spawnWorker(env, () => undefined),
      /OTEL_TRACES_EXPORTER=zipkin is not supported: use otlp \(OTLP\/HTTP\) or none/,
    );
    const starter = await runStarter(['list'], {
      ...env,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_TRACES_EXPORTER: 'otlp',
    });
    assert.equal(starter.code, 2, starter.stderr);
    assert.match(starter.stderr, /OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported/);
  });

  test('a rollout approved by an update has its HandleUpdate span, and its history replays', async () => {
    simulator.reset();
    const { catalogs, images } = SEED_IDS;
    // A start without a trace context: its workflow loads no tracing and exports no span of its own.
    const untraced = await startRollout(stack.env.client, IN_PROCESS_QUEUE, {
      catalogIds: [catalogs.hr],
      imageId: images.win11Dec,
      healthGate: false,
      dryRun: true,
    });
    await untraced.result();
    const traced = new Client({
      connection: stack.env.connection,
      interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] },
    });
    const handle = await startRollout(traced, IN_PROCESS_QUEUE, {
      catalogIds: [catalogs.finance, catalogs.sales],
      imageId: images.win11Dec,
      canaryCount: 1,
      approval: 'afterCanary',
      healthGate: false,
      pollIntervalMs: 1_000,
    });
    await eventually(
      async () => (await handle.query(progressQuery).catch(() => undefined))?.phase === 'awaitingApproval' || undefined,
      30_000,
      'the approval gate',
    );
    await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
    assert.equal((await handle.result()).phase, 'completed');

    const spans = memory.exporter.getFinishedSpans();
    const runs = spans.filter((span) => span.name === 'RunWorkflow:rolloutImage');
    assert.equal(runs.length, 1, 'only the rollout started with a trace context has a workflow span');
    const run = runs[0];
    assert.ok(run, `the rollout has a span; got ${[...new Set(spans.map((s) => s.name))].join(', ')}`);
    const update = spans.find((span) => span.name === 'HandleUpdate:approve');
    assert.ok(update, 'the approval has a span');
    const children = spans.filter((span) => span.name === 'RunWorkflow:updateCatalogImage');
    assert.equal(children.length, 2);
    for (const child of children) assert.equal(child.spanContext().traceId, run.spanContext().traceId);

    const history = await handle.fetchHistory();
    const patches = history
      .events!.flatMap((event) => event.markerRecordedEventAttributes?.details?.['patch-data']?.payloads ?? [])
      .map((payload) => Buffer.from(payload.data!).toString('utf8'));
    assert.equal(patches.filter((patch) => patch.includes(TRACED_UPDATES_PATCH)).length, 1, 'the patch marker');
    const replay = await Worker.runReplayHistory(
      {
        workflowBundle: await productionWorkflowBundle(),
        sinks: { ...new WorkerMetrics(noopMetricMeter).sinks(), ...workflowSpanSinks(undefined) },
      },
      history,
    ).then(
      () => undefined,
      (error: Error) => error,
    );
    assert.equal(replay, undefined, 'the traced rollout replays');
  });
});

test('executions recorded before tracing replay on the bundle with the tracing interceptors', async () => {
  const histories = recordedHistories();
  assert.ok(histories.length >= 6, `expected the recorded histories, found ${histories.length}`);
  const failures: string[] = [];
  let replayed = 0;
  const results = Worker.runReplayHistories(
    {
      workflowBundle: await productionWorkflowBundle(),
      replayName: 'tracing',
      sinks: { ...new WorkerMetrics(noopMetricMeter).sinks(), ...workflowSpanSinks(undefined) },
    },
    histories,
  );
  for await (const result of results) {
    replayed++;
    if (result.error) failures.push(`${result.workflowId}: ${result.error}`);
  }
  assert.equal(replayed, histories.length);
  assert.deepEqual(failures, []);
});
