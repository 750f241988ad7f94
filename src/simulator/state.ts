import { randomBytes } from 'node:crypto';
import { DeliveryGroups, type SimDeliveryGroup } from './delivery-groups';
import type { FaultAction, UnhealthyImage } from './faults';
import {
  type MachineHistory,
  MachineNames,
  type SimMachine,
  anyUnregistered,
  cutRestarts,
  forceRestarts,
  machineAt,
  newHistory,
  recordRollout,
} from './machines';
import type { SimCatalog, SimImage, SimWarning, SimulatorSeed } from './seed';
import {
  PROCESSING_SUB_STATES,
  failedUpdateWarning,
  pendingVdaUpdateWarning,
  registerFailureWarning,
} from './unconfirmed';

export interface Timing {
  updateDurationMs: number;
  acceptLagMs: number;
  /**
   * After an update with `vdaUpdateDelay` -1, how long until the machines have restarted by themselves and the
   * `PendingVdaUpdate` warning clears; null or `Infinity`: only `restartMachines` clears it.
   */
  machineRestartMs: number | null;
  /** How long one of `vdaUpdateDelay`'s minutes lasts. */
  minuteMs: number;
  /** How long a restarting machine boots (`Unregistered`, `TurningOn`) before it registers. */
  machineBootMs: number;
}

type PlannedFailure = Extract<FaultAction, { type: 'failNextUpdate' }>;

/** An accepted image update. Its phase is worked out from these timestamps whenever the catalog is read. */
interface ImageUpdate {
  image: SimImage;
  transactionId: string;
  processingStartMs: number;
  finishMs: number;
  settledState: string;
  failure?: PlannedFailure;
  vdaUpdateDelay: number;
  /** The timing in force when the update was accepted. */
  machineRestartMs: number | null;
  minuteMs: number;
  machineBootMs: number;
}

/** Machines still to restart onto the image of the last update, and the warning that says so meanwhile. */
interface PendingRestart {
  warning: SimWarning;
  untilMs: number;
}

interface CatalogEntry {
  /** The catalog as it reads before the update's processing starts, and after the update is folded in. */
  stored: SimCatalog;
  update?: ImageUpdate;
  restart?: PendingRestart;
  /** What the catalog's machines have booted, from which each one's state is worked out when it is read. */
  history: MachineHistory;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The simulator's data and the image update state machine. Lookups are case-insensitive, as ASP.NET routes are. */
export class SimState {
  timing: Timing;
  private catalogs = new Map<string, CatalogEntry>();
  private images = new Map<string, SimImage>();
  private tokens = new Map<string, number>();
  private issued: string[] = [];
  /** Built on first use, dropped when a catalog changes. */
  private groups?: DeliveryGroups;

  constructor(
    readonly seed: SimulatorSeed,
    private readonly initialTiming: Timing,
    /** The `unhealthyImage` faults in force for a catalog's machines. */
    private readonly unhealthyImages: (catalogId: string) => UnhealthyImage[] = () => [],
  ) {
    this.timing = { ...initialTiming };
    this.reset();
  }

  reset(): void {
    const { catalogs, images } = structuredClone(this.seed);
    this.catalogs = new Map(
      catalogs.map((catalog) => [catalog.id.toLowerCase(), { stored: catalog, history: newHistory(catalog.imageId) }]),
    );
    this.groups = undefined;
    this.images = new Map(images.map((image) => [image.id.toLowerCase(), image]));
    this.tokens.clear();
    this.issued = [];
    this.timing = { ...this.initialTiming };
  }

  issueToken(ttlSeconds: number): string {
    const token = randomBytes(32).toString('base64url');
    this.tokens.set(token, Date.now() + ttlSeconds * 1000);
    this.issued.push(token);
    return token;
  }

  isTokenValid(token: string): boolean {
    const expiresAtMs = this.tokens.get(token);
    return expiresAtMs !== undefined && expiresAtMs > Date.now();
  }

  expireTokens(): void {
    for (const token of this.tokens.keys()) this.tokens.set(token, 0);
  }

  issuedTokens(): string[] {
    return [...this.issued];
  }

  hasCatalog(catalogId: string): boolean {
    return this.catalogs.has(catalogId.toLowerCase());
  }

  getImage(imageId: string): SimImage | undefined {
    return this.images.get(imageId.toLowerCase());
  }

  /** The catalog as a client reads it now, or undefined when there is no such catalog. */
  readCatalog(catalogId: string, now = Date.now()): SimCatalog | undefined {
    const entry = this.catalogs.get(catalogId.toLowerCase());
    return entry && this.view(entry, now);
  }

  readCatalogs(now = Date.now()): SimCatalog[] {
    return Array.from(this.catalogs.values(), (entry) => this.view(entry, now));
  }

  /** When the current update's processing started (for `updateStatus`), if one is processing now. */
  processingStartedAt(catalogId: string, now = Date.now()): string | null {
    const update = this.catalogs.get(catalogId.toLowerCase())?.update;
    return update && update.processingStartMs <= now ? iso(update.processingStartMs) : null;
  }

