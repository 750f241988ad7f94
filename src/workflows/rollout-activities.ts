import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { NON_RETRYABLE_FAILURES } from '../shared';

/** The activities the rollout calls itself; each catalog's child workflow calls its own. */
export const { resolveRolloutTargets, loadRolloutToRestore, maintenanceWindowStatus, assessRolloutImpact } =
  proxyActivities<Activities>({
    startToCloseTimeout: '2 minutes',
    scheduleToCloseTimeout: '15 minutes',
    retry: { initialInterval: '1 second', maximumInterval: '1 minute', nonRetryableErrorTypes: NON_RETRYABLE_FAILURES },
  });

/** The health gate's reads: one catalog after the other, heartbeating, so that a lost worker is noticed soon. */
export const { checkWaveHealth } = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '5 seconds', maximumInterval: '1 minute', maximumAttempts: 5 },
});

export const { notifyRollout } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  // The activity heartbeats, so that a cancelled rollout abandons a slow receiver within seconds (the SDK sends a
  // heartbeat at most every 80 % of this, and the cancel arrives with the answer to one).
  heartbeatTimeout: '5 seconds',
  retry: { maximumAttempts: 3, initialInterval: '2 seconds' },
});
