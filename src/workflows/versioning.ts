import type { VersioningBehavior } from '@temporalio/common';
import { setWorkflowOptions, workflowInfo } from '@temporalio/workflow';

/**
 * Declares how a workflow follows new builds under Worker Versioning. Only a versioned worker may report it: the server
 * refuses every task of an unversioned worker that does. An unversioned worker's tasks carry a build id (its bundle's)
 * but no deployment name, so that is how they are told apart.
 */
export function declareVersioningBehavior<A extends unknown[], R>(
  versioningBehavior: VersioningBehavior,
  workflow: (...args: A) => Promise<R>,
): void {
  setWorkflowOptions(
    () => (workflowInfo().currentDeploymentVersion?.deploymentName ? { versioningBehavior } : {}),
    workflow,
  );
}
