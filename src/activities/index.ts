import { type HealthActivityDependencies, createHealthActivities } from './health';
import { heartbeating } from './heartbeat';
import { createImpactActivities } from './plan-impact';
import { type PollActivityDependencies, createPollActivity } from './poll';
import { type PostActivityDependencies, createPostActivity } from './post';
import { type RolloutActivityDependencies, createRolloutActivities } from './rollout';
import { createValidationActivity } from './validate';

export type { CatalogSnapshot } from './catalog-rules';
export { toApplicationFailure } from './citrix-failures';
export { HEARTBEAT_INTERVAL_MS } from './heartbeat';
export type { WaveHealthReport, WaveHealthRequest } from './health';
export type { PollReport, PollRequest, PollVerdict } from './poll';
export type { PostReport, PostRequest } from './post';
export type { ValidateRequest, ValidationReport } from './validate';

/** What the activities need: the Citrix client, and the options of the activities that take any. */
export type ActivityDependencies = RolloutActivityDependencies &
  PostActivityDependencies &
  PollActivityDependencies &
  Omit<HealthActivityDependencies, 'citrix'>;

/** Every activity the workflows call, each heartbeating while it runs. Their names are part of workflow histories. */
export function createActivities({
  citrix,
  webhookUrl,
  analysisUrl,
  analysisTimeoutMs,
  postRetrySettleMs,
  ...poll
}: ActivityDependencies) {
  return heartbeating({
    ...createRolloutActivities({ citrix, webhookUrl }),
    ...createValidationActivity({ citrix }),
    ...createPostActivity({ citrix, postRetrySettleMs }),
    ...createPollActivity({ citrix, ...poll }),
    ...createHealthActivities({ citrix, analysisUrl, analysisTimeoutMs }),
    ...createImpactActivities({ citrix }),
  });
}

export type Activities = ReturnType<typeof createActivities>;
