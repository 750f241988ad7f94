/** Small pieces shared by the starter's command groups. */
import { InvalidArgumentError } from 'commander';
import ms from 'ms';
import type { Client } from '@temporalio/client';
import { loadTemporalConfig } from './config';
import { connectClient } from './temporal';

export function duration(value: string): number {
  const parsed = /[a-z]/i.test(value) ? ms(value as ms.StringValue) : undefined;
  if (parsed === undefined || !Number.isFinite(parsed) || parsed <= 0) {
    throw new InvalidArgumentError('expected a duration with a unit, such as 30s, 5m or 2h');
  }
  return parsed;
}

export function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) throw new InvalidArgumentError('expected a whole number');
  return parsed;
}

export function print(json: boolean, value: unknown, human: string): void {
  console.log(json ? JSON.stringify(value) : human);
}

export async function withClient<T>(fn: (client: Client, taskQueue: string) => Promise<T>): Promise<T> {
  const config = loadTemporalConfig();
  if (config.apiKey && config.tls === false) {
    console.error('catalog-rollout: TEMPORAL_TLS=false sends the Temporal API key without TLS (a trusted proxy only)');
  }
  const client = await connectClient(config);
  try {
    return await fn(client, config.taskQueue);
  } finally {
    await client.connection.close();
  }
}
