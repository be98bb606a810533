import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { configSchemas } from '@saas/config';
import { METRICS_PORT_OFFSETS } from '@saas/http';
import { SERVICES, topologyNames } from '@saas/messaging';
import { definitionsOf } from './support/rabbit-definitions';
import { ROOT, composeValidator, formatErrors, k8sValidators, readText, yamlDocuments } from './support/schemas';

const APPS = ['api-gateway', 'identity-service', 'webhook-gateway', 'integration-worker'] as const;
const HTTP_APPS = ['api-gateway', 'identity-service', 'webhook-gateway'];
/** The apps api-gateway fronts: they take X-Forwarded-For from it alone. */
const BEHIND_GATEWAY = ['identity-service', 'webhook-gateway', 'integration-worker'] as const;
const PORTS: Record<string, number> = { 'api-gateway': 8000, 'identity-service': 3001, 'webhook-gateway': 3002, 'integration-worker': 3003 };

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function buildOutput(app: string, entry: string): string {
  const project = JSON.parse(readText(`apps/${app}/project.json`));
  const options = project.targets.build.options;
  const entries: string[] = [options.main, ...(options.additionalEntryPoints ?? [])];
  const source = entries.find((e) => path.basename(e, '.ts') === entry);
  if (!source) throw new Error(`${app} builds no ${entry} entry point (${entries.join(', ')})`);
  return `${options.outputPath}/${entry}.js`;
}

describe('docker-compose.yml', () => {
  const compose = yamlDocuments('docker-compose.yml')[0] as Obj;
  const services = compose['services'] as Obj;

  it('when validated against the Compose Specification schema, then it conforms', () => {
    const validate = composeValidator();
    expect(validate(compose) ? '' : formatErrors(validate.errors)).toBe('');
  });

  it('when the stack starts, then PostgreSQL, Redis and RabbitMQ (with its management UI on 15672) are healthy before anything uses them', () => {
    for (const name of ['postgres', 'redis', 'rabbitmq']) expect(services[name].healthcheck?.test).toBeDefined();
    expect(services.rabbitmq.image).toMatch(/^rabbitmq:3\.\d+-management$/);
    expect(services.rabbitmq.ports.some((p: string) => String(p).endsWith(':15672'))).toBe(true);
  });

  it('when `npm start` runs on the host with its default URLs, then the compose backing services accept them as they are', () => {
    const defaults = (schema: keyof typeof configSchemas, name: string) =>
      new URL(String((configSchemas[schema].describe().keys as Record<string, { flags?: { default?: unknown } }>)[name].flags?.default));
    const published = (service: string) => (services[service].ports as string[]).map(String);
    const admin = defaults('migrate', 'DATABASE_ADMIN_URL');
    expect(published('postgres')).toContain(`127.0.0.1:${admin.port}:5432`);
    expect(admin.password).toBe('');
    expect(services.postgres.environment.POSTGRES_HOST_AUTH_METHOD).toMatch(/^\$\{POSTGRES_HOST_AUTH_METHOD:-trust\}$/);
    expect(services.postgres.environment.POSTGRES_DB).toBe(admin.pathname.slice(1));
    const redis = defaults('identity-service', 'REDIS_URL');
    expect(published('redis')).toContain(`127.0.0.1:${redis.port}:6379`);
    const rabbit = defaults('identity-service', 'RABBITMQ_URL');
    expect(published('rabbitmq')).toContain(`127.0.0.1:${rabbit.port}:5672`);
    expect(services.rabbitmq.environment.RABBITMQ_DEFAULT_USER).toBe(`\${RABBITMQ_USER:-${rabbit.username}}`);
    expect(services.rabbitmq.environment.RABBITMQ_DEFAULT_PASS).toBe(`\${RABBITMQ_PASSWORD:-${rabbit.password}}`);
    // RabbitMQ refuses guest from outside the container unless loopback_users is emptied.
    expect(services.rabbitmq.environment.RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS).toContain('loopback_users []');
  });

  it('when the apps start, then the migrate step (the identity build\'s migrate entry) has completed and their dependencies are healthy', () => {
    expect(services.migrate.command.join(' ')).toContain(`deploy/node-flags) ${buildOutput('identity-service', 'migrate')}`);
    expect(services.migrate.depends_on.postgres.condition).toBe('service_healthy');
    for (const app of APPS.filter((a) => a !== 'api-gateway')) {
      const deps = services[app].depends_on;
      expect({ app, migrate: deps.migrate?.condition }).toEqual({ app, migrate: 'service_completed_successfully' });
      for (const backing of ['postgres', 'redis', 'rabbitmq']) expect({ app, backing, condition: deps[backing]?.condition }).toEqual({ app, backing, condition: 'service_healthy' });
    }
    for (const app of APPS.filter((a) => a !== 'api-gateway')) expect(services['api-gateway'].depends_on[app]?.condition).toBe('service_healthy');
  });

  it('when an app container runs, then it is built from deploy/Dockerfile for that app and health-checked on its own port\'s /readyz', () => {
    for (const app of APPS) {
      const service = services[app];
      expect({ app, dockerfile: service.build.dockerfile, arg: service.build.args.APP }).toEqual({ app, dockerfile: 'deploy/Dockerfile', arg: app });
      expect(service.healthcheck.test).toEqual(['CMD', 'node', 'deploy/healthcheck.cjs', '/readyz']);
      const portVar = { 'api-gateway': 'API_GATEWAY_PORT', 'identity-service': 'IDENTITY_SERVICE_PORT', 'webhook-gateway': 'WEBHOOK_GATEWAY_PORT', 'integration-worker': 'INTEGRATION_WORKER_PORT' }[app];
      expect(Number(service.environment[portVar])).toBe(PORTS[app]);
    }
  });

  it('when the apps run, then only api-gateway publishes a port; the services listen on the network and trust forwarded addresses from its range alone', () => {
    const [network] = compose['networks'].default.ipam.config;
    for (const app of BEHIND_GATEWAY) {
      const env = services[app].environment;
      expect({ app, ports: services[app].ports, bind: env.BIND_ADDRESS, trust: env.TRUST_PROXY }).toEqual({ app, ports: undefined, bind: '0.0.0.0', trust: network.subnet });
      expect(configSchemas[app].extract('TRUST_PROXY').validate(env.TRUST_PROXY).error).toBeUndefined();
    }
    expect(services['api-gateway'].ports).toEqual(['8000:8000']);
  });

  it('when api-gateway proxies, then it reaches each service by its compose name and port', () => {
    const env = services['api-gateway'].environment;
    expect(env.IDENTITY_SERVICE_URL).toBe('http://identity-service:3001');
    expect(env.WEBHOOK_GATEWAY_URL).toBe('http://webhook-gateway:3002');
    expect(env.INTEGRATION_WORKER_URL).toBe('http://integration-worker:3003');
  });
});

