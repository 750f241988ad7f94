export { startSimulator, type RecordedRequest, type RunningSimulator, type SimulatorOptions } from './server';
export { DEFAULT_SEED, SEED_IDS, parseSeed } from './seed';
export type { SimApplication, SimCatalog, SimImage, SimSite, SimWarning, SimulatorSeed } from './seed';
export type { FaultAction, FaultMatch, FaultSpec, Operation, StoredFault } from './faults';
export type { SimMachine } from './machines';
export type { Timing } from './state';
export type { RateLimit, RateLimitStats } from './rate-limit';
