/**
 * Whether the desktops of a catalog work on its new image, judged from its machines as the DaaS REST API reports them:
 * pure rules, so that every verdict is tested without a server. A catalog that Citrix shows `Active` on the new image
 * may still have machines that do not register, or none that took the image yet (`vdaUpdateDelay -1`): a gate that
 * only read the catalog would pass both.
 */
import type { Catalog } from '../citrix';
import type { CatalogMachines, DaasMachine } from '../citrix/machines';
import { sameId } from '../citrix/ids';
import type { CatalogHealth, HealthFigures, HealthThresholds, HealthVerdict } from '../shared/health';

/** Machines listed as stragglers in a verdict: enough to act on, bounded whatever the pool's size. */
const STRAGGLERS_LISTED = 5;
/** Fault states that mean nothing is wrong (or that Citrix does not know). */
const NO_FAULT = new Set(['None', 'Unknown']);
/** Catalog warnings that say machines do not register on the new image, whatever the machine list says. */
const REGISTRATION_WARNINGS = new Set(['VdaRegisterFailure']);

const runsNewImage = (m: DaasMachine) => m.imageOutOfDate === false;
const poweredOn = (m: DaasMachine) => m.powerState === 'On';
const faulted = (m: DaasMachine) => m.faultState !== undefined && !NO_FAULT.has(m.faultState);
const healthy = (m: DaasMachine) => m.registrationState === 'Registered' && !faulted(m);

export function figuresOf(machines: DaasMachine[]): HealthFigures {
  const onNew = machines.filter(runsNewImage);
  const judged = onNew.filter(poweredOn);
  return {
    total: machines.length,
    onNewImage: onNew.length,
    pendingRestart: machines.filter((m) => m.imageOutOfDate === true).length,
    poweredOnNewImage: judged.length,
    registeredNewImage: judged.filter(healthy).length,
    faulted: machines.filter(faulted).length,
    inMaintenance: machines.filter((m) => m.inMaintenanceMode === true).length,
  };
}

const percent = (part: number, whole: number) => (whole === 0 ? 0 : Math.floor((part / whole) * 1000) / 10);

function straggler(m: DaasMachine): string {
  const why = [m.registrationState, m.faultState && !NO_FAULT.has(m.faultState) && `fault ${m.faultState}`]
    .concat(m.lastDeregistrationReason ? [`last deregistered: ${m.lastDeregistrationReason}`] : [])
    .filter(Boolean)
    .join(', ');
  return `${m.name ?? m.id} (${why || 'not registered'})`;
}

export interface HealthReading {
  catalog: Pick<Catalog, 'id' | 'name' | 'imageId' | 'warnings' | 'totalMachinesInCatalog'>;
  /** The image the rollout moved the catalog to. */
  imageId: string;
  /** The machines, or why they could not be read (the DaaS API forbidden, down, the group unknown). */
  machines: CatalogMachines | { problem: string };
  thresholds: HealthThresholds;
}

/**
 * The verdict on one catalog. `fail`: the catalog is off the image, warns that machines do not register, or fewer than
 * `minRegisteredPercent` of the powered-on machines that run the new image are registered without a fault.
 * `inconclusive`: the machines could not be read, there are none, or fewer than `minMachinesOnImage` powered-on
 * machines run the new image yet. `pass` otherwise.
 */
export function judgeCatalogHealth(reading: HealthReading): CatalogHealth {
  const { catalog, imageId, thresholds } = reading;
  const verdict = (v: HealthVerdict, reason: string, figures?: HealthFigures, stragglers: string[] = []) => ({
    catalogId: catalog.id,
    catalogName: catalog.name,
    verdict: v,
    reason,
    ...(figures && { figures }),
    ...(stragglers.length > 0 && { stragglers }),
  });

  if (!sameId(catalog.imageId, imageId)) {
    return verdict('fail', `the catalog is on image ${catalog.imageId ?? 'unknown'}, not ${imageId}`);
  }
  const warning = catalog.warnings?.find((w) => w.isError && REGISTRATION_WARNINGS.has(w.type ?? ''));
  if ('problem' in reading.machines) {
    // A warning from Citrix itself is a verdict even when the machines cannot be read.
    if (warning)
      return verdict('fail', `Citrix warns ${warning.type}: ${warning.warningMessage ?? 'machines do not register'}`);
    return verdict('inconclusive', `the machines could not be read: ${reading.machines.problem}`);
  }
  const { machines, truncated } = reading.machines;
  const figures = figuresOf(machines);
  const seen = truncated ? `the first ${machines.length} machines` : `${machines.length} machines`;
  const unhealthy = machines.filter((m) => runsNewImage(m) && poweredOn(m) && !healthy(m));
  const stragglers = unhealthy.slice(0, STRAGGLERS_LISTED).map(straggler);
  if (warning) {
    return verdict(
      'fail',
      `Citrix warns ${warning.type}: ${warning.warningMessage ?? 'machines do not register'}`,
      figures,
      stragglers,
    );
  }
  if (machines.length === 0) return verdict('inconclusive', 'the catalog has no machines to judge', figures);
  const registeredShare = percent(figures.registeredNewImage, figures.poweredOnNewImage);
  if (figures.poweredOnNewImage >= thresholds.minMachinesOnImage && registeredShare < thresholds.minRegisteredPercent) {
    return verdict(
      'fail',
      `${figures.registeredNewImage} of ${figures.poweredOnNewImage} powered-on machines on the new image are ` +
        `registered without a fault (${registeredShare} %, at least ${thresholds.minRegisteredPercent} % needed)`,
      figures,
      stragglers,
    );
  }
  if (figures.poweredOnNewImage < thresholds.minMachinesOnImage) {
    return verdict(
      'inconclusive',
      `${figures.poweredOnNewImage} powered-on machines of ${seen} run the new image yet (${figures.pendingRestart} ` +
        `wait for a restart; at least ${thresholds.minMachinesOnImage} needed to judge)`,
      figures,
    );
  }
  return verdict(
    'pass',
    `${figures.registeredNewImage} of ${figures.poweredOnNewImage} powered-on machines on the new image registered ` +
      `(${registeredShare} %); ${figures.onNewImage} of ${seen} run it`,
    figures,
  );
}

/** The wave's verdict is its worst catalog's: one failing catalog fails the wave, one unknown holds it. */
export function worstVerdict(verdicts: HealthVerdict[]): HealthVerdict {
  if (verdicts.includes('fail')) return 'fail';
  if (verdicts.includes('inconclusive')) return 'inconclusive';
  return 'pass';
}