/** The Dockerfile as instructions, continuation lines joined, comments dropped. */
function dockerInstructions(text: string): { op: string; args: string }[] {
  return text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

describe('deploy/Dockerfile', () => {
  const instructions = dockerInstructions(readText('deploy/Dockerfile'));
  const stages: { name: string; from: string; body: { op: string; args: string }[] }[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const match = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      stages.push({ from: match![1], name: match![2] ?? String(stages.length), body: [] });
    } else if (stages.length) stages[stages.length - 1].body.push(ins);
  }
  const runtime = stages[stages.length - 1];

  it('when parsed, then it is multi-stage: npm ci, an nx build of the APP, production dependencies, a runtime stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    const runs = stages.flatMap((s) => s.body.filter((i) => i.op === 'RUN').map((i) => i.args));
    expect(runs.some((r) => /npm ci\b(?!.*--omit=dev)/.test(r))).toBe(true);
    expect(runs.some((r) => /nx run "?\$\{APP\}:build/.test(r))).toBe(true);
    expect(runs.some((r) => /npm ci .*--omit=dev/.test(r))).toBe(true);
    expect(runtime.body.some((i) => i.op === 'RUN' && /npm|nx/.test(i.args))).toBe(false);
  });

  it('when a stage copies from another, then that stage exists, and the runtime takes only built output and production modules', () => {
    const names = new Set(stages.map((s) => s.name));
    const copies = stages.flatMap((s) => s.body.filter((i) => i.op === 'COPY' && i.args.includes('--from=')));
    for (const copy of copies) expect(names).toContain(/--from=(\S+)/.exec(copy.args)![1]);
    const runtimeSources = runtime.body.filter((i) => i.op === 'COPY' && i.args.includes('--from=')).map((i) => i.args);
    expect(runtimeSources.some((a) => /--from=prod-deps .*node_modules/.test(a))).toBe(true);
    expect(runtimeSources.some((a) => /--from=build .*\/app\/dist\/apps\/\$\{APP\}/.test(a))).toBe(true);
  });

  it('when the runtime stage runs, then it runs as a non-root user and declares a HEALTHCHECK on /healthz', () => {
    const user = runtime.body.filter((i) => i.op === 'USER').pop();
    expect(user?.args).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(user!.args);
    const health = runtime.body.find((i) => i.op === 'HEALTHCHECK');
    expect(health?.args).toMatch(/CMD \["node", "deploy\/healthcheck\.cjs", "\/healthz"\]/);
  });

  it('when images are pinned, then no stage uses an untagged or latest base image', () => {
    const args = Object.fromEntries(instructions.filter((i) => i.op === 'ARG' && i.args.includes('=')).map((i) => i.args.split('=') as [string, string]));
    for (const stage of stages) {
      const image = stage.from.replace(/\$\{(\w+)\}/g, (_, n: string) => args[n] ?? '');
      if (stages.some((s) => s.name === image)) continue;
      expect(image).toMatch(/:[\w.-]+$/);
      expect(image).not.toMatch(/:latest$/);
    }
  });

  it('when files are copied from the repository, then they exist', () => {
    const local = stages.flatMap((s) => s.body.filter((i) => i.op === 'COPY' && !i.args.includes('--from=')));
    for (const copy of local) {
      const parts = copy.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const source of parts.slice(0, -1)) expect({ source, exists: existsSync(path.join(ROOT, source)) }).toEqual({ source, exists: true });
    }
  });

  it('when only what the build stage copies is present, then nx builds every app\'s entry points', () => {
    const build = stages.find((s) => s.name === 'build')!;
    const sources = [...stages.find((s) => s.name === build.from)!.body, ...build.body]
      .filter((i) => i.op === 'COPY' && !i.args.includes('--from='))
      .flatMap((i) => i.args.split(/\s+/).filter((p) => !p.startsWith('--')).slice(0, -1));
    const context = mkdtempSync(path.join(tmpdir(), 'docker-build-'));
    try {
      for (const source of sources) cpSync(path.join(ROOT, source), path.join(context, source), { recursive: true });
      // The deps stage's `npm ci` result, without reinstalling it.
      symlinkSync(path.join(ROOT, 'node_modules'), path.join(context, 'node_modules'));
      const result = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '--projects', APPS.join(','), '--skip-nx-cache', '--outputStyle=static'], {
        cwd: context,
        env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
        encoding: 'utf8',
        timeout: 150000,
      });
      expect({ status: result.status, output: result.status === 0 ? '' : `${result.stdout}${result.stderr}`.slice(-3000) }).toEqual({ status: 0, output: '' });
      for (const app of APPS) expect(existsSync(path.join(context, buildOutput(app, 'main')))).toBe(true);
      expect(existsSync(path.join(context, buildOutput('identity-service', 'migrate')))).toBe(true);
    } finally {
      rmSync(context, { recursive: true, force: true });
    }
  }, 180000);

  it('when the CMD starts the app, then node is exec\'d so SIGTERM reaches it', () => {
    const cmd = runtime.body.filter((i) => i.op === 'CMD').pop();
    expect(cmd?.args).toMatch(/exec node \$\(grep -v '\^#' deploy\/node-flags\) dist\/apps\/\$\{APP\}\/main\.js/);
    for (const app of APPS) expect(buildOutput(app, 'main')).toBe(`dist/apps/${app}/main.js`);
    const copied = runtime.body.filter((i) => i.op === 'COPY').map((i) => i.args);
    expect(copied.some((args) => /deploy\/node-flags/.test(args))).toBe(true);
  });

  it('when node starts with deploy/node-flags, then every flag is accepted and the heap is capped as documented', () => {
    const flags = readText('deploy/node-flags').split('\n').filter((line) => line.trim() && !line.startsWith('#'));
    // Without the runner's NODE_OPTIONS (Nx sets some), so only deploy/node-flags apply.
    const { NODE_OPTIONS: _runnerOptions, ...env } = process.env;
    const result = spawnSync(process.execPath, [...flags, '-e', "process.stdout.write(String(require('v8').getHeapStatistics().heap_size_limit / 1048576))"], { encoding: 'utf8', env });
    expect({ stderr: result.stderr, stdout: result.stdout }).toEqual({ stderr: '', stdout: expect.stringMatching(/^\d+(\.\d+)?$/) });
    const limitMb = Number(result.stdout);
    const oldSpaceMb = Number(/--max-old-space-size=(\d+)/.exec(flags.join(' '))?.[1]);
    expect(oldSpaceMb).toBeGreaterThan(0);
    // heap_size_limit = old space + the young generation's reserve
    expect(limitMb).toBeGreaterThanOrEqual(oldSpaceMb);
    expect(limitMb).toBeLessThan(oldSpaceMb + 100);
  });
});

