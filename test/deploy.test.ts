import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { SECRET_VARIABLES, workerConfigVariables } from '../src/config';

const ROOT = path.resolve(__dirname, '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

interface ComposeService {
  image?: string;
  build?: unknown;
  profiles?: string[];
  ports?: (string | number | { host_ip?: string; published?: string | number; target?: number })[];
  expose?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string; required?: boolean }>;
  healthcheck?: { test: string[] | string };
  secrets?: string[];
  command?: string[] | string;
  entrypoint?: string[];
  volumes?: string[];
  stop_grace_period?: string;
}

const compose = parse(read('docker-compose.yml')) as {
  services: Record<string, ComposeService>;
  secrets: Record<string, { file: string }>;
};
const services = compose.services;
const known = new Set(workerConfigVariables());
/** A variable holding a secret, or the name of one. */
const SECRET_NAME = /SECRET|PASSWORD|PWD|API_KEY|TOKEN|WEBHOOK/;
/** A value that is a reference (`${VAR}`, `${VAR:-}` or `${VAR:?message}`) or a file path, not a literal. */
const isReference = (value: string) => /^\$\{[A-Z0-9_]+(:[-?][^}]*)?\}$/.test(value) || value.startsWith('/');

describe('docker-compose.yml', () => {
  test('runs PostgreSQL, the Temporal server, its set-up jobs, the UI on 8080 and the worker', () => {
    assert.match(services.postgresql!.image!, /^postgres:16/);
    assert.match(services['temporal-schema']!.image!, /^temporalio\/admin-tools:/);
    assert.match(services.temporal!.image!, /^temporalio\/server:/);
    assert.deepEqual(services.temporal!.ports, ['127.0.0.1:7233:7233']);
    assert.match(services['temporal-ui']!.image!, /^temporalio\/ui:/);
    assert.deepEqual(services['temporal-ui']!.ports, ['127.0.0.1:8080:8080']);
    assert.ok(services.worker!.build, 'the worker is built from the Dockerfile');
    assert.equal(services.worker!.ports, undefined, 'no host ports: --scale worker=N must not clash');
    assert.deepEqual(services.worker!.expose, ['9464', '8081']);
  });

  test('publishes every port on 127.0.0.1 only: Temporal, its UI and Prometheus have no authentication', () => {
    // `[HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTOCOL]`, where HOST_PORT may be `${VAR:-default}`; IPv6 in brackets.
    const hostIp = (entry: string) => /^(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]*\]):(?=.+:)/.exec(entry)?.[1];
    let published = 0;
    for (const [name, service] of Object.entries(services)) {
      for (const entry of service.ports ?? []) {
        published++;
        const ip = typeof entry === 'object' ? entry.host_ip : hostIp(String(entry));
        assert.equal(ip, '127.0.0.1', `${name} publishes ${JSON.stringify(entry)} beyond loopback`);
      }
    }
    assert.ok(published >= 3, 'Temporal, its UI and Prometheus are published');
    assert.match(read('docker-compose.yml'), /no authentication[\s\S]*reverse proxy/);
  });

  test('the simulator passes --allow-remote exactly when it listens beyond loopback', () => {
    const command = services.simulator!.command as string[];
    const at = command.indexOf('--host');
    const host = at < 0 ? '127.0.0.1' : (command[at + 1] ?? '');
    const loopback = /^(127(\.\d{1,3}){3}|::1|localhost)$/i.test(host);
    assert.equal(command.includes('--allow-remote'), !loopback, `--host ${host}`);
    assert.equal(services.simulator!.ports, undefined, 'the simulator is reached on the compose network only');
    assert.doesNotMatch(String(services.simulator!.healthcheck!.test), /__admin/, 'the admin API needs a token');
  });

  test('comes up in order: every dependency waits on a health check or a finished set-up job', () => {
    const expected: Record<string, Record<string, string>> = {
      'temporal-schema': { postgresql: 'service_healthy' },
      temporal: { 'temporal-schema': 'service_completed_successfully' },
      'temporal-setup': { temporal: 'service_healthy' },
      'temporal-ui': { temporal: 'service_healthy' },
      worker: { 'temporal-setup': 'service_completed_successfully', simulator: 'service_healthy' },
    };
    for (const [name, dependencies] of Object.entries(expected)) {
      for (const [dependency, condition] of Object.entries(dependencies)) {
        assert.equal(services[name]!.depends_on?.[dependency]?.condition, condition, `${name} → ${dependency}`);
        assert.ok(services[dependency]!.healthcheck || condition === 'service_completed_successfully');
      }
    }
    assert.equal(
      services.worker!.depends_on!.simulator!.required,
      false,
      'the simulator only exists in --profile demo',
    );
    for (const name of ['postgresql', 'temporal', 'temporal-ui', 'worker', 'simulator']) {
      assert.ok(services[name]!.healthcheck, `${name} has a health check`);
    }
    assert.match(String(services.worker!.healthcheck!.test), /8081\/readyz/);
  });

  test('sets Temporal up with the scripts in deploy/temporal, which the production-stack test runs too', () => {
    for (const [job, script] of [
      ['temporal-schema', 'setup-schema.sh'],
      ['temporal-setup', 'setup-namespace.sh'],
    ] as const) {
      assert.deepEqual(services[job]!.volumes, ['./deploy/temporal:/etc/catalog-rollout:ro']);
      assert.deepEqual(services[job]!.entrypoint, ['/bin/sh', `/etc/catalog-rollout/${script}`]);
    }
    const schema = read('deploy/temporal/setup-schema.sh');
    assert.match(schema, /schema=\$\{SCHEMA_DIR:-\/etc\/temporal\/schema\/postgresql\/v12\}/);
    assert.match(schema, /update-schema -d "\$schema\/\$dir\/versioned"/);
  });

  test('registers the CatalogId, ImageId, RolloutId and RolloutPhase search attributes as Keyword', () => {
    const script = read('deploy/temporal/setup-namespace.sh');
    assert.match(script, /for name in CatalogId ImageId RolloutId RolloutPhase; do/);
    assert.match(script, /temporal operator search-attribute create -n "\$namespace" --name "\$name" --type Keyword/);
  });

  test('configures the worker only with variables its configuration schema knows', () => {
    const environment = services.worker!.environment!;
    for (const name of Object.keys(environment)) assert.ok(known.has(name), `${name} is not a worker setting`);
    for (const name of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_TASK_QUEUE', 'CITRIX_CUSTOMER_ID']) {
      assert.ok(name in environment, `${name} is passed to the worker`);
    }
    assert.equal(environment.CITRIX_CLIENT_SECRET_FILE, '/run/secrets/citrix_client_secret');
    assert.deepEqual(services.worker!.secrets, ['citrix_client_secret']);
    assert.match(compose.secrets.citrix_client_secret!.file, /^\$\{CITRIX_CLIENT_SECRET_PATH:-\.\/secrets\//);
    assert.equal(environment.METRICS_BIND_ADDRESS, '0.0.0.0:9464');
    assert.equal(environment.HEALTH_BIND_ADDRESS, '0.0.0.0:8081');
  });

  test('inlines no secret value: secrets come from .env interpolation or Docker secret files', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [variable, value] of Object.entries(service.environment ?? {})) {
        if (SECRET_NAME.test(variable)) {
          assert.ok(isReference(String(value)), `${name}.${variable} holds a literal value`);
        }
      }
    }
    for (const secret of SECRET_VARIABLES) {
      assert.ok(!(secret in services.worker!.environment!), `${secret} is passed as a file, not as a value`);
    }
  });

  test('puts the simulator and a Prometheus that scrapes every worker replica behind profiles', () => {
    assert.deepEqual(services.simulator!.profiles, ['demo']);
    assert.deepEqual(services.simulator!.command!.slice(0, 4), [
      'node',
      'lib/src/simulator/main.js',
      '--host',
      '0.0.0.0',
    ]);
    assert.ok(services.prometheus!.profiles!.includes('metrics'));
    const prometheus = parse(read('deploy/prometheus/prometheus.yml'));
    assert.deepEqual(prometheus.scrape_configs[0].dns_sd_configs[0], {
      names: ['worker'],
      type: 'A',
      port: 9464,
      refresh_interval: '15s',
    });
    const demo = read('deploy/demo.env');
    assert.match(demo, /^CITRIX_API_BASE_URL=http:\/\/simulator:8787\/catalogservice$/m);
    assert.match(demo, /^COMPOSE_PROFILES=demo$/m);
  });

  test('`docker compose config` accepts the file, where the Compose plugin is installed', async (t) => {
    const run = promisify(execFile);
    try {
      await run('docker', ['compose', 'version']);
    } catch {
      t.skip('the docker client here has no compose plugin');
      return;
    }
    const { stdout } = await run('docker', ['compose', '--env-file', 'deploy/demo.env', 'config', '--quiet'], {
      cwd: ROOT,
    });
    assert.equal(stdout, '');
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');

  test('builds in stages and ships production dependencies, the compiled code and the prebuilt bundle', () => {
    const stages = dockerfile.split(/^FROM /m).slice(1);
    assert.equal(stages.length, 2);
    const final = stages[1]!;
    assert.match(stages[0]!, /RUN npm run build/);
    assert.match(final, /RUN npm ci --omit=dev/);
    assert.match(final, /ENV NODE_ENV=production/);
    assert.match(final, /COPY --from=build \/app\/lib\/workflow-bundle\.js/);
    assert.match(final, /WORKFLOW_BUNDLE_PATH=\/app\/lib\/workflow-bundle\.js/);
    assert.match(final, /^USER node$/m);
    assert.match(final, /^HEALTHCHECK /m);
    assert.match(final, /^CMD \["node", "lib\/src\/worker\.js"\]$/m, 'node is PID 1 and receives SIGTERM');
    assert.match(
      dockerfile,
      /^ARG NODE_IMAGE=node:\d+(\.\d+){0,2}-bookworm-slim(@sha256:[0-9a-f]{64})?$/m,
      'Debian, not Alpine: the core bridge needs glibc',
    );
  });

  test('keeps secrets and local state out of the build context', () => {
    const ignored = read('.dockerignore').split('\n');
    for (const entry of ['.env', 'secrets', 'node_modules', 'lib']) assert.ok(ignored.includes(entry), entry);
  });
});

