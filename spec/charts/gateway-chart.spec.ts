// The gateway chart through the real helm (v4; see helm-runner.ts): lint --strict, the
// install line rendered exactly as docs/examples/helm-gateway-rendered.yaml, value
// combinations rendered and validated against the Kubernetes 1.33 schemas and interfaces,
// refusals that name the value at fault, and helm package / repo index with both charts.
import { expect } from 'chai';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  containerEnv,
  documents,
  firstContainer,
  helmBinary,
  helmTemplate,
  runHelm,
  setArgs,
  single,
  type SetValues,
} from './helm-runner.js';
import { typeCheckKubernetesObjects, validateKubernetesObject, type Manifest } from './kubernetes-schemas.js';
import {
  chartDir,
  gatewayChartDir,
  gatewayInstallValues,
  gatewayRenderedExamplePath,
  lookup,
  readText,
  readYaml,
  seedSetValues,
} from './tools.js';

const render = (helm: string, set: SetValues, extra: readonly string[] = []): ReturnType<typeof helmTemplate> =>
  helmTemplate(helm, gatewayChartDir, 'vcs-gateway', set, extra);

/** Renders, expects success, validates every core object; returns the objects. */
async function renderValid(helm: string, set: SetValues, extra: readonly string[] = []): Promise<Manifest[]> {
  const result = await render(helm, set, extra);
  expect(result.code, result.stderr).to.equal(0);
  const docs = documents(result.stdout);
  // ServiceMonitor is a CRD: no schema in kubernetes-models' core set.
  const core = docs.filter((d) => d.kind !== 'ServiceMonitor');
  for (const doc of core) expect(() => validateKubernetesObject(doc), String(doc.kind)).to.not.throw();
  expect(typeCheckKubernetesObjects(core)).to.deep.equal([]);
  return docs;
}

const existingSecrets = {
  gatewayUrl: 'https://vcs-gateway.example.com:8443',
  'redis.existingSecret': 'gateway-redis',
  'redis.existingSecretKey': 'url',
  'admin.existingSecret': 'gateway-tokens',
  'frontDoor.existingSecret': 'gateway-tokens',
  'peer.existingSecret': 'gateway-tokens',
} as const;

