/**
 * The operations the CLI, the demo, the benchmark and the tests share: connecting, starting and attaching, watching,
 * inspecting, listing, retrying, restoring, recalling an image, exporting histories and scheduling. Nothing here
 * prints.
 */
export * from './connection';
export * from './failures';
export * from './history';
export * from './inspect';
export * from './listing';
export * from './recall';
export * from './restore';
export * from './rollouts';
export * from './schedules';
export * from './search-attributes';
export * from './updates';
export * from './watch';
