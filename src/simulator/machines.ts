import { createHash } from 'node:crypto';
import type { UnhealthyImage } from './faults';
import type { SimCatalog } from './seed';
import { MACHINE_STATES, machineSessions, restartDelayMs } from './unconfirmed';

/**
 * The machines of a catalog are never stored: each one's state is worked out, when it is read, from the catalog's
 * history of image rollouts. A catalog that nobody asks about costs nothing, however many machines it has.
 */

/** What one finished image update does to a catalog's machines: when each restarts onto its image. */
export interface Rollout {
  imageId: string | null;
  finishMs: number;
  vdaUpdateDelay: number;
  /** The timing in force when the update was accepted. */
  machineRestartMs: number | null;
  minuteMs: number;
  machineBootMs: number;
  machineCount: number;
  /** Restarts due after this never happen: a later update took over. */
  cutoffMs: number;
  /** Every restart still due at this time happens then (`restartMachines`). */
  forcedAtMs: number;
}

export interface MachineHistory {
  /** The image the machines ran before the oldest rollout kept. */
  baseImageId: string | null;
  rollouts: Rollout[];
}

/** A machine as the simulator knows it: what the DaaS REST API reports of it, plus the image it last booted. */
export interface SimMachine {
  id: string;
  /** `DOMAIN\HOST` */
  name: string;
  hostName: string;
  dnsName: string | null;
  sid: string;
  catalogId: string;
  /** The image it runs, or is booting: the DaaS REST API does not say, only whether it is the catalog's. */
  bootedImageId: string | null;
  /** When its last boot began; null for a machine that has run since the simulator started. */
  bootedAt: string | null;
  registrationState: string;
  powerState: string;
  faultState: string;
  inMaintenanceMode: boolean;
  sessionCount: number;
  lastDeregistrationReason: string | null;
  lastDeregistrationTime: string | null;
  imageOutOfDate: boolean;
}

/** Rollouts kept per catalog; older ones are forgotten once a newer one restarted every machine. */
const MAX_ROLLOUTS = 16;

export function newHistory(imageId: string | null): MachineHistory {
  return { baseImageId: imageId, rollouts: [] };
}

export function recordRollout(history: MachineHistory, rollout: Rollout, now: number): void {
  history.rollouts.push(rollout);
  // Machines never look past the newest rollout that restarted all of them.
  for (let r = history.rollouts.length - 1; r > 0; r--) {
    const rollout = history.rollouts[r] as Rollout;
    if (lastRestartMs(rollout) <= Math.min(rollout.cutoffMs, now)) {
      history.rollouts.splice(0, r);
      break;
    }
  }
  while (history.rollouts.length > MAX_ROLLOUTS) {
    history.baseImageId = history.rollouts.shift()?.imageId ?? history.baseImageId;
  }
}

/** A new update has started processing: the machines still waiting for the last image keep what they run. */
export function cutRestarts(history: MachineHistory, atMs: number): void {
  const last = history.rollouts.at(-1);
  if (last) last.cutoffMs = Math.min(last.cutoffMs, atMs);
}

/** Every machine still waiting restarts now. */
export function forceRestarts(history: MachineHistory, atMs: number): void {
  const last = history.rollouts.at(-1);
  if (last && atMs <= last.cutoffMs) last.forcedAtMs = Math.min(last.forcedAtMs, atMs);
}

/** When machine `index` restarts in a rollout. */
function restartMs(rollout: Rollout, index: number): number {
  const scheduledMs = rollout.finishMs + restartDelayMs(rollout, index, rollout.machineCount);
  return Math.min(scheduledMs, rollout.forcedAtMs);
}

function lastRestartMs(rollout: Rollout): number {
  return restartMs(rollout, Math.max(0, rollout.machineCount - 1));
}

/** The image machine `index` runs at `now`, and when it began to boot it. */
function bootOf(
  history: MachineHistory,
  index: number,
  now: number,
): { imageId: string | null; startMs: number; bootMs: number } {
  for (let r = history.rollouts.length - 1; r >= 0; r--) {
    const rollout = history.rollouts[r] as Rollout;
    const atMs = restartMs(rollout, index);
    if (atMs <= now && atMs <= rollout.cutoffMs) {
      return { imageId: rollout.imageId, startMs: atMs, bootMs: rollout.machineBootMs };
    }
  }
  return { imageId: history.baseImageId, startMs: -Infinity, bootMs: 0 };
}

