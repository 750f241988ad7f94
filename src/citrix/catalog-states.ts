/** Which catalog states mean what for an image update: pure, so workflow code reads them too. */

/** States in which Citrix accepts an image update, and in which an update has finished. */
export const SETTLED_STATES: ReadonlySet<string> = new Set(['Active', 'InputRequired']);
/** States in which an update (or another operation) is still running. */
export const RUNNING_STATES: ReadonlySet<string> = new Set(['Processing', 'PreDeployment']);
/** States in which an update has failed or the catalog is going away. */
export const FAILED_STATES: ReadonlySet<string> = new Set(['Error', 'Deleting', 'NotFound']);