describe('deploy/kubernetes', () => {
  const documents = parseAllDocuments(read('deploy/kubernetes/worker.yaml')).map((doc) => doc.toJS());
  const byKind = (kind: string) => documents.find((doc) => doc.kind === kind);

  test('runs the worker as several replicas with resources, probes and secrets mounted as files', () => {
    const deployment = byKind('Deployment');
    assert.ok(deployment.spec.replicas >= 2);
    const pod = deployment.spec.template.spec;
    const [container] = pod.containers;
    assert.ok(
      container.resources.requests.cpu && container.resources.requests.memory && container.resources.limits.memory,
    );
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(pod.securityContext.runAsNonRoot, true);
    const grace = Number(byKind('ConfigMap').data.WORKER_SHUTDOWN_GRACE_MS);
    assert.ok(pod.terminationGracePeriodSeconds * 1000 > grace, 'Kubernetes waits longer than the worker grace period');
    const mounts = container.volumeMounts.map((m: { mountPath: string }) => m.mountPath);
    const env = Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    assert.ok(mounts.some((m: string) => env.CITRIX_CLIENT_SECRET_FILE.startsWith(m)));
    const secretVolumes = pod.volumes.filter((v: { secret?: unknown }) => v.secret);
    assert.ok(secretVolumes.length >= 1);
  });

  test('configures only known settings and inlines no secret value', () => {
    const config = byKind('ConfigMap').data as Record<string, string>;
    const container = byKind('Deployment').spec.template.spec.containers[0];
    const names = [...Object.keys(config), ...container.env.map((e: { name: string }) => e.name)];
    for (const name of names) assert.ok(known.has(name), `${name} is not a worker setting`);
    for (const name of Object.keys(config)) assert.ok(!SECRET_NAME.test(name), `${name} belongs in a Secret`);
    for (const e of container.env as { name: string; value?: string }[]) {
      if (SECRET_NAME.test(e.name)) assert.ok(e.name.endsWith('_FILE') && e.value?.startsWith('/'), e.name);
    }
    assert.equal(byKind('Secret'), undefined, 'secrets are created with kubectl, not kept in the manifest');
  });
});

describe('README configuration table', () => {
  test('documents every setting the worker reads', () => {
    const readme = read('README.md');
    const section = readme.slice(
      readme.indexOf('## Configuration'),
      readme.indexOf('\n## ', readme.indexOf('## Configuration') + 5),
    );
    for (const name of workerConfigVariables()) {
      const documented =
        section.includes(`\`${name}\``) ||
        (name.endsWith('_FILE') && section.includes(`\`${name.slice(0, -5)}\` / \`_FILE\``));
      assert.ok(documented, `${name} is missing from the README's configuration table`);
    }
  });
});
