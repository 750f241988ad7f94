export * from './activity-interceptors';
export * from './health';
export * from './logger';
export * from './metrics';

/**
 * Workflow interceptor modules: the worker registers them when it bundles the workflow code itself, and
 * `npm run build` puts them into the prebuilt bundle.
 */
export const workflowInterceptorModules = [require.resolve('./workflow-interceptors')];
