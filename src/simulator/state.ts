import { randomBytes } from 'node:crypto';
import type { FaultAction } from './faults';
import type { SimCatalog, SimImage, SimulatorSeed } from './seed';
import { PROCESSING_SUB_STATES, failedUpdateWarning } from './unconfirmed';

export interface Timing {
  updateDurationMs: number;
  acceptLagMs: number;
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
}

interface CatalogEntry {
  /** The catalog as it reads before the update's processing starts, and after the update is folded in. */
  stored: SimCatalog;
  update?: ImageUpdate;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The simulator's data and the image update state machine. Lookups are case-insensitive, as ASP.NET routes are. */
export class SimState {
  timing: Timing;
  private catalogs = new Map<string, CatalogEntry>();
  private images = new Map<string, SimImage>();
  private tokens = new Map<string, number>();
  private issued: string[] = [];

  constructor(
    readonly seed: SimulatorSeed,
    private readonly initialTiming: Timing,
  ) {
    this.timing = { ...initialTiming };
    this.reset();
  }

  reset(): void {
    const { catalogs, images } = structuredClone(this.seed);
    this.catalogs = new Map(catalogs.map((catalog) => [catalog.id.toLowerCase(), { stored: catalog }]));
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
  startUpdate(catalogId: string, image: SimImage, transactionId: string, failure?: PlannedFailure): void {
    const entry = this.entry(catalogId);
    const now = Date.now();
    entry.stored = this.view(entry, now);
    const processingStartMs = now + this.timing.acceptLagMs;
    entry.update = {
      image,
      transactionId,
      processingStartMs,
      finishMs: processingStartMs + this.timing.updateDurationMs,
      settledState: entry.stored.state === 'InputRequired' ? 'InputRequired' : 'Active',
      failure,
    };
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

  /** Overwrites fields of the catalog as it reads now, cancelling any update in flight. */
  patchCatalog(catalogId: string, patch: Partial<SimCatalog>): SimCatalog {
    const entry = this.entry(catalogId);
    entry.stored = { ...this.view(entry, Date.now()), ...patch, id: entry.stored.id };
    entry.update = undefined;
    return entry.stored;
  }

  private entry(catalogId: string): CatalogEntry {
    const entry = this.catalogs.get(catalogId.toLowerCase());
    if (!entry) throw new Error(`catalog ${catalogId} not found`);
    return entry;
  }

  private view(entry: CatalogEntry, now: number): SimCatalog {
    const { stored, update } = entry;
    if (!update || now < update.processingStartMs) return stored;
    const durationMs = update.finishMs - update.processingStartMs;
    if (update.failure) {
      const atPercent = update.failure.atPercent ?? 50;
      const failAtMs = update.processingStartMs + (atPercent === 0 ? 0 : (durationMs * atPercent) / 100);
      if (now >= failAtMs) return this.settle(entry, this.failed(stored, update, atPercent, failAtMs));
    }
    if (now >= update.finishMs) return this.settle(entry, this.finished(stored, update));
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
    return {
      ...stored,
      state: 'Error',
      subState: failure.subState,
      statusMessage: failure.statusMessage ?? `Updating the catalog to image ${update.image.name} failed.`,
      warnings: [...(stored.warnings ?? []), failedUpdateWarning(update.image.name)],
      taskCompletionPercentage: atPercent,
      transactionId: update.transactionId,
      lastModifiedTime: iso(failAtMs),
    };
  }
}
