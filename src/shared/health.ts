/**
 * Health gates: whether the desktops of a wave's catalogs work on the new image. Types and defaults that the workflow,
 * the activities and the CLI share (workflow-safe: no I/O).
 */
import { MINUTE } from './time';

/** `pass` goes on; `fail` halts the rollout; `inconclusive` holds it for a person to approve, abort or roll back. */
export type HealthVerdict = 'pass' | 'fail' | 'inconclusive';

export interface HealthThresholds {
  /** Share of the powered-on machines on the new image that must be registered without a fault. @default 90 */
  minRegisteredPercent: number;
  /** Powered-on machines that must run the new image before a catalog can be judged at all. @default 1 */
  minMachinesOnImage: number;
}

export const HEALTH_DEFAULTS = {
  /** How long after a wave's catalogs finished their machines get to restart and register before they are judged. */
  healthWaitMs: 10 * MINUTE,
  minRegisteredPercent: 90,
  minMachinesOnImage: 1,
} as const;

/** What a verdict is based on: machine counts of one catalog. */
export interface HealthFigures {
  total: number;
  onNewImage: number;
  /** Machines that still run another image and take the new one when they restart. */
  pendingRestart: number;
  poweredOnNewImage: number;
  /** Powered-on machines on the new image, registered and without a fault. */
  registeredNewImage: number;
  faulted: number;
  inMaintenance: number;
}

export interface CatalogHealth {
  catalogId: string;
  catalogName?: string;
  verdict: HealthVerdict;
  reason: string;
  figures?: HealthFigures;
  /** The first machines that hold the verdict back, with why. */
  stragglers?: string[];
}

/** One gate's verdict on a wave, as the rollout records it (bounded: the catalogs that did not pass, and counts). */
export interface WaveHealth {
  wave: number;
  verdict: HealthVerdict;
  reason: string;
  checkedAt: string;
  /** Catalogs per verdict. */
  counts: Record<HealthVerdict, number>;
  /** Machines across the wave's catalogs. */
  figures: HealthFigures;
  /** The catalogs that did not pass (the first of them), and each passing one's figures are in `counts`/`figures`. */
  catalogs: CatalogHealth[];
  /** What the external analysis gate answered, when the worker has one. */
  analysis?: { verdict: HealthVerdict; reason: string };
}
