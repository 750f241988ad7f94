/**
 * The Temporal connection as every Temporal client reads it (@temporalio/envconfig): a profile of the TOML file that
 * `temporal config` writes, under the standard `TEMPORAL_*` variables, under the CLI's flags.
 */
import { type ClientConfigProfile, type ConfigDataSource, loadClientConfigProfile } from '@temporalio/envconfig';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { z } from 'zod';
import { CODEC_KEYS_VARIABLE, type CodecKeyRing, readCodecKeyFile } from '../codec/keys';
import { DEFAULT_TASK_QUEUE } from '../shared';
import { type Env, bool, emptyAsUndefined, issuesOf, readFileOrProblem } from './values';

/** Where a Temporal client connects when neither flags, environment nor profile say. */
export const TEMPORAL_DEFAULTS = { address: 'localhost:7233', namespace: 'default' } as const;

/** This project's earlier names of standard variables, still read for one release, each with its standard name. */
export const DEPRECATED_TEMPORAL_VARIABLES = {
  TEMPORAL_TLS_CERT_PATH: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  TEMPORAL_TLS_KEY_PATH: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
  TEMPORAL_TLS_SERVER_CA_PATH: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
} as const;

/** The standard variables, as envconfig (and the Temporal CLI) read them. */
export const STANDARD_TEMPORAL_VARIABLES = [
  'TEMPORAL_CONFIG_FILE',
  'TEMPORAL_PROFILE',
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_CERT_DATA',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_DATA',
  'TEMPORAL_TLS_SERVER_NAME',
] as const;

const temporalEnvSchema = z.object({
  TEMPORAL_TASK_QUEUE: z.preprocess(emptyAsUndefined, z.string().default(DEFAULT_TASK_QUEUE)),
  TEMPORAL_TLS: bool,
  [CODEC_KEYS_VARIABLE]: z.preprocess(emptyAsUndefined, z.string().optional()),
});

/** Every variable the Temporal connection is read from. */
export const TEMPORAL_VARIABLES = [
  ...STANDARD_TEMPORAL_VARIABLES,
  ...Object.keys(DEPRECATED_TEMPORAL_VARIABLES),
  ...Object.keys(temporalEnvSchema.shape),
];

export interface TemporalConfig {
  address: string;
  namespace: string;
  taskQueue: string;
  apiKey?: string;
  tls?: TLSConfig | boolean;
  /** gRPC headers of the profile (`grpc_meta`) or `TEMPORAL_GRPC_META_*`. */
  metadata?: Record<string, string>;
  /** Settings that work but should change (an old variable name): the worker logs them, the CLI prints them. */
  warnings: string[];
  /** Payload encryption keys (`PAYLOAD_CODEC_KEYS_FILE`); payloads are plaintext without them. */
  payloadCodecKeys?: CodecKeyRing;
}

type TlsFile = 'clientCert' | 'clientKey' | 'serverCACert';

const TLS_FILES: Record<TlsFile, { variable: string; tomlKey: string; deprecated: string }> = {
  clientCert: { variable: 'TEMPORAL_TLS_CLIENT_CERT', tomlKey: 'client_cert', deprecated: 'TEMPORAL_TLS_CERT_PATH' },
  clientKey: { variable: 'TEMPORAL_TLS_CLIENT_KEY', tomlKey: 'client_key', deprecated: 'TEMPORAL_TLS_KEY_PATH' },
  serverCACert: {
    variable: 'TEMPORAL_TLS_SERVER_CA_CERT',
    tomlKey: 'server_ca_cert',
    deprecated: 'TEMPORAL_TLS_SERVER_CA_PATH',
  },
};

/**
 * The environment as envconfig should see it: no empty values (an empty variable means unset here, as in compose
 * files), old names mapped to the standard ones, and TEMPORAL_TLS in the one spelling envconfig reads.
 */
function standardEnv(env: Env, tlsEnabled: boolean | undefined, problems: string[], warnings: string[]) {
  const standard: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value) standard[name] = value;
  for (const [old, current] of Object.entries(DEPRECATED_TEMPORAL_VARIABLES)) {
    if (!standard[old]) continue;
    if (standard[current]) {
      problems.push(`${old} and ${current} are both set: keep ${current}`);
      continue;
    }
    standard[current] = standard[old];
    warnings.push(`${old} is deprecated and will be removed in the next release: rename it to ${current}`);
  }
  if (tlsEnabled === undefined) delete standard.TEMPORAL_TLS;
  else standard.TEMPORAL_TLS = String(tlsEnabled);
  return standard;
}