  listImages(): SimImage[] {
    return [...this.images.values()];
  }

  /**
   * Accepts an update: the catalog keeps reading as it does now for `acceptLagMs`, then goes `Processing`. An update
   * still in its lag is replaced, which restarts it.
   */
  startUpdate(
    catalogId: string,
    image: SimImage,
    transactionId: string,
    vdaUpdateDelay: number,
    failure?: PlannedFailure,
  ): void {
    const entry = this.entry(catalogId);
    const now = Date.now();
    entry.stored = this.advance(entry, now);
    const processingStartMs = now + this.timing.acceptLagMs;
    entry.update = {
      image,
      transactionId,
      processingStartMs,
      finishMs: processingStartMs + this.timing.updateDurationMs,
      settledState: entry.stored.state === 'InputRequired' ? 'InputRequired' : 'Active',
      failure,
      vdaUpdateDelay,
      machineRestartMs: this.timing.machineRestartMs,
      minuteMs: this.timing.minuteMs,
      machineBootMs: this.timing.machineBootMs,
    };
  }

  /** The catalog's machines restart now onto its image, clearing `PendingVdaUpdate`; a no-op when none wait. */
  restartMachines(catalogId: string): SimCatalog {
    const entry = this.entry(catalogId);
    const now = Date.now();
    this.advance(entry, now);
    entry.restart = undefined;
    forceRestarts(entry.history, now);
    return this.view(entry, now);
  }

  /** Finishes the catalog's update now; a no-op when none is in flight (it may have just finished by itself). */
  completeUpdate(catalogId: string): SimCatalog {
    const entry = this.entry(catalogId);
    const now = Date.now();
    if (entry.update) {
      entry.update.processingStartMs = Math.min(entry.update.processingStartMs, now);
      entry.update.finishMs = now;
    }
    return this.view(entry, now);
  }

  /** Overwrites fields of the catalog as it reads now, cancelling any update in flight and any pending restarts. */
  patchCatalog(catalogId: string, patch: Partial<SimCatalog>): SimCatalog {
    const entry = this.entry(catalogId);
    const now = Date.now();
    const before = this.advance(entry, now);
    entry.stored = { ...before, ...patch, id: entry.stored.id };
    entry.update = undefined;
    entry.restart = undefined;
    cutRestarts(entry.history, now);
    // A catalog patched onto another image, or to another size, has all its machines on that image.
    const { imageId, totalMachinesInCatalog } = entry.stored;
    if (imageId !== before.imageId || totalMachinesInCatalog !== before.totalMachinesInCatalog) {
      entry.history = newHistory(imageId);
    }
    this.groups = undefined;
    return entry.stored;
  }

  /** Machines `from` to `to` (exclusive) of the catalog, as they are at `now`. Throws for an unknown catalog. */
  readMachines(catalogId: string, now = Date.now(), from = 0, to = Infinity): SimMachine[] {
    const entry = this.entry(catalogId);
    const catalog = this.view(entry, now);
    const names = new MachineNames(catalog);
    const unhealthy = this.unhealthyImages(catalog.id);
    const machines: SimMachine[] = [];
    for (let i = Math.max(0, from); i < Math.min(catalog.totalMachinesInCatalog ?? 0, to); i++) {
      machines.push(machineAt(catalog, entry.history, names, i, now, unhealthy));
    }
    return machines;
  }

  /** The delivery group with this id or name. */
  deliveryGroup(nameOrId: string): SimDeliveryGroup | undefined {
    return this.groupIndex().get(nameOrId);
  }

  catalogUid(catalogId: string): number | undefined {
    return this.groupIndex().uidOf(catalogId);
  }

  /** The catalog with this id or, failing that, this name. */
  catalogByIdOrName(nameOrId: string): SimCatalog | undefined {
    const key = nameOrId.toLowerCase();
    const entry =
      this.catalogs.get(key) ?? [...this.catalogs.values()].find(({ stored }) => stored.name.toLowerCase() === key);
    return entry && this.view(entry, Date.now());
  }

  private groupIndex(): DeliveryGroups {
    this.groups ??= new DeliveryGroups(Array.from(this.catalogs.values(), (entry) => entry.stored));
    return this.groups;
  }

  private entry(catalogId: string): CatalogEntry {
    const entry = this.catalogs.get(catalogId.toLowerCase());
    if (!entry) throw new Error(`catalog ${catalogId} not found`);
    return entry;
  }

  /** The catalog as it reads at `now`, with the warnings of machines still to restart and of machines that fail. */
  private view(entry: CatalogEntry, now: number): SimCatalog {
    let catalog = this.advance(entry, now);
    const { restart } = entry;
    if (restart && now >= restart.untilMs) entry.restart = undefined;
    else if (restart) catalog = { ...catalog, warnings: [...(catalog.warnings ?? []), restart.warning] };
    if (anyUnregistered(catalog, entry.history, now, this.unhealthyImages(catalog.id))) {
      catalog = { ...catalog, warnings: [...(catalog.warnings ?? []), registerFailureWarning()] };
    }
    return catalog;
  }

