/** What every command needs: the Temporal connection (flags over environment), the Citrix client, the output. */
import type { Command } from 'commander';
import type { Client } from '@temporalio/client';
import { CitrixClient } from '../citrix';
import { type TemporalConfig, loadCitrixConfig, loadTemporalConfig } from '../config';
import { connectClient } from '../client';
import { createRedactor } from '../observability/logger';
import type { Tracing } from '../observability/tracing';
import { DEFAULT_SERVICE_NAMES, otlpHeaderValues, tracingRequested } from '../observability/tracing-config';

/** The command line's tracing, when the environment asks for it (README "Tracing"). */
let tracing: Tracing | undefined;

/**
 * Starts tracing when the `OTEL_*` variables ask for it, so that a `start` links to the workflow's trace. The caller
 * flushes it (`shutdown`) before the process exits.
 */
export async function startCliTracing(): Promise<Tracing | undefined> {
  if (!tracingRequested()) return undefined;
  const { startTracing } = await import('../observability/tracing.js');
  // The exporter's warnings may quote its headers, which often hold an API key.
  const redact = createRedactor(otlpHeaderValues());
  tracing = startTracing({
    serviceName: DEFAULT_SERVICE_NAMES.cli,
    warn: (message: string) => console.error(redact(`catalog-rollout: ${message}`)),
  });
  return tracing;
}

/** `--address`, `--namespace` and `--task-queue` on the program, for every command. */
export function addConnectionOptions(program: Command): Command {
  return program
    .option('--address <host:port>', 'Temporal frontend (default: TEMPORAL_ADDRESS, the profile, else localhost:7233)')
    .option('--namespace <name>', 'Temporal namespace (default: TEMPORAL_NAMESPACE, the profile, else default)')
    .option('--task-queue <name>', 'task queue of the workers (default: TEMPORAL_TASK_QUEUE, else catalog-rollout)');
}

/** The Temporal settings of the profile and the environment, with the program's flags on top. */
export function temporalConfigOf(command: Command, env: NodeJS.ProcessEnv = process.env): TemporalConfig {
  const flags = command.optsWithGlobals<{ address?: string; namespace?: string; taskQueue?: string }>();
  const config = loadTemporalConfig(env);
  return {
    ...config,
    ...(flags.address && { address: flags.address }),
    ...(flags.namespace && { namespace: flags.namespace }),
    ...(flags.taskQueue && { taskQueue: flags.taskQueue }),
  };
}

export async function withClient<T>(
  command: Command,
  fn: (client: Client, taskQueue: string) => Promise<T>,
): Promise<T> {
  const config = temporalConfigOf(command);
  for (const warning of config.warnings) console.error(`catalog-rollout: ${warning}`);
  if (config.apiKey && config.tls === false) {
    console.error('catalog-rollout: TEMPORAL_TLS=false sends the Temporal API key without TLS (a trusted proxy only)');
  }
  const client = await connectClient(config, { tracing: tracing !== undefined });
  try {
    return await fn(client, config.taskQueue);
  } finally {
    await client.connection.close();
  }
}

export async function withCitrix<T>(fn: (citrix: CitrixClient) => Promise<T>): Promise<T> {
  const citrix = new CitrixClient(loadCitrixConfig().client);
  try {
    return await fn(citrix);
  } finally {
    await citrix.close();
  }
}
