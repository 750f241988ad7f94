import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { RequestBudget } from '../../src/citrix';

/** A budget on the mocked clock, and the times at which its callers were let through. */
function budgetOf(requestsPerSecond: number) {
  const budget = new RequestBudget({ requestsPerSecond, now: () => Date.now() });
  const sent: Array<{ caller: number; at: number }> = [];
  let callers = 0;
  const call = (count = 1) => {
    for (let i = 0; i < count; i++) {
      const caller = callers++;
      void budget.acquire().then(() => sent.push({ caller, at: Date.now() }));
    }
  };
  return { budget, sent, call, times: () => sent.map((s) => s.at) };
}

/** Moves the mocked clock on a millisecond at a time, letting each released caller record when it went. */
async function advance(ms: number): Promise<void> {
  const settle = async () => {
    for (let j = 0; j < 3; j++) await null;
  };
  for (let i = 0; i < ms; i++) {
    await settle();
    mock.timers.tick(1);
  }
  await settle();
}

/** The most sends within any sliding second (t - 1000, t], as the gateway counts. */
function busiestSecond(times: number[]): number {
  let busiest = 0;
  for (const end of times) busiest = Math.max(busiest, times.filter((t) => t > end - 1000 && t <= end).length);
  return busiest;
}

describe('RequestBudget', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 }));
  afterEach(() => mock.timers.reset());

  test('paces one request every 1000 ÷ rate ms', async () => {
    const { call, times } = budgetOf(10);
    call(12);
    await advance(1_200);
    assert.deepEqual(times(), [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100]);
  });

  test('lets no more than floor(share) requests into any sliding second when the rate is fractional', async () => {
    const { call, times } = budgetOf(2.5);
    call(7);
    await advance(3_100);
    // Pacing alone would send at 0, 400, 800: three within a second.
    assert.deepEqual(times(), [0, 400, 1000, 1400, 2000, 2400, 3000]);
    assert.equal(busiestSecond(times()), 2);

    const busy = budgetOf(16.7);
    busy.call(60);
    await advance(4_000);
    assert.equal(busiestSecond(busy.times()), 16);
    assert.ok(busy.times().length >= 60, `${busy.times().length} sent in 4 s`);
  });

  test('starts afresh after an idle spell instead of sending a saved-up burst', async () => {
    const { call, times } = budgetOf(10);
    call();
    await advance(5_000);
    call(3);
    await advance(300);
    assert.deepEqual(times(), [0, 5000, 5100, 5200]);
  });

  test('splits the budget by the workers sharing it, also for callers already waiting', async () => {
    const { budget, call, times } = budgetOf(10);
    budget.workers = 2;
    assert.equal(budget.snapshot().shareNow, 5);
    call(4);
    await advance(450);
    assert.deepEqual(times(), [0, 200, 400]);
    budget.workers = 1;
    await advance(200);
    // The fourth caller's slot was 600 at a share of 5; at 10 it may go at 500.
    assert.deepEqual(times(), [0, 200, 400, 500]);
    assert.throws(() => (budget.workers = 0), /workers must be a whole number ≥ 1, got 0/);
  });

  test('a 429 closes the gate for the time asked and halves the rate, which recovers by 0.1 a second', async () => {
    const { budget, call, times } = budgetOf(10);
    call(4);
    await advance(150);
    assert.deepEqual(times(), [0, 100]);
    budget.rateLimited(1_000);
    assert.deepEqual(budget.snapshot(), {
      requestsPerSecond: 10,
      workers: 1,
      shareNow: 5,
      factor: 0.5,
      waiting: 2,
      gateOpenInMs: 1_000,
    });
    // A second 429 of a request sent before the gate closed extends it but does not halve again.
    await advance(50);
    budget.rateLimited(1_000);
    assert.equal(budget.snapshot().factor, 0.5);
    await advance(1_400);
    // Nothing while the gate was closed; then paced at the lowered rate, recovering since the last 429 (at 200 ms):
    // a factor of 0.6 at 1,200 ms, one request every 167 ms.
    assert.deepEqual(times(), [0, 100, 1200, 1367]);
    await advance(3_600);
    assert.equal(budget.snapshot().factor, 1, 'recovered five seconds after the last 429');
    assert.equal(budget.snapshot().gateOpenInMs, 0);

    for (let i = 0; i < 6; i++) {
      await advance(1);
      budget.rateLimited(0);
    }
    assert.equal(budget.snapshot().factor, 0.1, 'the factor never drops below 0.1');
  });

  test('lets callers through first in, first out, across a closed gate', async () => {
    const { budget, call, sent } = budgetOf(20);
    call(5);
    await advance(60);
    budget.rateLimited(500);
    call(5);
    await advance(2_000);
    assert.deepEqual(
      sent.map((s) => s.caller),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    assert.ok(sent[2]!.at >= 550, 'the third waited for the gate');
  });

  test('refuses a rate that is not a positive finite number', () => {
    for (const rate of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '10', undefined]) {
      assert.throws(
        () => new RequestBudget({ requestsPerSecond: rate as number }),
        /requestsPerSecond must be a positive finite number/,
        String(rate),
      );
    }
  });
});