  /** The catalog at `now` without the pending-restart warning, folding in an update that has ended. */
  private advance(entry: CatalogEntry, now: number): SimCatalog {
    const { stored, update } = entry;
    if (!update || now < update.processingStartMs) return stored;
    // Machines still waiting for the last image take this one instead.
    entry.restart = undefined;
    cutRestarts(entry.history, update.processingStartMs);
    const durationMs = update.finishMs - update.processingStartMs;
    if (update.failure) {
      const atPercent = update.failure.atPercent ?? 50;
      const failAtMs = update.processingStartMs + (atPercent === 0 ? 0 : (durationMs * atPercent) / 100);
      if (now >= failAtMs) return this.settle(entry, this.failed(stored, update, atPercent, failAtMs));
    }
    if (now >= update.finishMs) {
      entry.restart = pendingRestart(update);
      recordRollout(
        entry.history,
        {
          imageId: update.image.id,
          finishMs: update.finishMs,
          vdaUpdateDelay: update.vdaUpdateDelay,
          machineRestartMs: update.machineRestartMs,
          minuteMs: update.minuteMs,
          machineBootMs: update.machineBootMs,
          machineCount: stored.totalMachinesInCatalog ?? 0,
          cutoffMs: Infinity,
          forcedAtMs: Infinity,
        },
        now,
      );
      return this.settle(entry, this.finished(stored, update));
    }
    const percent = Math.min(99, Math.floor(((now - update.processingStartMs) / durationMs) * 100));
    return {
      ...stored,
      state: 'Processing',
      subState: PROCESSING_SUB_STATES[Math.min(3, Math.floor(percent / 25))] ?? null,
      statusMessage: null,
      taskCompletionPercentage: percent,
      transactionId: update.transactionId,
      lastModifiedTime: iso(update.processingStartMs),
    };
  }

  private settle(entry: CatalogEntry, outcome: SimCatalog): SimCatalog {
    entry.stored = outcome;
    entry.update = undefined;
    return outcome;
  }

  private finished(stored: SimCatalog, update: ImageUpdate): SimCatalog {
    return {
      ...stored,
      state: update.settledState,
      subState: null,
      statusMessage: null,
      imageId: update.image.id,
      templateImageName: update.image.name,
      templateImageOs: update.image.osName,
      taskCompletionPercentage: 100,
      transactionId: update.transactionId,
      lastModifiedTime: iso(update.finishMs),
    };
  }

  private failed(stored: SimCatalog, update: ImageUpdate, atPercent: number, failAtMs: number): SimCatalog {
    const failure = update.failure as PlannedFailure;
    if (failure.endState === 'Active') {
      // Rolled back: the catalog's image fields stay those of `stored`, the image it had before the update.
      return {
        ...stored,
        state: update.settledState,
        subState: null,
        statusMessage: failure.statusMessage ?? null,
        warnings: [...(stored.warnings ?? []), failedUpdateWarning(update.image.name)],
        transactionId: update.transactionId,
        lastModifiedTime: iso(failAtMs),
      };
    }
    return {
      ...stored,
      state: 'Error',
      subState: failure.subState ?? null,
      statusMessage: failure.statusMessage ?? `Updating the catalog to image ${update.image.name} failed.`,
      warnings: [...(stored.warnings ?? []), failedUpdateWarning(update.image.name)],
      taskCompletionPercentage: atPercent,
      transactionId: update.transactionId,
      lastModifiedTime: iso(failAtMs),
    };
  }
}

/** What an update's `vdaUpdateDelay` leaves once it has finished: nothing for 0, a warning until restarts otherwise. */
function pendingRestart(update: ImageUpdate): PendingRestart | undefined {
  const delay = update.vdaUpdateDelay;
  if (delay === 0) return undefined;
  const waitMs = delay < 0 ? (update.machineRestartMs ?? Infinity) : delay * update.minuteMs;
  return { warning: pendingVdaUpdateWarning(delay), untilMs: update.finishMs + waitMs };
}

/** Checks every setting before it changes any, so that a wrong one leaves the timing as it was. */
export function applyTiming(timing: Timing, changes: Record<string, unknown>): void {
  const checked: Partial<Record<keyof Timing, number | null>> = {};
  for (const name of ['updateDurationMs', 'acceptLagMs', 'machineRestartMs', 'minuteMs', 'machineBootMs'] as const) {
    const value = changes[name];
    if (value === undefined) continue;
    if (value === null && name === 'machineRestartMs') {
      checked[name] = null;
    } else if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
      throw new TypeError(`${name} must be a number >= 0${name === 'machineRestartMs' ? ' or null' : ''}`);
    } else if ((name === 'minuteMs' || name === 'machineBootMs') && !Number.isFinite(value)) {
      throw new TypeError(`${name} must be finite`);
    } else {
      checked[name] = value;
    }
  }
  Object.assign(timing, checked);
}