/** The profile (file, then environment over it), or a problem naming the variable or file at fault. */
function loadProfile(env: Record<string, string>, problems: string[]): ClientConfigProfile | undefined {
  const file = env.TEMPORAL_CONFIG_FILE;
  let configSource: ConfigDataSource | undefined;
  if (file) {
    const data = readFileOrProblem(file, 'TEMPORAL_CONFIG_FILE', problems);
    if (!data) return undefined;
    configSource = { data };
  }
  const where = file
    ? `TEMPORAL_CONFIG_FILE (${file})`
    : 'the Temporal config file (~/.config/temporalio/temporal.toml)';
  try {
    return loadClientConfigProfile({ configSource, overrideEnvVars: env });
  } catch (error) {
    const message = (error as Error).message;
    problems.push(
      /^Profile '.*' not found/.test(message)
        ? `TEMPORAL_PROFILE: there is no profile "${env.TEMPORAL_PROFILE}" in ${where}`
        : `${where} cannot be read as TOML: ${message.split('\n')[0]}`,
    );
    return undefined;
  }
}

/** Which setting a TLS file came from, for messages: the variable when the environment gave it, else the profile. */
function tlsSettingName(file: TlsFile, env: Env, source: ConfigDataSource | undefined): string {
  const { variable, tomlKey, deprecated } = TLS_FILES[file];
  const kind = source && 'data' in source ? 'DATA' : 'PATH';
  if (kind === 'PATH' && env[deprecated]) return deprecated;
  if (env[`${variable}_${kind}`] || !source) return `${variable}_${kind}`;
  return `tls.${tomlKey}_${kind.toLowerCase()} of profile "${env.TEMPORAL_PROFILE ?? 'default'}"`;
}

function readTlsFile(
  file: TlsFile,
  source: ConfigDataSource | undefined,
  env: Env,
  problems: string[],
): Buffer | undefined {
  if (!source) return undefined;
  if ('data' in source) return Buffer.from(source.data);
  return readFileOrProblem(source.path, tlsSettingName(file, env, source), problems);
}

function tlsOf(profile: ClientConfigProfile, env: Env, problems: string[]): TLSConfig | boolean | undefined {
  const settings = profile.tls;
  if (!settings) return undefined;
  const { clientCert, clientKey, serverCACert, serverName } = settings;
  if (settings.disabled) {
    if (clientCert || clientKey || serverCACert || serverName) {
      problems.push('TEMPORAL_TLS is false but TEMPORAL_TLS_* settings are given: remove one or the other');
    }
    // An API key normally turns TLS on; "false" keeps it off (a plaintext proxy inside a trusted network).
    return profile.apiKey ? false : undefined;
  }
  if (Boolean(clientCert) !== Boolean(clientKey)) {
    problems.push(
      `${tlsSettingName('clientCert', env, clientCert)} and ${tlsSettingName('clientKey', env, clientKey)} ` +
        'go together (mTLS needs both)',
    );
  }
  const tls: TLSConfig = {};
  if (serverName) tls.serverNameOverride = serverName;
  const ca = readTlsFile('serverCACert', serverCACert, env, problems);
  if (ca) tls.serverRootCACertificate = ca;
  const crt = readTlsFile('clientCert', clientCert, env, problems);
  const key = readTlsFile('clientKey', clientKey, env, problems);
  if (crt && key) tls.clientCertPair = { crt, key };
  return tls;
}

/** The Temporal connection, or `undefined` with every problem added to `problems`. */
export function parseTemporal(env: Env, problems: string[]): TemporalConfig | undefined {
  const parsed = temporalEnvSchema.safeParse(env);
  if (!parsed.success) {
    problems.push(...issuesOf(parsed.error));
    return undefined;
  }
  const warnings: string[] = [];
  const standard = standardEnv(env, parsed.data.TEMPORAL_TLS, problems, warnings);
  const profile = loadProfile(standard, problems);
  if (!profile) return undefined;
  const config: TemporalConfig = {
    address: profile.address || TEMPORAL_DEFAULTS.address,
    namespace: profile.namespace || TEMPORAL_DEFAULTS.namespace,
    taskQueue: parsed.data.TEMPORAL_TASK_QUEUE,
    warnings,
  };
  if (profile.apiKey) config.apiKey = profile.apiKey;
  const tls = tlsOf(profile, standard, problems);
  if (tls !== undefined) config.tls = tls;
  if (profile.grpcMeta && Object.keys(profile.grpcMeta).length) config.metadata = profile.grpcMeta;
  const keysFile = parsed.data[CODEC_KEYS_VARIABLE];
  if (keysFile) {
    try {
      config.payloadCodecKeys = readCodecKeyFile(keysFile, CODEC_KEYS_VARIABLE);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  return config;
}
