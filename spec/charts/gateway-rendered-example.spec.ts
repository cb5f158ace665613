// docs/examples/helm-gateway-rendered.yaml is what helm renders for the gateway chart's
// install line. Without a cluster, each object is validated against the Kubernetes 1.33
// OpenAPI schemas compiled into kubernetes-models and type-checked against its interfaces,
// and the whole is checked against the chart, the image and the gateway's CLI: variables
// it reads, flags it accepts, probe paths and ports, secret keys, selectors, the grace period.
import { expect } from 'chai';
import { join } from 'node:path';
import { gatewayServeFlags } from './chart-files.js';
import { containerEnv, firstContainer, single } from './helm-runner.js';
import { typeCheckKubernetesObjects, validateKubernetesObject, type Manifest } from './kubernetes-schemas.js';
import {
  gatewayChartDir,
  gatewayCommand,
  gatewayInstallValues,
  gatewayOptions,
  gatewayPeerOptions,
  gatewayPodVariables,
  gatewayRenderedExamplePath,
  isRecord,
  lookup,
  readText,
  readYaml,
  readYamlDocuments,
  repoRoot,
} from './tools.js';

describe('docs/examples/helm-gateway-rendered.yaml (the gateway chart\'s install line, rendered)', () => {
  const docs = readYamlDocuments(gatewayRenderedExamplePath) as Manifest[];
  const values = readYaml(join(gatewayChartDir, 'values.yaml'));
  const chart = readYaml(join(gatewayChartDir, 'Chart.yaml'));
  const deployment = single(docs, 'Deployment');
  const secret = single(docs, 'Secret');
  const pdb = single(docs, 'PodDisruptionBudget');
  const policy = single(docs, 'NetworkPolicy');
  const serviceAccount = single(docs, 'ServiceAccount');
  const services = docs.filter((d) => d.kind === 'Service');
  const podSpec = lookup(deployment, ['spec', 'template', 'spec']) as Manifest;
  const container = firstContainer(docs);
  const env = containerEnv(docs);
  const args = (container.args ?? []) as string[];
  const envValue = (name: string): string | undefined => env.find((e) => e.name === name)?.value;
  const podLabels = lookup(deployment, ['spec', 'template', 'metadata', 'labels']) as Record<string, string>;
  const ports = container.ports as Array<{ name: string; containerPort: number; protocol: string }>;
  const portOf = (name: string): number | undefined => ports.find((p) => p.name === name)?.containerPort;
  const flagValue = (flag: string): string | undefined => args.find((a) => a.startsWith(`--${flag}=`))?.slice(flag.length + 3);

  it('holds a ServiceAccount, a Secret, three Services, the Deployment, a PodDisruptionBudget and a NetworkPolicy', () => {
    expect(docs.map((d) => d.kind).sort()).to.deep.equal(['Deployment', 'NetworkPolicy', 'PodDisruptionBudget', 'Secret', 'Service', 'Service', 'Service', 'ServiceAccount']);
    expect(services.map((s) => lookup(s, ['metadata', 'name'])).sort()).to.deep.equal(['vcs-gateway', 'vcs-gateway-admin', 'vcs-gateway-front-door']);
  });

  it('validates every object against the Kubernetes API schemas', () => {
    for (const doc of docs) expect(() => validateKubernetesObject(doc), String(doc.kind)).to.not.throw();
  });

  it('has no unknown or misplaced field (type-checked against the Kubernetes interfaces)', function () {
    this.timeout(60_000);
    expect(typeCheckKubernetesObjects(docs)).to.deep.equal([]);
  });

  it('would catch a bad NetworkPolicy (the validator knows the kind)', () => {
    const broken = structuredClone(policy);
    (lookup(broken, ['spec', 'ingress', '0', 'ports', '0']) as Manifest).protocol = 'HTTP';
    expect(() => validateKubernetesObject(broken)).to.throw(/protocol/);
    const typo = structuredClone(policy);
    (typo.spec as Manifest).ingres = [];
    expect(typeCheckKubernetesObjects([typo]).join('\n')).to.contain('ingres');
  });

  it('runs three replicas that roll one at a time, a PDB of maxUnavailable 1, spread over nodes and zones', () => {
    expect(lookup(deployment, ['spec', 'replicas'])).to.equal(3);
    expect(lookup(deployment, ['spec', 'strategy', 'rollingUpdate'])).to.deep.equal({ maxSurge: 1, maxUnavailable: 0 });
    expect(lookup(pdb, ['spec', 'maxUnavailable'])).to.equal(1);
    expect(lookup(pdb, ['spec', 'minAvailable'])).to.equal(undefined);
    const spread = lookup(podSpec, ['topologySpreadConstraints']) as Manifest[];
    expect(spread.map((c) => c.topologyKey)).to.deep.equal(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    for (const constraint of spread) expect(lookup(constraint, ['labelSelector', 'matchLabels'])).to.deep.equal(lookup(deployment, ['spec', 'selector', 'matchLabels']));
  });

  it('runs `vcs-gateway serve` from the project image: node and the bin the Dockerfile copies to /app', () => {
    expect(container.command).to.deep.equal([...gatewayCommand]);
    expect(args[0]).to.equal('serve');
    const pkg = JSON.parse(readText(join(repoRoot, 'package.json'))) as { bin: Record<string, string> };
    expect(`/app/${(pkg.bin['vcs-gateway'] ?? '').replace(/^\.\//, '')}`).to.equal(gatewayCommand[1]);
    const dockerfile = readText(join(repoRoot, 'Dockerfile'));
    const runtime = dockerfile.slice(dockerfile.search(/^FROM .* AS runtime$/m));
    expect(runtime).to.match(/^WORKDIR \/app$/m);
    expect(runtime).to.match(/^COPY --from=build \/app\/dist \.\/dist$/m);
    // The image's ENTRYPOINT runs the agent, which is why the chart sets command.
    expect(runtime).to.match(/^ENTRYPOINT \["node", "\/app\/dist\/cli\/vcs-agent\.js"\]$/m);
    expect(container.image).to.equal(`${String(lookup(values, ['image', 'repository']))}:${String(lookup(chart, ['appVersion']))}`);
  });

  it('passes only flags that `vcs-gateway serve` declares, each as one --flag=value argument', () => {
    const declared = gatewayServeFlags(readText(join(repoRoot, 'cli', 'gateway-main.ts')));
    const flags = args.slice(1).map((a) => /^--([a-z][a-z0-9-]*)(=|$)/.exec(a)?.[1]);
    expect(flags).to.not.include(undefined);
    expect(flags.filter((f) => !declared.has(f ?? ''))).to.deep.equal([]);
    expect(new Set(flags).size).to.equal(flags.length);
  });

  it('sets only variables the gateway reads (the peer ones ahead of the CLI), plus the pod\'s own', () => {
    const known = new Set<string>([...gatewayOptions, ...gatewayPeerOptions].map(([variable]) => variable));
    const pod = new Set<string>(gatewayPodVariables);
    expect(env.map((e) => e.name).filter((n) => !known.has(n) && !pod.has(n))).to.deep.equal([]);
    for (const [variable] of [...gatewayOptions, ...gatewayPeerOptions]) {
      if (variable !== 'VCS_GATEWAY_SPACELIFT_LISTEN') expect(env.map((e) => e.name), variable).to.include(variable);
    }
    expect(envValue('VCS_GATEWAY_URL')).to.equal(gatewayInstallValues.gatewayUrl);
  });

  it('takes the replica id from the pod name and the peer URL from the pod IP, defined before they are used', () => {
    const index = (name: string): number => env.findIndex((e) => e.name === name);
    expect(env.find((e) => e.name === 'POD_NAME')?.valueFrom?.fieldRef?.fieldPath).to.equal('metadata.name');
    expect(env.find((e) => e.name === 'POD_IP')?.valueFrom?.fieldRef?.fieldPath).to.equal('status.podIP');
    expect(args).to.include('--replica-id=$(POD_NAME)');
    expect(envValue('VCS_GATEWAY_PEER_URL')).to.equal(`http://$(POD_IP):${String(portOf('peer'))}`);
    // Kubernetes expands $(NAME) only from variables listed earlier in env.
    expect(index('POD_IP')).to.be.within(0, index('VCS_GATEWAY_PEER_URL') - 1);
    for (const e of env) {
      for (const ref of (e.value ?? '').matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
        expect(index(ref[1] ?? ''), `${e.name} uses $(${ref[1] ?? ''})`).to.be.within(0, index(e.name) - 1);
      }
    }
  });

  it('binds each listener on its own container port: agents, front door, admin, peer', () => {
    expect(ports.map((p) => p.name)).to.deep.equal(['agents', 'front-door', 'admin', 'peer']);
    expect(new Set(ports.map((p) => p.containerPort)).size).to.equal(ports.length);
    const portIn = (hostPort: string | undefined): number => Number((hostPort ?? '').split(':').pop());
    expect(portIn(flagValue('listen'))).to.equal(portOf('agents'));
    expect(portIn(flagValue('front-door'))).to.equal(portOf('front-door'));
    expect(portIn(envValue('VCS_GATEWAY_ADMIN_LISTEN'))).to.equal(portOf('admin'));
    expect(portIn(envValue('VCS_GATEWAY_PEER_LISTEN'))).to.equal(portOf('peer'));
  });

  it('probes /healthz (startup, liveness) and /readyz (readiness) on the admin listener, which needs no token for them', () => {
    expect(lookup(container, ['startupProbe', 'httpGet'])).to.deep.equal({ path: '/healthz', port: 'admin' });
    expect(lookup(container, ['livenessProbe', 'httpGet'])).to.deep.equal({ path: '/healthz', port: 'admin' });
    expect(lookup(container, ['readinessProbe', 'httpGet'])).to.deep.equal({ path: '/readyz', port: 'admin' });
    // The admin listener starts when VCS_GATEWAY_ADMIN_LISTEN (or a token) is set; the chart always sets it.
    expect(envValue('VCS_GATEWAY_ADMIN_LISTEN')).to.equal(`0.0.0.0:${String(portOf('admin'))}`);
    const server = readText(join(repoRoot, 'lib', 'gateway', 'admin', 'admin-server.ts'));
    const healthRoutes = server.slice(server.indexOf("if (path === '/healthz')"), server.indexOf("if (path === '/metrics')"));
    expect(healthRoutes).to.contain("if (path === '/readyz') return this.readyz(res);");
    expect(healthRoutes).to.not.contain('admitted');
    for (const [probe, key] of [['startupProbe', 'startup'], ['livenessProbe', 'liveness'], ['readinessProbe', 'readiness']] as const) {
      for (const [field, value] of Object.entries(lookup(values, ['probes', key]) as Record<string, number>)) {
        expect(lookup(container, [probe, field]), `${probe}.${field}`).to.equal(value);
      }
    }
  });

  it('stores the Redis URL and the three tokens in the Secret, and reads each through a secretKeyRef', () => {
    const data = secret.data as Record<string, string>;
    const decoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
    expect(decoded).to.deep.equal({
      'redis-url': gatewayInstallValues['redis.url'],
      'admin-token': gatewayInstallValues['admin.token'],
      'front-door-token': gatewayInstallValues['frontDoor.token'],
      'peer-token': gatewayInstallValues['peer.token'],
    });
    const refs = Object.fromEntries(env.flatMap((e) => (e.valueFrom?.secretKeyRef ? [[e.name, e.valueFrom.secretKeyRef]] : [])));
    expect(refs).to.deep.equal({
      VCS_GATEWAY_REDIS_URL: { name: 'vcs-gateway', key: 'redis-url' },
      VCS_GATEWAY_ADMIN_TOKEN: { name: 'vcs-gateway', key: 'admin-token' },
      VCS_GATEWAY_FRONT_DOOR_TOKEN: { name: 'vcs-gateway', key: 'front-door-token' },
      VCS_GATEWAY_PEER_TOKEN: { name: 'vcs-gateway', key: 'peer-token' },
    });
    expect(lookup(secret, ['metadata', 'name'])).to.equal('vcs-gateway');
    const everythingButTheSecret = JSON.stringify(docs.filter((d) => d !== secret));
    for (const value of Object.values(decoded)) expect(everythingButTheSecret).to.not.contain(value);
  });

  it('has an agents Service, an internal front-door Service and an internal admin Service, on named container ports', () => {
    const service = (name: string): Manifest => single(services, 'Service', name);
    const portsOf = (name: string): Manifest[] => lookup(service(name), ['spec', 'ports']) as Manifest[];
    expect(portsOf('vcs-gateway')).to.deep.equal([{ name: 'agents', port: 8443, targetPort: 'agents', protocol: 'TCP' }]);
    expect(portsOf('vcs-gateway-front-door')).to.deep.equal([{ name: 'front-door', port: 80, targetPort: 'front-door', protocol: 'TCP' }]);
    expect(portsOf('vcs-gateway-admin')).to.deep.equal([{ name: 'admin', port: 8444, targetPort: 'admin', protocol: 'TCP' }]);
    expect(lookup(service('vcs-gateway-front-door'), ['spec', 'type'])).to.equal('ClusterIP');
    expect(lookup(service('vcs-gateway-admin'), ['spec', 'type'])).to.equal('ClusterIP');
    // No Service for the peer port: a peer is one particular pod, reached at its own IP.
    expect(services.flatMap((s) => lookup(s, ['spec', 'ports']) as Manifest[]).map((p) => p.targetPort)).to.not.include('peer');
    for (const s of services) {
      for (const [k, v] of Object.entries(lookup(s, ['spec', 'selector']) as Record<string, string>)) expect(podLabels[k], k).to.equal(v);
    }
  });

  it('admits the peer port only from the gateway\'s own pods', () => {
    const rules = lookup(policy, ['spec', 'ingress']) as Manifest[];
    const peerRule = rules.find((r) => (r.ports as Manifest[]).some((p) => p.port === portOf('peer')));
    expect(peerRule?.from).to.deep.equal([{ podSelector: { matchLabels: lookup(deployment, ['spec', 'selector', 'matchLabels']) } }]);
    expect(lookup(policy, ['spec', 'podSelector', 'matchLabels'])).to.deep.equal(lookup(deployment, ['spec', 'selector', 'matchLabels']));
    expect(lookup(policy, ['spec', 'policyTypes'])).to.deep.equal(['Ingress']);
    // Every container port is covered by a rule, or the policy would cut it off.
    const covered = rules.flatMap((r) => (r.ports as Manifest[]).map((p) => p.port));
    expect(ports.map((p) => p.containerPort).filter((p) => !covered.includes(p))).to.deep.equal([]);
  });

  it('has selectors (Deployment, PDB) that match the pod labels', () => {
    for (const selector of [lookup(deployment, ['spec', 'selector', 'matchLabels']), lookup(pdb, ['spec', 'selector', 'matchLabels'])]) {
      for (const [k, v] of Object.entries(selector as Record<string, string>)) expect(podLabels[k], k).to.equal(v);
    }
  });

  it('waits longer than the preStop sleep plus --shutdown-grace before SIGKILL', () => {
    const grace = lookup(podSpec, ['terminationGracePeriodSeconds']) as number;
    const preStop = lookup(container, ['lifecycle', 'preStop', 'sleep', 'seconds']) as number;
    expect(preStop).to.equal(lookup(values, ['preStopSleepSeconds']));
    expect(grace).to.be.greaterThan(preStop + Number(flagValue('shutdown-grace')));
    expect(grace).to.equal(50);
  });

  it('runs non-root, read-only, without capabilities or a service-account token', () => {
    expect(container.securityContext).to.deep.equal(lookup(values, ['securityContext']));
    expect(lookup(podSpec, ['securityContext'])).to.deep.equal(lookup(values, ['podSecurityContext']));
    expect(lookup(podSpec, ['automountServiceAccountToken'])).to.equal(false);
    expect(serviceAccount.automountServiceAccountToken).to.equal(false);
    expect(lookup(podSpec, ['serviceAccountName'])).to.equal(lookup(serviceAccount, ['metadata', 'name']));
    expect(container.volumeMounts).to.deep.equal([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(container.resources).to.deep.equal(lookup(values, ['resources']));
  });

  it('rolls the pods on a Secret change (checksum annotation)', () => {
    const annotations = lookup(deployment, ['spec', 'template', 'metadata', 'annotations']);
    expect(isRecord(annotations) ? annotations['checksum/secret'] : undefined).to.match(/^[0-9a-f]{64}$/);
  });
});
