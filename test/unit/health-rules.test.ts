import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { analysisVerdictOf } from '../../src/activities/analysis';
import { type HealthReading, judgeCatalogHealth, worstVerdict } from '../../src/activities/health-rules';
import type { DaasMachine } from '../../src/citrix/machines';
import { fromLedger, toLedger } from '../../src/shared/rollout';

const IMAGE = '1a9e0000-0000-4000-a000-000000000011';
const thresholds = { minRegisteredPercent: 90, minMachinesOnImage: 1 };

function machine(i: number, patch: Partial<DaasMachine> = {}): DaasMachine {
  return {
    id: `m-${i}`,
    name: `ACME\\QD-${String(i).padStart(3, '0')}`,
    registrationState: 'Registered',
    powerState: 'On',
    faultState: 'None',
    inMaintenanceMode: false,
    sessionCount: 1,
    imageOutOfDate: false,
    ...patch,
  };
}

const reading = (machines: DaasMachine[] | { problem: string }, catalog: Partial<HealthReading['catalog']> = {}) =>
  judgeCatalogHealth({
    catalog: { id: 'c1', name: 'Finance', imageId: IMAGE, totalMachinesInCatalog: 10, ...catalog },
    imageId: IMAGE,
    machines: Array.isArray(machines) ? { deliveryGroupId: 'g1', machines, truncated: false } : machines,
    thresholds,
  });
const ten = (patch: (i: number) => Partial<DaasMachine> = () => ({})) =>
  Array.from({ length: 10 }, (_, i) => machine(i, patch(i)));

describe('the health verdict on a catalog', () => {
  test('every powered-on machine on the new image registered: pass, with the figures', () => {
    const health = reading(ten());
    assert.equal(health.verdict, 'pass');
    assert.deepEqual(health.figures, {
      total: 10,
      onNewImage: 10,
      pendingRestart: 0,
      poweredOnNewImage: 10,
      registeredNewImage: 10,
      faulted: 0,
      inMaintenance: 0,
    });
  });

  test('half the machines on the new image unregistered: fail, naming the share and the stragglers', () => {
    const health = reading(
      ten((i) => (i < 5 ? { registrationState: 'Unregistered', lastDeregistrationReason: 'AgentNotContactable' } : {})),
    );
    assert.equal(health.verdict, 'fail');
    assert.match(health.reason, /5 of 10 powered-on machines .* \(50 %, at least 90 % needed\)/);
    assert.equal(health.stragglers?.length, 5);
    assert.match(health.stragglers![0]!, /QD-000 \(Unregistered, last deregistered: AgentNotContactable\)/);
  });

  test('a registered machine with a fault counts as unhealthy', () => {
    const health = reading(ten((i) => (i < 2 ? { faultState: 'StuckOnBoot' } : {})));
    assert.equal(health.verdict, 'fail');
    assert.equal(health.figures?.faulted, 2);
  });

  test('exactly at the threshold passes; one below fails', () => {
    assert.equal(reading(ten((i) => (i === 0 ? { registrationState: 'Unregistered' } : {}))).verdict, 'pass');
    assert.equal(reading(ten((i) => (i < 2 ? { registrationState: 'Unregistered' } : {}))).verdict, 'fail');
  });

  test('no machine restarted onto the image yet (vdaUpdateDelay -1): inconclusive, never pass', () => {
    const health = reading(ten(() => ({ imageOutOfDate: true })));
    assert.equal(health.verdict, 'inconclusive');
    assert.match(health.reason, /0 powered-on machines of 10 machines run the new image yet \(10 wait for a restart/);
  });

  test('machines that are off or still turning on are not judged', () => {
    const health = reading(ten((i) => (i < 8 ? { powerState: 'Off', registrationState: 'Unregistered' } : {})));
    assert.equal(health.verdict, 'pass');
    assert.equal(health.figures?.poweredOnNewImage, 2);
  });

  test('machines that cannot be read (the DaaS API forbidden or down): inconclusive', () => {
    const health = reading({ problem: 'GET …/Machines answered 403' });
    assert.equal(health.verdict, 'inconclusive');
    assert.match(health.reason, /could not be read: .*403/);
  });

  test("Citrix's own VdaRegisterFailure error warning fails the catalog, even when the machines cannot be read", () => {
    const warnings = [{ type: 'VdaRegisterFailure', isError: true, warningMessage: 'VDAs failed to register' }];
    assert.equal(reading({ problem: '503' }, { warnings }).verdict, 'fail');
    assert.equal(reading(ten(), { warnings }).verdict, 'fail');
    const notAnError = [{ type: 'VdaRegisterFailure', isError: false }];
    assert.equal(reading(ten(), { warnings: notAnError }).verdict, 'pass');
  });

  test('a catalog that is not on the image the rollout set fails', () => {
    const health = reading(ten(), { imageId: '1a9e0000-0000-4000-a000-000000000010' });
    assert.equal(health.verdict, 'fail');
    assert.match(health.reason, /is on image 1a9e0000-0000-4000-a000-000000000010, not/);
  });

  test('a catalog without machines is inconclusive', () => {
    assert.equal(reading([]).verdict, 'inconclusive');
  });

  test('a wave is as healthy as its worst catalog', () => {
    assert.equal(worstVerdict(['pass', 'inconclusive', 'pass']), 'inconclusive');
    assert.equal(worstVerdict(['inconclusive', 'fail']), 'fail');
    assert.equal(worstVerdict(['pass', 'pass']), 'pass');
  });
});

describe('health in the compact rollout ledger', () => {
  test('each catalog keeps its verdict and figures through a result and back', async () => {
    const figures = reading(ten()).figures!;
    const catalogs = [
      { catalogId: 'a', wave: 0, state: 'updated' as const, health: { verdict: 'pass' as const, figures } },
      { catalogId: 'b', wave: 1, state: 'pending' as const },
      { catalogId: 'c', wave: 1, state: 'imageAssigned' as const, health: { verdict: 'inconclusive' as const } },
    ];
    const back = fromLedger(JSON.parse(JSON.stringify(toLedger(catalogs))));
    assert.deepEqual(
      back.map((c) => c.health),
      [{ verdict: 'pass', figures }, undefined, { verdict: 'inconclusive' }],
    );
  });

  test('a rollout without verdicts writes no health column (results recorded before gates look the same)', async () => {
    assert.equal('health' in toLedger([{ catalogId: 'a', wave: 0, state: 'updated' }]), false);
  });
});

describe("the analysis service's answer", () => {
  test('a well-formed fail is a fail, its reason cleaned and bounded', () => {
    const answer = analysisVerdictOf(
      200,
      JSON.stringify({ verdict: 'fail', reason: `smoke test\u001b[31m failed${'!'.repeat(900)}` }),
    );
    assert.equal(answer.verdict, 'fail');
    assert.match(answer.reason, /^the analysis says fail: smoke test\[31m failed!+/);
    assert.ok(answer.reason.length < 400);
  });

  for (const [what, status, text] of [
    ['an error status', 503, '{"verdict":"pass"}'],
    ['an answer that is not JSON', 200, '<html>ok</html>'],
    ['an answer without a verdict', 200, '{"result":"green"}'],
    ['an unknown verdict', 200, '{"verdict":"great"}'],
    ['an answer past the size cap', 200, undefined],
  ] as const) {
    test(`${what} is inconclusive, never pass`, () => {
      assert.equal(analysisVerdictOf(status, text).verdict, 'inconclusive');
    });
  }
});
