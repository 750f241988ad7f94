export * from './activity-interceptors';
export * from './health';
export * from './logger';
export * from './metrics';
export * from './tracing';
export * from './tracing-config';
export * from './tracing-worker';

/**
 * Workflow interceptor modules: the worker registers them when it bundles the workflow code itself, and
 * `npm run build` puts them into the prebuilt bundle. The OpenTelemetry ones make `RunWorkflow` and `StartActivity`
 * spans and carry the trace to activities in headers; they add no commands but one patch marker (see
 * `tracing-workflow-interceptors.ts`), and without tracing the worker's `exporter` sink drops what they hand over
 * (`workflowSpanSinks`), so that turning tracing on or off never changes the workflow code.
 */
export const workflowInterceptorModules = [
  require.resolve('./workflow-interceptors'),
  require.resolve('./tracing-workflow-interceptors'),
];
