/** The bench's yardstick: the cheapest useful workflow, one activity. Not part of the product (src/workflows). */
import { proxyActivities } from '@temporalio/workflow';

const { benchNoop: noop } = proxyActivities<{ benchNoop(): Promise<void> }>({ startToCloseTimeout: '1 minute' });

export async function benchOneActivity(): Promise<void> {
  await noop();
}