describe('deploy/k8s', () => {
  const dir = 'deploy/k8s';
  const files = readdirSync(path.join(ROOT, dir)).filter((f) => f.endsWith('.yaml'));
  const docs = files.flatMap((file) => yamlDocuments(`${dir}/${file}`).map((doc) => ({ file, doc: doc as Obj })));
  const ofKind = (kind: string) => docs.filter((d) => d.doc['kind'] === kind).map((d) => d.doc);
  const deployment = (name: string) => ofKind('Deployment').find((d) => d.metadata.name === name)!;

  it('when every manifest is validated against its schema, then all conform', () => {
    const validators = k8sValidators();
    const problems = docs.flatMap(({ file, doc }) => {
      const key = `${doc['apiVersion']}/${doc['kind']}`;
      const validate = validators.get(key);
      if (!validate) return [`${file}: no schema for ${key}`];
      const name = doc['metadata']?.name ?? '';
      return validate(doc) ? [] : [`${file} ${key} ${name}:\n${formatErrors(validate.errors)}`];
    });
    expect(problems.join('\n')).toBe('');
  });

  it('when applied with kustomize, then every manifest is included except the migrate Job and the secret template, which are applied on their own', () => {
    const kustomization = docs.find((d) => d.file === 'kustomization.yaml')!.doc;
    const listed = new Set<string>(kustomization.resources);
    expect(files.filter((f) => !listed.has(f)).sort()).toEqual(['kustomization.yaml', 'migrate-job.yaml', 'secrets.template.yaml']);
    for (const resource of listed) expect(files).toContain(resource);
  });

  it.each(APPS)('when %s is deployed, then it is probed on /healthz and /readyz, limited, non-root and read-only, and shuts down gracefully', (app) => {
    const d = deployment(app);
    const pod = d.spec.template.spec;
    const [container] = pod.containers;
    expect(container.image).toMatch(new RegExp(`^saas-platform/${app}:`));
    expect(container.ports[0].containerPort).toBe(PORTS[app]);
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.startupProbe.httpGet.path).toBe('/healthz');
    // The gateway's own readiness must not follow its upstreams' (one failing service would empty every route).
    expect(container.readinessProbe.httpGet.path).toBe(app === 'api-gateway' ? '/healthz' : '/readyz');
    expect(container.resources.requests.cpu).toBeDefined();
    expect(container.resources.requests.memory).toBeDefined();
    expect(container.resources.limits.memory).toBeDefined();
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    const shutdownMs = Number(container.env?.find((e: Obj) => e.name === 'SHUTDOWN_TIMEOUT_MS')?.value ?? ofKind('ConfigMap')[0].data.SHUTDOWN_TIMEOUT_MS);
    const preStopSeconds = Number(container.lifecycle?.preStop?.exec?.command?.[1] ?? 0);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(shutdownMs / 1000 + preStopSeconds);
    expect(d.spec.selector.matchLabels).toEqual(expect.objectContaining({ 'app.kubernetes.io/name': app }));
    for (const [k, v] of Object.entries(d.spec.selector.matchLabels)) expect(d.spec.template.metadata.labels[k]).toBe(v);
  });

  it('when our pods are admitted, then each meets the restricted Pod Security Standard', () => {
    const pods = [...ofKind('Deployment'), ...ofKind('Job')].map((d) => ({ name: d.metadata.name, spec: d.spec.template.spec }));
    for (const { name, spec } of pods) {
      expect({ name, seccomp: spec.securityContext.seccompProfile?.type, nonRoot: spec.securityContext.runAsNonRoot }).toEqual({ name, seccomp: 'RuntimeDefault', nonRoot: true });
      for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
        expect({ name, container: c.name, escalation: c.securityContext?.allowPrivilegeEscalation, drop: c.securityContext?.capabilities?.drop }).toEqual({
          name,
          container: c.name,
          escalation: false,
          drop: ['ALL'],
        });
      }
    }
  });

  it.each(APPS)('when %s has a Service and a PodDisruptionBudget, then both select its pods', (app) => {
    const labels = deployment(app).spec.template.metadata.labels;
    const service = ofKind('Service').find((s) => s.metadata.name === app)!;
    for (const [k, v] of Object.entries(service.spec.selector)) expect(labels[k]).toBe(v);
    expect(service.spec.ports[0].targetPort).toBe(deployment(app).spec.template.spec.containers[0].ports[0].name);
    const pdb = ofKind('PodDisruptionBudget').find((p) => p.metadata.name === app)!;
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) expect(labels[k]).toBe(v);
  });

  it('when the HTTP services are under load, then an HPA scales each on CPU', () => {
    const hpas = ofKind('HorizontalPodAutoscaler');
    expect(hpas.map((h) => h.spec.scaleTargetRef.name).sort()).toEqual([...HTTP_APPS].sort());
    for (const hpa of hpas) expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
  });

  it('when the service queues fill up, then KEDA scales the worker on the depth of exactly the queues the services declare', () => {
    const [scaled] = ofKind('ScaledObject');
    expect(scaled.spec.scaleTargetRef.name).toBe('integration-worker');
    const names = topologyNames({ prefix: '', maxRetries: 3, backoffBase: 2 });
    expect(scaled.spec.triggers.map((t: Obj) => t.metadata.queueName).sort()).toEqual(SERVICES.map(names.serviceQueue).sort());
    const auths = new Set(ofKind('TriggerAuthentication').map((t) => t.metadata.name));
    for (const trigger of scaled.spec.triggers) expect(auths).toContain(trigger.authenticationRef.name);
    expect(deployment('integration-worker').spec.replicas).toBeUndefined();
  });

  it('when the migration Job runs, then it runs the identity image\'s migrate entry with the owner\'s credentials', () => {
    const [job] = ofKind('Job');
    const [container] = job.spec.template.spec.containers;
    expect(container.image).toMatch(/^saas-platform\/identity-service:/);
    expect(container.command.join(' ')).toContain(`deploy/node-flags) ${buildOutput('identity-service', 'migrate')}`);
    const secretKeys = ofKind('Secret')
      .filter((s) => container.envFrom.some((e: Obj) => e.secretRef?.name === s.metadata.name))
      .flatMap((s) => Object.keys(s.stringData));
    expect(secretKeys).toEqual(expect.arrayContaining(['DATABASE_ADMIN_URL', 'DATABASE_URL', 'SUPERADMIN_PASSWORD']));
  });

  it('when workloads read config and secrets, then every referenced ConfigMap and Secret is defined', () => {
    const defined = new Set([...ofKind('ConfigMap'), ...ofKind('Secret')].map((o) => o.metadata.name));
    const pods = [...ofKind('Deployment'), ...ofKind('Job')].map((d) => d.spec.template.spec);
    for (const pod of pods)
      for (const container of pod.containers)
        for (const source of container.envFrom ?? []) expect(defined).toContain(source.configMapRef?.name ?? source.secretRef?.name);
    for (const auth of ofKind('TriggerAuthentication')) for (const ref of auth.spec.secretTargetRef) expect(defined).toContain(ref.name);
  });

  /** The environment a container starts with: its ConfigMaps, then its own `env` (which wins). */
  const environmentOf = (container: Obj): Record<string, string> => ({
    ...Object.assign({}, ...(container.envFrom ?? []).map((e: Obj) => ofKind('ConfigMap').find((c) => c.metadata.name === e.configMapRef?.name)?.data ?? {})),
    ...Object.fromEntries((container.env ?? []).map((e: Obj) => [e.name, e.value])),
  });

  it.each(APPS)('when %s is deployed, then /metrics has a port of its own (METRICS_PORT + its offset) that Prometheus scrapes, and both listeners bind the pod\'s address', (app) => {
    const pod = deployment(app).spec.template;
    const [container] = pod.spec.containers;
    const env = environmentOf(container);
    const metricsPort = Number(env['METRICS_PORT']) + METRICS_PORT_OFFSETS[app];
    expect(container.ports.find((p: Obj) => p.name === 'metrics')?.containerPort).toBe(metricsPort);
    expect(pod.metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(metricsPort), 'prometheus.io/path': '/metrics' });
    expect({ bind: env['BIND_ADDRESS'], metrics: env['METRICS_BIND_ADDRESS'] }).toEqual({ bind: '0.0.0.0', metrics: '0.0.0.0' });
  });

  it.each(BEHIND_GATEWAY)('when %s reads forwarded client addresses, then it trusts the pod network, a value its config accepts', (app) => {
    const trust = environmentOf(deployment(app).spec.template.spec.containers[0])['TRUST_PROXY'];
    expect(trust).toMatch(/^\d+\.\d+\.\d+\.\d+\/\d+$/);
    expect(configSchemas[app].extract('TRUST_PROXY').validate(trust).error).toBeUndefined();
  });

  describe('NetworkPolicies', () => {
    const policies = ofKind('NetworkPolicy');
    const MONITORING = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }];
    const GATEWAY_PODS = [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'api-gateway' } } }];

    /** Whether a label selector matches these labels (matchLabels and the `In` expressions the manifests use). */
    const selects = (selector: Obj, labels: Record<string, string>) =>
      Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v) &&
      (selector.matchExpressions ?? []).every((e: Obj) => e.operator === 'In' && e.values.includes(labels[e.key]));

    /** The ingress rules of every policy selecting pods with these labels. */
    const ingressOf = (labels: Record<string, string>): Obj[] => policies.filter((p) => selects(p.spec.podSelector, labels)).flatMap((p) => p.spec.ingress ?? []);
    /** Those of them that admit the container port `port` (a rule without ports admits every port). */
    const rulesAdmitting = (labels: Record<string, string>, port: Obj): Obj[] =>
      ingressOf(labels).filter((rule) => !rule.ports || rule.ports.some((p: Obj) => p.port === port.name || p.port === port.containerPort));

    const portOf = (app: string, name: string) => deployment(app).spec.template.spec.containers[0].ports.find((p: Obj) => p.name === name);
    const labelsOf = (app: string) => deployment(app).spec.template.metadata.labels;

    it('when they are applied, then ingress to every pod of the namespace is denied unless a policy admits it', () => {
      expect(policies.filter((p) => Object.keys(p.spec.podSelector).length === 0 && p.spec.policyTypes.includes('Ingress') && !p.spec.ingress)).toHaveLength(1);
      for (const policy of policies) expect({ name: policy.metadata.name, types: policy.spec.policyTypes }).toEqual({ name: policy.metadata.name, types: ['Ingress'] });
    });

    it('when a client anywhere calls api-gateway, then its http port admits it', () => {
      expect(rulesAdmitting(labelsOf('api-gateway'), portOf('api-gateway', 'http')).some((rule) => !rule.from)).toBe(true);
    });

    it.each(BEHIND_GATEWAY)('when anything but api-gateway calls %s, then its http port does not admit it', (app) => {
      const rules = rulesAdmitting(labelsOf(app), portOf(app, 'http'));
      expect(rules.length).toBeGreaterThan(0);
      for (const rule of rules) expect(rule.from).toEqual(GATEWAY_PODS);
    });

    it.each(APPS)('when %s is scraped, then its metrics port admits the monitoring namespace only', (app) => {
      const rules = rulesAdmitting(labelsOf(app), portOf(app, 'metrics'));
      expect(rules.length).toBeGreaterThan(0);
      for (const rule of rules) expect(rule.from).toEqual(MONITORING);
    });

    it('when the services connect to RabbitMQ, then its pods admit them on AMQP and each other on every port', () => {
      const rabbit = { 'app.kubernetes.io/name': 'rabbitmq' };
      const amqp = rulesAdmitting(rabbit, { containerPort: 5672 });
      for (const app of BEHIND_GATEWAY) expect({ app, admitted: amqp.some((rule) => rule.from?.some((peer: Obj) => peer.podSelector && selects(peer.podSelector, labelsOf(app)))) }).toEqual({ app, admitted: true });
      expect(ingressOf(rabbit).some((rule) => !rule.ports && rule.from?.some((peer: Obj) => peer.podSelector && selects(peer.podSelector, rabbit)))).toBe(true);
    });
  });

  it('when RabbitMQ runs in the cluster, then it is a three-node RabbitmqCluster with the Prometheus plugin', () => {
    const [cluster] = ofKind('RabbitmqCluster');
    expect(cluster.spec.replicas).toBe(3);
    expect(cluster.spec.rabbitmq.additionalPlugins).toContain('rabbitmq_prometheus');
  });
});

describe('deploy/rabbitmq/definitions.json', () => {
  it('when compared with what the services declare at start (default configuration), then it is the same topology', async () => {
    const file = JSON.parse(readText('deploy/rabbitmq/definitions.json'));
    const declared = await definitionsOf({ prefix: '', maxRetries: 3, backoffBase: 2, deliveryLimit: 20 });
    expect(file).toEqual(declared);
  });
});
