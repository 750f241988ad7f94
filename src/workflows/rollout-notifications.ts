import { log } from '@temporalio/workflow';
import type { RolloutEvent } from '../activities/rollout';
import { truncateText } from '../shared/rollout';
import { notifyRollout } from './rollout-activities';
import type { RolloutRun } from './rollout-run';
import { summaries } from './summaries';

/** Sends the notifications of one run, if it was asked to notify. */
export class RolloutNotifier {
  private readonly run: RolloutRun;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(run: RolloutRun) {
    this.run = run;
  }

  /** Sends a notification; a bounded rollout goes on at once and waits for the notifications only at its end. */
  async notify(event: RolloutEvent, text: string): Promise<void> {
    const { request, rolloutId, bounded } = this.run;
    if (!request.notify || request.dryRun) return;
    const sent = notifyRollout
      .executeWithOptions({ summary: summaries.notify(event) }, [{ event, rolloutId, text: truncateText(text, 1_000) }])
      .catch((error: unknown) => {
        // A notification that cannot be delivered never fails the rollout.
        log.warn('notification not delivered', { event, error: (error as Error).message });
      });
    if (!bounded) return sent;
    const tracked: Promise<void> = sent.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /** Resolves when every notification sent so far is delivered or given up. */
  sent(): Promise<void[]> {
    return Promise.all(this.inFlight);
  }
}
