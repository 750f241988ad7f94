import { readFileSync } from 'node:fs';
import { z } from 'zod';
import {
  CITRIX_API_HOSTS,
  type CitrixClientOptions,
  MAX_REQUEST_TIMEOUT_MS,
  isCustomerId,
  isGuid,
  outboundUrlProblem,
} from '../citrix';
import { bundleEncodesFailures } from '../codec/data-converter';
import { CODEC_KEYS_VARIABLE, type CodecKeyRing, readCodecKeyFile } from '../codec/keys';
import { parseBindAddress } from '../observability/health';
import { HOUR } from '../shared/time';
import { PRODUCT_VERSION } from '../shared/version';
import { type TemporalConfig, TEMPORAL_VARIABLES, parseTemporal } from './temporal';
import { ConfigError, type Env, emptyAsUndefined, issuesOf, optionalString, readFileOrProblem } from './values';

export { ConfigError } from './values';
export {
  DEPRECATED_TEMPORAL_VARIABLES,
  STANDARD_TEMPORAL_VARIABLES,
  TEMPORAL_DEFAULTS,
  type TemporalConfig,
} from './temporal';

export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;

/**
 * A secret may be given as `NAME` or, for Docker and Kubernetes secrets, as `NAME_FILE` holding a path. Reading the
 * file happens here so that a wrong path fails at start with the variable's name in the message.
 */
function withSecretFiles(env: Env, names: string[], problems: string[]): Env {
  const resolved: Env = { ...env };
  for (const name of names) {
    const path = env[`${name}_FILE`];
    if (!path) continue;
    if (env[name]) {
      problems.push(`${name} and ${name}_FILE are both set: keep one`);
      continue;
    }
    try {
      resolved[name] = readFileSync(path, 'utf8').trim();
    } catch (error) {
      problems.push(`${name}_FILE: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? error})`);
    }
  }
  return resolved;
}

/** A whole number from `min` to `max`: every numeric setting has both bounds, so a typo cannot disable a limit. */
const intBetween = (min: number, max: number, fallback: number) =>
  z.preprocess(
    emptyAsUndefined,
    z.coerce
      .number()
      .int('must be a whole number')
      .min(min, `must be at least ${min}`)
      .max(max, `must be at most ${max}`)
      .default(fallback),
  );
const positiveInt = (fallback: number, max: number) => intBetween(1, max, fallback);
/** Requests per second that all workers together may send to Citrix: a positive rate, or 0 for no budget. */
const requestRate = (fallback: number, max: number) =>
  z.preprocess(
    (value) => (typeof value === 'string' ? value.trim() || undefined : value),
    z.coerce
      .number({ error: 'must be a number of requests per second (for example 20), or 0 for no budget' })
      .min(0, 'must be a number of requests per second (for example 20), or 0 for no budget')
      .max(max, `must be at most ${max}`)
      .default(fallback),
  );
const nonNegativeInt = (fallback: number, max: number) => intBetween(0, max, fallback);
/** An endpoint the worker sends credentials or data to: https (http to loopback only), no user info. */
const outboundUrl = (name: string) =>
  z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .superRefine((value, context) => {
        const problem = outboundUrlProblem(value, name);
        if (problem) context.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
  );
const bindAddress = (name: string) =>
  z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .refine(isBindAddress, `${name} must be host:port (for example 0.0.0.0:9464), or empty to turn it off`)
      .optional(),
  );