/** The largest share of failing machines the faults in force give machines that began to boot `imageId` at `startMs`. */
function unregisteredPercent(rules: UnhealthyImage[], imageId: string | null, startMs: number): number {
  let percent = 0;
  for (const rule of rules) {
    if (rule.imageId.toLowerCase() === imageId?.toLowerCase() && rule.sinceMs <= startMs) {
      percent = Math.max(percent, rule.unregisteredPercent);
    }
  }
  return percent;
}

/** Whether machine `index` is among the `percent` share that fails: spread evenly, ⌊count × percent / 100⌋ in all. */
const inShare = (index: number, percent: number) =>
  Math.floor(((index + 1) * percent) / 100) > Math.floor((index * percent) / 100);

/** The names and ids of one catalog's machines, derived from the catalog so that they stay the same across reads. */
export class MachineNames {
  private readonly hash: string;
  private readonly domain: string;
  private readonly prefix: string;

  constructor(private readonly catalog: SimCatalog) {
    this.hash = createHash('sha256').update(catalog.id.toLowerCase()).digest('hex');
    this.domain = (catalog.domainName?.split('.')[0] ?? 'AzureAD').toUpperCase();
    // NetBIOS names: at most 15 characters.
    this.prefix = (catalog.name.toUpperCase().replace(/[^A-Z0-9]/g, '') || 'QD').slice(0, 8);
  }

  of(index: number): Pick<SimMachine, 'id' | 'name' | 'hostName' | 'dnsName' | 'sid'> {
    const hostName = `${this.prefix}-${String(index + 1).padStart(4, '0')}`;
    const h = this.hash;
    const sidParts = [0, 8, 16].map((at) => Number.parseInt(h.slice(at, at + 8), 16));
    return {
      id: `${(index + 1).toString(16).padStart(8, '0')}-de5c-4000-8000-${h.slice(0, 12)}`,
      name: `${this.domain}\\${hostName}`,
      hostName,
      dnsName: this.catalog.domainName ? `${hostName.toLowerCase()}.${this.catalog.domainName}` : null,
      sid: `S-1-5-21-${sidParts.join('-')}-${1100 + index}`,
    };
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Machine `index` of `catalog` at `now`. A machine counts as on an image from the moment its restart onto it begins
 * (its disk is the new image); it then boots for `machineBootMs`, `Unregistered` and `TurningOn`, and registers,
 * unless an `unhealthyImage` fault says it fails to.
 */
export function machineAt(
  catalog: SimCatalog,
  history: MachineHistory,
  names: MachineNames,
  index: number,
  now: number,
  unhealthy: UnhealthyImage[],
): SimMachine {
  const boot = bootOf(history, index, now);
  const restarted = Number.isFinite(boot.startMs);
  const bootedMs = boot.startMs + boot.bootMs;
  const common = {
    ...names.of(index),
    catalogId: catalog.id,
    bootedImageId: boot.imageId,
    bootedAt: restarted ? iso(boot.startMs) : null,
    inMaintenanceMode: false,
    imageOutOfDate: boot.imageId?.toLowerCase() !== catalog.imageId?.toLowerCase(),
    ...(restarted
      ? { lastDeregistrationReason: MACHINE_STATES.restartReason, lastDeregistrationTime: iso(boot.startMs) }
      : { lastDeregistrationReason: null, lastDeregistrationTime: null }),
  };
  if (now < bootedMs) {
    return { ...common, ...MACHINE_STATES.booting, sessionCount: 0 };
  }
  if (inShare(index, unregisteredPercent(unhealthy, boot.imageId, boot.startMs))) {
    return {
      ...common,
      ...MACHINE_STATES.unregistered,
      sessionCount: 0,
      lastDeregistrationReason: MACHINE_STATES.unregisteredReason,
      lastDeregistrationTime: iso(bootedMs),
    };
  }
  return { ...common, ...MACHINE_STATES.registered, sessionCount: machineSessions(catalog, index) };
}

/** Whether any machine of the catalog fails to register now because of an `unhealthyImage` fault. */
export function anyUnregistered(
  catalog: SimCatalog,
  history: MachineHistory,
  now: number,
  unhealthy: UnhealthyImage[],
): boolean {
  if (unhealthy.length === 0) return false;
  const images = new Set(
    [history.baseImageId, ...history.rollouts.map((r) => r.imageId)].map((id) => id?.toLowerCase()),
  );
  if (!unhealthy.some((rule) => images.has(rule.imageId.toLowerCase()))) return false;
  for (let index = 0; index < (catalog.totalMachinesInCatalog ?? 0); index++) {
    const boot = bootOf(history, index, now);
    if (
      now >= boot.startMs + boot.bootMs &&
      inShare(index, unregisteredPercent(unhealthy, boot.imageId, boot.startMs))
    ) {
      return true;
    }
  }
  return false;
}
