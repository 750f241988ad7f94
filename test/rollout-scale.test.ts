import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startRollout } from '../src/client';
import { ROLLOUT_LIMITS, catalogsOf } from '../src/shared/rollout';
import { DEFAULT_SEED, SEED_IDS, type RunningSimulator, type SimulatorSeed } from '../src/simulator';
import { progressQuery } from '../src/workflows';
import { acceptedPosts, failureOf, quietTemporalLogs, startStack, type TestStack } from './helpers';

quietTemporalLogs();

const TASK_QUEUE = 'rollout-scale-test';
const AT_CAP = ROLLOUT_LIMITS.targets;
/** Temporal refuses a payload over 2 MiB and warns past 512 KiB; the rollout keeps every payload under the warning. */
const PAYLOAD_BUDGET_BYTES = 512 * 1024;
/** Temporal warns past 10,240 events in one history. */
const HISTORY_WARNING_EVENTS = 10_240;

/**
 * Twice the cap of catalogs: the first `AT_CAP` are pools with names as long as Citrix allows, the rest labs. A
 * rollout of the pools is at the cap; one of every catalog is over it.
 */
function seedOverTheCap(): SimulatorSeed {
  const template = DEFAULT_SEED.catalogs[0]!;
  const catalogs = Array.from({ length: 2 * AT_CAP }, (_, i) => ({
    ...template,
    id: `ca7a10c0-0000-4000-b000-${String(i + 1).padStart(12, '0')}`,
    name: i < AT_CAP ? `Pool ${String(i + 1).padStart(5, '0')} ${'x'.repeat(53)}` : `Lab ${i + 1}`,
  }));
  return { ...DEFAULT_SEED, catalogs };
}

/** The largest set of payloads one event of a history carries, and which event it is. */
async function largestPayload(
  client: Client,
  workflowId: string,
): Promise<{ bytes: number; event: string; runs: number; events: number }> {
  let largest = { bytes: 0, event: 'none', runs: 0, events: 0 };
  for await (const run of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    const history = await client.workflow.getHandle(workflowId, run.runId).fetchHistory();
    largest.runs += 1;
    const events = history.events ?? [];
    largest.events = Math.max(largest.events, events.length);
    for (const event of events) {
      const bytes = payloadBytes(event);
      if (bytes > largest.bytes)
        largest = { ...largest, bytes, event: Object.keys(event).find((k) => k.endsWith('Attributes')) ?? '?' };
    }
  }
  return largest;
}

/** Bytes of every payload (data and metadata) anywhere in a proto object. */
function payloadBytes(value: unknown, seen = new Set<unknown>()): number {
  if (!value || typeof value !== 'object' || seen.has(value)) return 0;
  seen.add(value);
  if (value instanceof Uint8Array) return 0;
  const record = value as Record<string, unknown>;
  if (record['data'] instanceof Uint8Array && 'metadata' in record) {
    const metadata = Object.values((record['metadata'] ?? {}) as Record<string, Uint8Array>);
    return record['data'].length + metadata.reduce((sum, bytes) => sum + (bytes?.length ?? 0), 0);
  }
  return Object.values(record).reduce<number>((sum, child) => sum + payloadBytes(child, seen), 0);
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;

describe(`rollouts at the cap of ${AT_CAP} catalogs`, () => {
  let stack: TestStack;
  let env: TestWorkflowEnvironment;
  let simulator: RunningSimulator;

  before(async () => {
    stack = await startStack({
      taskQueue: TASK_QUEUE,
      simulator: { seed: seedOverTheCap(), updateDurationMs: 500, acceptLagMs: 0 },
      citrix: { maxConnections: 64 },
      worker: { postRetrySettleMs: 500, maxConcurrentActivities: 600 },
    });
    ({ env, simulator } = stack);
  });

  after(() => stack?.stop());

  const pools = { imageId: SEED_IDS.images.win11Nov, allCatalogs: true, catalogNamePattern: '^Pool ' } as const;

  test('a dry run over every pool plans them all, each payload well under the limit', async (t) => {
    const handle = await startRollout(env.client, TASK_QUEUE, {
      healthGate: false,
      ...pools,
      rolloutId: 'cap-dry-run',
      dryRun: true,
    });
    const plan = await handle.result();
    assert.equal(plan.phase, 'planned');
    assert.equal(plan.catalogCount, AT_CAP);
    const page = await handle.query(progressQuery);
    const largest = await largestPayload(env.client, handle.workflowId);
    const queryBytes = Buffer.byteLength(JSON.stringify(page));
    t.diagnostic(
      `dry run of ${AT_CAP}: largest payload ${mib(largest.bytes)} (${largest.event}), progress page ${mib(queryBytes)}`,
    );
    assert.ok(largest.bytes < PAYLOAD_BUDGET_BYTES, `${largest.event} carries ${largest.bytes} bytes`);
    assert.ok(queryBytes < PAYLOAD_BUDGET_BYTES, `the progress query answers ${queryBytes} bytes`);
    assert.equal(simulator.requests().filter((r) => r.operation === 'updateImage').length, 0);
  });

  test('a dry run over twice the cap is refused at once with a message naming the cap', async () => {
    const started = Date.now();
    const handle = await startRollout(env.client, TASK_QUEUE, {
      healthGate: false,
      imageId: SEED_IDS.images.win11Nov,
      allCatalogs: true,
      rolloutId: 'over-the-cap',
      dryRun: true,
    });
    const failure = await failureOf(handle.result());
    assert.match(failure.message, new RegExp(`resolves to ${2 * AT_CAP} catalogs, more than the ${AT_CAP}`));
    assert.equal(failure.nonRetryable, true);
    assert.ok(Date.now() - started < 30_000);
  });

  test('a real rollout of every pool updates each once, its payloads and histories bounded', async (t) => {
    const started = Date.now();
    const handle = await startRollout(env.client, TASK_QUEUE, {
      healthGate: false,
      ...pools,
      rolloutId: 'cap',
      canaryCount: 0,
      batchSize: ROLLOUT_LIMITS.catalogsPerWave,
      maxParallel: 500,
      pollIntervalMs: 1_000,
      notify: false,
    });
    const result = await handle.result();
    assert.equal(result.phase, 'completed');
    assert.equal(catalogsOf(result).filter((c) => c.state === 'imageAssigned').length, AT_CAP);
    assert.equal(acceptedPosts(simulator), AT_CAP, 'one post per catalog');
    const largest = await largestPayload(env.client, handle.workflowId);
    const queryBytes = Buffer.byteLength(JSON.stringify(await handle.query(progressQuery)));
    t.diagnostic(
      `${AT_CAP} catalogs in ${((Date.now() - started) / 1000).toFixed(0)} s over ${largest.runs} run(s); ` +
        `largest payload ${mib(largest.bytes)} (${largest.event}), progress page ${mib(queryBytes)}, ` +
        `largest run ${largest.events} events`,
    );
    assert.ok(largest.bytes < PAYLOAD_BUDGET_BYTES, `${largest.event} carries ${largest.bytes} bytes`);
    assert.ok(queryBytes < PAYLOAD_BUDGET_BYTES);
    assert.ok(largest.events < HISTORY_WARNING_EVENTS, `a run of the rollout has ${largest.events} events`);
  });
});