function isBindAddress(value: string): boolean {
  try {
    parseBindAddress(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Citrix publishes no rate limit for the Catalog Service (its gateway answers 429 past one). 20 requests a second is
 * modest for an API gateway and enough for the most a rollout runs at once: 500 updates polled every 30 s take 17.
 */
export const CITRIX_DEFAULT_REQUESTS_PER_SECOND = 20;

const citrixEnvSchema = z.object({
  CITRIX_CUSTOMER_ID: z
    .string({ error: 'CITRIX_CUSTOMER_ID is required (Citrix Cloud > Identity and Access Management > API Access)' })
    .refine(isCustomerId, 'CITRIX_CUSTOMER_ID is not a Citrix Cloud customer id'),
  CITRIX_CLIENT_ID: z.string({ error: 'CITRIX_CLIENT_ID is required (the id of a Citrix Cloud API client)' }).min(1),
  CITRIX_CLIENT_SECRET: z
    .string({ error: 'CITRIX_CLIENT_SECRET (or CITRIX_CLIENT_SECRET_FILE) is required' })
    .min(1, 'CITRIX_CLIENT_SECRET is empty'),
  CITRIX_SITE_ID: z.preprocess(emptyAsUndefined, z.string().refine(isGuid, 'CITRIX_SITE_ID must be a GUID').optional()),
  CITRIX_REGION: z.preprocess(
    emptyAsUndefined,
    z
      .enum(Object.keys(CITRIX_API_HOSTS) as [keyof typeof CITRIX_API_HOSTS], {
        error: `CITRIX_REGION must be one of ${Object.keys(CITRIX_API_HOSTS).join(', ')}`,
      })
      .default('global'),
  ),
  CITRIX_API_BASE_URL: outboundUrl('CITRIX_API_BASE_URL'),
  CITRIX_DAAS_BASE_URL: outboundUrl('CITRIX_DAAS_BASE_URL'),
  CITRIX_TOKEN_URL: outboundUrl('CITRIX_TOKEN_URL'),
  CITRIX_REQUEST_TIMEOUT_MS: positiveInt(30_000, MAX_REQUEST_TIMEOUT_MS),
  CITRIX_MAX_CONNECTIONS: positiveInt(32, 1_024),
  CITRIX_MAX_REQUESTS_PER_SECOND: requestRate(CITRIX_DEFAULT_REQUESTS_PER_SECOND, 10_000),
  CITRIX_POST_RETRY_SETTLE_MS: nonNegativeInt(30_000, 10 * 60_000),
});

/** What a worker runs with unless told otherwise: the one home of these numbers, for the environment and the API. */
export const WORKER_DEFAULTS = {
  maxConcurrentActivities: 200,
  maxConcurrentWorkflowTasks: 40,
  /**
   * Workflows kept in memory between their tasks. A cached update costs 0.2–0.4 MB; one evicted is replayed from its
   * short history at its next task. 500 keeps a worker carrying 1,000 concurrent updates under 450 MB with a 256 MB
   * heap, at 12 % more CPU than caching all of them (docs/performance.md).
   */
  maxCachedWorkflows: 500,
  shutdownGraceMs: 10_000,
  pollLoopMaxIntervalMs: 15_000,
  progressReportIntervalMs: 60_000,
} as const;

const workerEnvSchema = z.object({
  WORKER_MAX_CONCURRENT_ACTIVITIES: positiveInt(WORKER_DEFAULTS.maxConcurrentActivities, 10_000),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: positiveInt(WORKER_DEFAULTS.maxConcurrentWorkflowTasks, 1_000),
  WORKER_MAX_CACHED_WORKFLOWS: nonNegativeInt(WORKER_DEFAULTS.maxCachedWorkflows, 100_000),
  WORKER_SHUTDOWN_GRACE_MS: nonNegativeInt(WORKER_DEFAULTS.shutdownGraceMs, HOUR),
  WORKER_POLL_LOOP_MAX_INTERVAL_MS: nonNegativeInt(WORKER_DEFAULTS.pollLoopMaxIntervalMs, HOUR),
  WORKER_PROGRESS_REPORT_INTERVAL_MS: nonNegativeInt(WORKER_DEFAULTS.progressReportIntervalMs, 24 * HOUR),
  WORKFLOW_BUNDLE_PATH: optionalString,
  ROLLOUT_WEBHOOK_URL: outboundUrl('ROLLOUT_WEBHOOK_URL'),
  ROLLOUT_ANALYSIS_URL: outboundUrl('ROLLOUT_ANALYSIS_URL'),
  LOG_LEVEL: z.preprocess(
    (value) => (typeof value === 'string' && value ? value.toUpperCase() : undefined),
    z.enum(LOG_LEVELS, { error: `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}` }).default('INFO'),
  ),
  METRICS_BIND_ADDRESS: bindAddress('METRICS_BIND_ADDRESS'),
  HEALTH_BIND_ADDRESS: bindAddress('HEALTH_BIND_ADDRESS'),
  // The names Temporal's Worker Controller sets on the pods it runs.
  TEMPORAL_DEPLOYMENT_NAME: optionalString,
  TEMPORAL_WORKER_BUILD_ID: optionalString,
});

/** A worker of one build of a Worker Deployment: Temporal routes each workflow to the build its behaviour names. */
export interface WorkerDeploymentVersion {
  deploymentName: string;
  buildId: string;
}

function deploymentVersionOf(
  deploymentName: string | undefined,
  buildId: string | undefined,
  problems: string[],
): WorkerDeploymentVersion | undefined {
  if (deploymentName && buildId) return { deploymentName, buildId };
  if (deploymentName || buildId) {
    problems.push(
      'TEMPORAL_DEPLOYMENT_NAME and TEMPORAL_WORKER_BUILD_ID go together (Worker Versioning needs both): ' +
        'set both, or neither to run without versioning',
    );
  }
  return undefined;
}

export interface CitrixConfig {
  client: CitrixClientOptions;
  postRetrySettleMs: number;
  /** Citrix requests per second that all workers of the task queue together may send; off when undefined. */
  maxRequestsPerSecond?: number;
}

export interface WorkerConfig {
  temporal: TemporalConfig;
  citrix: CitrixConfig;
  maxConcurrentActivities: number;
  maxConcurrentWorkflowTasks: number;
  maxCachedWorkflows: number;
  shutdownGraceMs: number;
  /** Poll intervals up to this are waited out inside one heartbeating activity attempt (docs/performance.md). */
  pollLoopMaxIntervalMs: number;
  /** Least time between two progress reports of one poll (state changes report at once). */
  progressReportIntervalMs: number;
  workflowBundlePath?: string;
  /** Incoming webhook for rollout notifications (a secret). */
  rolloutWebhookUrl?: string;
  /** The external analysis gate that each wave's health verdict is put to (a secret). */
  rolloutAnalysisUrl?: string;
  logLevel: (typeof LOG_LEVELS)[number];
  /** Where the Temporal runtime serves Prometheus metrics; off when unset. */
  metricsBindAddress?: string;
  /** Where `/healthz` and `/readyz` are served; off when unset. */
  healthBindAddress?: string;
  /** The build this worker is, when Worker Versioning is on; off when unset. */
  deploymentVersion?: WorkerDeploymentVersion;
}

/** Every secret a configuration holds, for the log redactor. */
export function secretsOf(config: WorkerConfig): string[] {
  return [
    config.citrix.client.clientSecret,
    config.temporal.apiKey,
    config.rolloutWebhookUrl,
    config.rolloutAnalysisUrl,
    ...(config.temporal.payloadCodecKeys?.secrets() ?? []),
    // Profile headers often carry credentials (an authorization header).
    ...Object.values(config.temporal.metadata ?? {}),
  ].filter((secret): secret is string => Boolean(secret));
}

function parseCitrix(env: Env, problems: string[]): CitrixConfig | undefined {
  const parsed = citrixEnvSchema.safeParse(env);
  if (!parsed.success) {
    problems.push(...issuesOf(parsed.error));
    return undefined;
  }
  const e = parsed.data;
  return {
    client: {
      customerId: e.CITRIX_CUSTOMER_ID,
      clientId: e.CITRIX_CLIENT_ID,
      clientSecret: e.CITRIX_CLIENT_SECRET,
      siteId: e.CITRIX_SITE_ID,
      region: e.CITRIX_REGION,
      apiBaseUrl: e.CITRIX_API_BASE_URL,
      daasBaseUrl: e.CITRIX_DAAS_BASE_URL,
      tokenUrl: e.CITRIX_TOKEN_URL,
      requestTimeoutMs: e.CITRIX_REQUEST_TIMEOUT_MS,
      maxConnections: e.CITRIX_MAX_CONNECTIONS,
      userAgent: `catalog-rollout/${PRODUCT_VERSION}`,
    },
    postRetrySettleMs: e.CITRIX_POST_RETRY_SETTLE_MS,
    maxRequestsPerSecond: e.CITRIX_MAX_REQUESTS_PER_SECOND || undefined,
  };
}

/** The Temporal connection settings shared by the worker and the starter. */
export function loadTemporalConfig(rawEnv: Env = process.env): TemporalConfig {
  const problems: string[] = [];
  const env = withSecretFiles(rawEnv, ['TEMPORAL_API_KEY'], problems);
  const temporal = parseTemporal(env, problems);
  if (problems.length || !temporal) throw new ConfigError(problems);
  return temporal;
}

/** The Citrix Cloud settings: needed by the worker, and by the starter's listing commands. */
export function loadCitrixConfig(rawEnv: Env = process.env): CitrixConfig {
  const problems: string[] = [];
  const env = withSecretFiles(rawEnv, ['CITRIX_CLIENT_SECRET'], problems);
  const citrix = parseCitrix(env, problems);
  if (problems.length || !citrix) throw new ConfigError(problems);
  return citrix;
}

/** With payload encryption, a prebuilt bundle must encode workflow failures too, or their messages stay plaintext. */
function checkBundleEncodesFailures(bundlePath: string, problems: string[]): void {
  const code = readFileOrProblem(bundlePath, 'WORKFLOW_BUNDLE_PATH', problems);
  if (!code || bundleEncodesFailures(code.toString('utf8'))) return;
  problems.push(
    `WORKFLOW_BUNDLE_PATH: ${bundlePath} does not encode workflow failures, whose messages would reach the history in ` +
      `plaintext under ${CODEC_KEYS_VARIABLE}: use workflow-bundle-encrypted.js, which npm run build writes beside it`,
  );
}

/** Everything the worker needs, checked at once so that one message lists every problem. */
export function loadWorkerConfig(rawEnv: Env = process.env): WorkerConfig {
  const problems: string[] = [];
  const env = withSecretFiles(rawEnv, [...SECRET_VARIABLES], problems);
  const temporal = parseTemporal(env, problems);
  const citrix = parseCitrix(env, problems);
  const worker = workerEnvSchema.safeParse(env);
  if (!worker.success) problems.push(...issuesOf(worker.error));
  const deploymentVersion = worker.success
    ? deploymentVersionOf(worker.data.TEMPORAL_DEPLOYMENT_NAME, worker.data.TEMPORAL_WORKER_BUILD_ID, problems)
    : undefined;
  if (temporal?.payloadCodecKeys && worker.success && worker.data.WORKFLOW_BUNDLE_PATH) {
    checkBundleEncodesFailures(worker.data.WORKFLOW_BUNDLE_PATH, problems);
  }
  if (problems.length || !temporal || !citrix || !worker.success) throw new ConfigError(problems);
  return {
    temporal,
    citrix,
    maxConcurrentActivities: worker.data.WORKER_MAX_CONCURRENT_ACTIVITIES,
    maxConcurrentWorkflowTasks: worker.data.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
    maxCachedWorkflows: worker.data.WORKER_MAX_CACHED_WORKFLOWS,
    shutdownGraceMs: worker.data.WORKER_SHUTDOWN_GRACE_MS,
    pollLoopMaxIntervalMs: worker.data.WORKER_POLL_LOOP_MAX_INTERVAL_MS,
    progressReportIntervalMs: worker.data.WORKER_PROGRESS_REPORT_INTERVAL_MS,
    workflowBundlePath: worker.data.WORKFLOW_BUNDLE_PATH,
    rolloutWebhookUrl: worker.data.ROLLOUT_WEBHOOK_URL,
    rolloutAnalysisUrl: worker.data.ROLLOUT_ANALYSIS_URL,
    logLevel: worker.data.LOG_LEVEL,
    metricsBindAddress: worker.data.METRICS_BIND_ADDRESS,
    healthBindAddress: worker.data.HEALTH_BIND_ADDRESS,
    deploymentVersion,
  };
}

/** Secrets that may also be given as `<NAME>_FILE`. */
export const SECRET_VARIABLES = [
  'TEMPORAL_API_KEY',
  'CITRIX_CLIENT_SECRET',
  'ROLLOUT_WEBHOOK_URL',
  'ROLLOUT_ANALYSIS_URL',
] as const;

/** Every environment variable the worker reads, `_FILE` forms included. */
export function workerConfigVariables(): string[] {
  return [
    ...TEMPORAL_VARIABLES,
    ...Object.keys(citrixEnvSchema.shape),
    ...Object.keys(workerEnvSchema.shape),
    ...SECRET_VARIABLES.map((name) => `${name}_FILE`),
  ];
}

export interface CodecServerConfig {
  keys: CodecKeyRing;
  host: string;
  port: number;
  /** Checked on every request as `Authorization: Bearer <token>`. */
  authToken?: string;
  corsOrigins: string[];
}

/** The codec server's settings: the worker's key file, where to listen, who may call it. */
export function loadCodecServerConfig(rawEnv: Env = process.env): CodecServerConfig {
  const problems: string[] = [];
  const env = withSecretFiles(rawEnv, ['CODEC_SERVER_AUTH_TOKEN'], problems);
  let keys: CodecKeyRing | undefined;
  const keysFile = env[CODEC_KEYS_VARIABLE];
  if (!keysFile) problems.push(`${CODEC_KEYS_VARIABLE} is required: the file of keyId=base64key lines the worker uses`);
  else {
    try {
      keys = readCodecKeyFile(keysFile, CODEC_KEYS_VARIABLE);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  let bind = { host: '127.0.0.1', port: 8888 };
  if (env.CODEC_SERVER_BIND_ADDRESS) {
    try {
      bind = parseBindAddress(env.CODEC_SERVER_BIND_ADDRESS);
    } catch {
      problems.push('CODEC_SERVER_BIND_ADDRESS must be host:port (for example 127.0.0.1:8888)');
    }
  }
  const authToken = env.CODEC_SERVER_AUTH_TOKEN || undefined;
  if (!authToken && !isLoopbackHost(bind.host)) {
    problems.push(
      `CODEC_SERVER_BIND_ADDRESS=${env.CODEC_SERVER_BIND_ADDRESS} is reachable from other hosts: ` +
        'set CODEC_SERVER_AUTH_TOKEN_FILE, or anyone who reaches it can decrypt',
    );
  }
  const corsOrigins = (env.CODEC_SERVER_CORS_ORIGIN ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  for (const origin of corsOrigins) {
    if (!/^https?:\/\/[^/]+$/.test(origin)) {
      problems.push(`CODEC_SERVER_CORS_ORIGIN: "${origin}" is not an origin such as http://localhost:8233`);
    }
  }
  if (problems.length || !keys) throw new ConfigError(problems);
  return { keys, ...bind, authToken, corsOrigins };
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