describe('helm: charts/vcs-gateway (real Helm v4 binary)', function () {
  let helm = '';

  beforeEach(function () {
    helm = helmBinary(this);
  });

  it('lints cleanly (--strict) with the install line', async () => {
    const result = await runHelm(helm, ['lint', '--strict', gatewayChartDir, ...setArgs(gatewayInstallValues)]);
    expect(result.code, result.stdout + result.stderr).to.equal(0);
  });

  it('renders the install line exactly as docs/examples/helm-gateway-rendered.yaml', async () => {
    const result = await render(helm, gatewayInstallValues);
    expect(result.code, result.stderr).to.equal(0);
    const example = readText(gatewayRenderedExamplePath);
    expect(result.stdout).to.equal(example.slice(example.indexOf('\n---\n') + 1));
  });

  it('renders with the defaults and the required values: 3 replicas, a PDB, three Services, the Secret, all valid', async function () {
    this.timeout(60_000);
    const docs = await renderValid(helm, gatewayInstallValues);
    expect(docs.map((d) => d.kind).sort()).to.deep.equal(['Deployment', 'NetworkPolicy', 'PodDisruptionBudget', 'Secret', 'Service', 'Service', 'Service', 'ServiceAccount']);
    expect(lookup(single(docs, 'Deployment'), ['spec', 'replicas'])).to.equal(3);
    expect(lookup(single(docs, 'PodDisruptionBudget'), ['spec', 'maxUnavailable'])).to.equal(1);
  });

  const combinations: Array<[string, SetValues, (docs: Manifest[]) => void]> = [
    ['every secret from existing Secrets (no Secret of the chart\'s own)', existingSecrets, (docs) => {
      expect(docs.map((d) => d.kind)).to.not.include('Secret');
      const refs = Object.fromEntries(containerEnv(docs).flatMap((e) => (e.valueFrom?.secretKeyRef ? [[e.name, e.valueFrom.secretKeyRef]] : [])));
      expect(refs).to.deep.equal({
        VCS_GATEWAY_REDIS_URL: { name: 'gateway-redis', key: 'url' },
        VCS_GATEWAY_ADMIN_TOKEN: { name: 'gateway-tokens', key: 'admin-token' },
        VCS_GATEWAY_FRONT_DOOR_TOKEN: { name: 'gateway-tokens', key: 'front-door-token' },
        VCS_GATEWAY_PEER_TOKEN: { name: 'gateway-tokens', key: 'peer-token' },
      });
    }],
    ['a mix: Redis from an existing Secret, the tokens from values', {
      ...gatewayInstallValues, 'redis.url': '', 'redis.existingSecret': 'gateway-redis',
    }, (docs) => {
      expect(Object.keys(lookup(single(docs, 'Secret'), ['data']) as object).sort()).to.deep.equal(['admin-token', 'front-door-token', 'peer-token']);
      expect(containerEnv(docs).find((e) => e.name === 'VCS_GATEWAY_REDIS_URL')?.valueFrom?.secretKeyRef).to.deep.equal({ name: 'gateway-redis', key: 'redis-url' });
    }],
    ['TLS from a kubernetes.io/tls Secret, Spacelift\'s listener, a LoadBalancer and IPv6', {
      ...gatewayInstallValues, 'agents.tls.existingSecret': 'vcs-gateway-tls', 'spacelift.enabled': true, listenHost: '::',
      'agents.service.type': 'LoadBalancer', 'agents.service.externalTrafficPolicy': 'Local',
    }, (docs) => {
      const container = firstContainer(docs);
      const args = container.args as string[];
      expect(args).to.include.members(['--tls-cert=/etc/vcs-gateway/tls/tls.crt', '--tls-key=/etc/vcs-gateway/tls/tls.key', '--listen=[::]:8443', '--front-door=[::]:8080']);
      const env = containerEnv(docs);
      expect(env.find((e) => e.name === 'VCS_GATEWAY_SPACELIFT_LISTEN')?.value).to.equal('[::]:8446');
      expect(env.find((e) => e.name === 'VCS_GATEWAY_PEER_URL')?.value).to.equal('http://[$(POD_IP)]:8445');
      expect(env.find((e) => e.name === 'VCS_GATEWAY_ADMIN_LISTEN')?.value).to.equal('[::]:8444');
      const podSpec = lookup(single(docs, 'Deployment'), ['spec', 'template', 'spec']);
      expect(lookup(podSpec, ['volumes', '1'])).to.deep.equal({
        name: 'tls',
        secret: { secretName: 'vcs-gateway-tls', defaultMode: 0o440, items: [{ key: 'tls.crt', path: 'tls.crt' }, { key: 'tls.key', path: 'tls.key' }] },
      });
      expect(container.volumeMounts).to.deep.include({ name: 'tls', mountPath: '/etc/vcs-gateway/tls', readOnly: true });
      const agents = single(docs, 'Service', 'vcs-gateway');
      expect(lookup(agents, ['spec', 'type'])).to.equal('LoadBalancer');
      expect(lookup(agents, ['spec', 'externalTrafficPolicy'])).to.equal('Local');
      expect((lookup(agents, ['spec', 'ports']) as Manifest[]).map((p) => p.targetPort)).to.deep.equal(['agents', 'spacelift']);
      const policyPorts = (lookup(single(docs, 'NetworkPolicy'), ['spec', 'ingress', '0', 'ports']) as Manifest[]).map((p) => p.port);
      expect(policyPorts).to.deep.equal([8443, 8446]);
    }],
    ['mutual TLS between replicas from a Secret you manage, with the name the replicas check', {
      ...gatewayInstallValues, 'peer.tls.existingSecret': 'vcs-gateway-peer-tls', 'peer.tls.servername': 'vcs-gateway-peer',
    }, (docs) => {
      const env = Object.fromEntries(containerEnv(docs).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])));
      expect(env).to.include({
        VCS_GATEWAY_PEER_URL: 'https://$(POD_IP):8445',
        VCS_GATEWAY_PEER_TLS_CERT: '/etc/vcs-gateway/peer-tls/tls.crt',
        VCS_GATEWAY_PEER_TLS_KEY: '/etc/vcs-gateway/peer-tls/tls.key',
        VCS_GATEWAY_PEER_TLS_CA: '/etc/vcs-gateway/peer-tls/ca.crt',
        VCS_GATEWAY_PEER_TLS_SERVERNAME: 'vcs-gateway-peer',
      });
      const volumes = lookup(single(docs, 'Deployment'), ['spec', 'template', 'spec', 'volumes']) as Manifest[];
      expect(volumes.find((v) => v.name === 'peer-tls')).to.deep.equal({
        name: 'peer-tls',
        secret: { secretName: 'vcs-gateway-peer-tls', defaultMode: 0o440, items: [{ key: 'tls.crt', path: 'tls.crt' }, { key: 'tls.key', path: 'tls.key' }, { key: 'ca.crt', path: 'ca.crt' }] },
      });
      expect(firstContainer(docs).volumeMounts).to.deep.include({ name: 'peer-tls', mountPath: '/etc/vcs-gateway/peer-tls', readOnly: true });
    }],
    ['a ServiceMonitor sending the admin token', { ...gatewayInstallValues, 'metrics.serviceMonitor.enabled': true, 'admin.service.enabled': false }, (docs) => {
      const monitor = single(docs, 'ServiceMonitor');
      expect(lookup(monitor, ['spec', 'endpoints', '0'])).to.deep.include({ port: 'admin', path: '/metrics' });
      expect(lookup(monitor, ['spec', 'endpoints', '0', 'authorization'])).to.deep.equal({ type: 'Bearer', credentials: { name: 'vcs-gateway', key: 'admin-token' } });
      // The monitor needs the admin Service, and selects it alone.
      const admin = single(docs, 'Service', 'vcs-gateway-admin');
      expect(lookup(admin, ['metadata', 'labels'])).to.include(lookup(monitor, ['spec', 'selector', 'matchLabels']) as object);
      for (const other of ['vcs-gateway', 'vcs-gateway-front-door']) {
        expect(lookup(single(docs, 'Service', other), ['metadata', 'labels', 'app.kubernetes.io/component'])).to.not.equal('admin');
      }
    }],
    ['public metrics and a ServiceMonitor without a token', {
      ...existingSecrets, 'admin.publicMetrics': true, 'metrics.serviceMonitor.enabled': true,
    }, (docs) => {
      expect(firstContainer(docs).args).to.include('--admin-public-metrics');
      expect(lookup(single(docs, 'ServiceMonitor'), ['spec', 'endpoints', '0', 'authorization'])).to.equal(undefined);
    }],
    ['no NetworkPolicy, no PDB, no admin Service, no preStop sleep', {
      ...gatewayInstallValues, 'networkPolicy.enabled': false, 'podDisruptionBudget.enabled': false, 'admin.service.enabled': false, preStopSleepSeconds: 0,
    }, (docs) => {
      expect(docs.map((d) => d.kind).sort()).to.deep.equal(['Deployment', 'Secret', 'Service', 'Service', 'ServiceAccount']);
      expect(firstContainer(docs).lifecycle).to.equal(undefined);
      expect(lookup(single(docs, 'Deployment'), ['spec', 'template', 'spec', 'terminationGracePeriodSeconds'])).to.equal(45);
    }],
    ['a longer shutdown grace', { ...gatewayInstallValues, shutdownGraceSeconds: 120 }, (docs) => {
      expect(firstContainer(docs).args).to.include('--shutdown-grace=120');
      expect(lookup(single(docs, 'Deployment'), ['spec', 'template', 'spec', 'terminationGracePeriodSeconds'])).to.equal(140);
    }],
    ['a percentage PDB, load-balancer source ranges and a front door open to one namespace only', {
      ...gatewayInstallValues, 'podDisruptionBudget.maxUnavailable': '34%', 'agents.service.type': 'LoadBalancer',
      'agents.service.loadBalancerSourceRanges[0]': '203.0.113.0/24', 'networkPolicy.frontDoor.from[0].namespaceSelector.matchLabels.team': 'platform',
    }, (docs) => {
      expect(lookup(single(docs, 'PodDisruptionBudget'), ['spec', 'maxUnavailable'])).to.equal('34%');
      expect(lookup(single(docs, 'Service', 'vcs-gateway'), ['spec', 'loadBalancerSourceRanges'])).to.deep.equal(['203.0.113.0/24']);
      const frontDoorRule = (lookup(single(docs, 'NetworkPolicy'), ['spec', 'ingress']) as Manifest[]).find((r) => lookup(r, ['ports', '0', 'port']) === 8080);
      expect(frontDoorRule?.from).to.deep.equal([{ namespaceSelector: { matchLabels: { team: 'platform' } } }]);
    }],
    ['one replica (the PDB still lets it be drained)', { ...gatewayInstallValues, replicaCount: 1 }, (docs) => {
      expect(lookup(single(docs, 'Deployment'), ['spec', 'replicas'])).to.equal(1);
      expect(lookup(single(docs, 'PodDisruptionBudget'), ['spec', 'maxUnavailable'])).to.equal(1);
    }],
  ];

  for (const [what, set, check] of combinations) {
    it(`renders valid Kubernetes objects with ${what}`, async function () {
      this.timeout(60_000);
      check(await renderValid(helm, set));
    });
  }

  it('keeps every object name a DNS label (63 characters) with a long release name', async function () {
    this.timeout(60_000);
    // 53 characters, the longest release name Helm accepts.
    const release = `platform-gateway-${'x'.repeat(36)}`;
    const result = await helmTemplate(helm, gatewayChartDir, release, gatewayInstallValues);
    expect(result.code, result.stderr).to.equal(0);
    for (const doc of documents(result.stdout)) {
      expect(String(lookup(doc, ['metadata', 'name'])), String(doc.kind)).to.match(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
    }
  });

  it('lets values.yaml keep large numbers as numbers (no 1e+06 in the arguments)', async () => {
    const result = await render(helm, gatewayInstallValues, ['--set', 'accessLogSize=1000000']);
    expect(result.code, result.stderr).to.equal(0);
    expect(firstContainer(documents(result.stdout)).args).to.include('--access-log-size=1000000');
  });

  const refusals: Array<[string, SetValues, RegExp]> = [
    ['no values at all', {}, /gatewayUrl is required/],
    ['no Redis', { ...gatewayInstallValues, 'redis.url': '' }, /redis\.url is required \(or set redis\.existingSecret.*existing Redis; the chart does not run one/],
    ['no admin token', { ...gatewayInstallValues, 'admin.token': '' }, /admin\.token is required \(or set admin\.existingSecret/],
    ['no front-door token', { ...gatewayInstallValues, 'frontDoor.token': '' }, /frontDoor\.token is required \(or set frontDoor\.existingSecret/],
    ['no peer token', { ...gatewayInstallValues, 'peer.token': '' }, /peer\.token is required \(or set peer\.existingSecret/],
    ['peer TLS without the name to check', { ...gatewayInstallValues, 'peer.tls.existingSecret': 'vcs-gateway-peer-tls' }, /peer\.tls\.servername is required with peer\.tls\.existingSecret/],
    ['a peer TLS name without the Secret', { ...gatewayInstallValues, 'peer.tls.servername': 'vcs-gateway-peer' }, /peer\.tls\.servername is set but peer\.tls\.existingSecret is not/],
    ['a token in values next to an existing Secret', { ...gatewayInstallValues, 'peer.existingSecret': 'gateway-tokens' }, /peer\.token and peer\.existingSecret are both set/],
    ['zero replicas', { ...gatewayInstallValues, replicaCount: 0 }, /\/replicaCount.*minimum/],
    ['a replica count that is no number', { ...gatewayInstallValues, replicaCount: 'three' }, /\/replicaCount/],
    ['two listeners on one port', { ...gatewayInstallValues, 'peer.port': 8444 }, /admin\.port and peer\.port are both 8444/],
    ['Spacelift\'s listener on the agents\' port', { ...gatewayInstallValues, 'spacelift.enabled': true, 'spacelift.port': 8443 }, /agents\.port and spacelift\.port are both 8443/],
    ['Spacelift\'s Service port on the agents\' Service port', { ...gatewayInstallValues, 'spacelift.enabled': true, 'spacelift.servicePort': 8443 }, /spacelift\.servicePort and agents\.service\.port/],
    ['a port out of range', { ...gatewayInstallValues, 'agents.port': 70000 }, /\/agents\/port.*maximum/],
    ['a Redis URL that is not redis://', { ...gatewayInstallValues, 'redis.url': 'http://redis:6379' }, /\/redis\/url/],
    ['a short admin token', { ...gatewayInstallValues, 'admin.token': 'short' }, /\/admin\/token/],
    ['an http:// gateway URL with TLS on', { ...gatewayInstallValues, gatewayUrl: 'http://vcs-gateway.example.com', 'agents.tls.existingSecret': 'tls' }, /gatewayUrl is http:\/\/ but agents\.tls\.existingSecret/],
    ['a typo in a value name', { ...gatewayInstallValues, 'frontDoor.tokn': 'x' }, /\/frontDoor.*tokn/],
  ];
  for (const [what, set, message] of refusals) {
    it(`refuses ${what}, saying why`, async () => {
      const result = await render(helm, set);
      expect(result.code).to.not.equal(0);
      expect(result.stderr).to.match(message);
      // The value at fault is named, never echoed when it is a secret.
      expect(result.stderr).to.not.contain(gatewayInstallValues['admin.token']);
    });
  }

  it('prints NOTES with the Services to use, and warns about a single replica (helm install --dry-run=client, offline)', async () => {
    const install = (set: SetValues): Promise<{ code: number; stdout: string; stderr: string }> =>
      runHelm(helm, ['install', 'vcs-gateway', gatewayChartDir, '--namespace', 'default', '--dry-run=client', ...setArgs(set)]);
    const three = await install(gatewayInstallValues);
    expect(three.code, three.stderr).to.equal(0);
    const notes = three.stdout.slice(three.stdout.indexOf('NOTES:'));
    expect(notes).to.contain('3 replica(s)');
    expect(notes).to.contain('http://vcs-gateway-front-door.default.svc:80/<pool>/<path>');
    expect(notes).to.contain('port-forward svc/vcs-gateway-admin 8444:8444');
    expect(notes).to.contain('agents.tls.existingSecret is empty');
    expect(notes).to.not.contain('WARNING');
    for (const secret of Object.values(gatewayInstallValues).slice(1)) expect(notes).to.not.contain(secret);
    const one = await install({ ...gatewayInstallValues, replicaCount: 1, 'agents.tls.existingSecret': 'vcs-gateway-tls' });
    expect(one.code, one.stderr).to.equal(0);
    expect(one.stdout).to.contain('WARNING: replicaCount is 1');
    expect(one.stdout).to.not.contain('agents.tls.existingSecret is empty');
  });

  it('packages both charts into one chart repository (helm package, helm repo index)', async function () {
    this.timeout(60_000);
    const out = mkdtempSync(join(tmpdir(), 'vcs-gateway-chart-repo-'));
    try {
      const charts = [chartDir, gatewayChartDir].map((dir) => ({ dir, meta: readYaml(join(dir, 'Chart.yaml')) as { name: string; version: string; appVersion: string } }));
      for (const { dir } of charts) {
        const packaged = await runHelm(helm, ['package', dir, '--destination', out]);
        expect(packaged.code, packaged.stderr).to.equal(0);
      }
      const archives = charts.map(({ meta }) => `${meta.name}-${meta.version}.tgz`);
      expect(readdirSync(out).sort()).to.deep.equal([...archives].sort());
      const indexed = await runHelm(helm, ['repo', 'index', out, '--url', 'https://charts.example.com/vcs-agent']);
      expect(indexed.code, indexed.stderr).to.equal(0);
      const index = parseYaml(readText(join(out, 'index.yaml'))) as { entries: Record<string, Array<{ version: string; appVersion: string; digest: string }>> };
      for (const { meta } of charts) {
        expect(index.entries[meta.name]?.[0], meta.name).to.deep.include({ version: meta.version, appVersion: meta.appVersion });
      }
      // The packaged gateway chart renders the same as the source tree (templates, schema and all).
      const fromArchive = await helmTemplate(helm, join(out, archives[1] ?? ''), 'vcs-gateway', gatewayInstallValues);
      expect(fromArchive.code, fromArchive.stderr).to.equal(0);
      expect(fromArchive.stdout).to.equal((await render(helm, gatewayInstallValues)).stdout);
      const refused = await helmTemplate(helm, join(out, archives[1] ?? ''), 'vcs-gateway', {});
      expect(refused.stderr).to.match(/gatewayUrl is required/);
      // The agent chart is untouched by the gateway chart's presence.
      expect((await helmTemplate(helm, join(out, archives[0] ?? ''), 'vcs-agent', seedSetValues)).code).to.equal(0);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
