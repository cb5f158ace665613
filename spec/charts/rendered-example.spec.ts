// docs/examples/helm-rendered.yaml is what helm renders for the seed's install
// line. Without a cluster (kubectl's client-side dry run still needs an API
// server for discovery), each object is validated against the Kubernetes
// OpenAPI schemas compiled into kubernetes-models, and checked for consistency
// with the chart: values, secret keys, variable names, probe paths, selectors.
import { expect } from 'chai';
import { join } from 'node:path';
import { typeCheckKubernetesObjects, validateKubernetesObject, type Manifest } from './kubernetes-schemas.js';
import {
  agentOptionVariables,
  chartDir,
  isRecord,
  lookup,
  readText,
  readYaml,
  readYamlDocuments,
  renderedExamplePath,
  seedSetValues,
} from './tools.js';

function byKind(docs: Manifest[], kind: string): Manifest {
  const found = docs.filter((d) => d.kind === kind);
  expect(found, kind).to.have.length(1);
  return found[0] as Manifest;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
}

describe('docs/examples/helm-rendered.yaml (the seed\'s install line, rendered)', () => {
  const docs = readYamlDocuments(renderedExamplePath) as Manifest[];
  const values = readYaml(join(chartDir, 'values.yaml'));
  const chart = readYaml(join(chartDir, 'Chart.yaml'));
  const deployment = byKind(docs, 'Deployment');
  const secret = byKind(docs, 'Secret');
  const pdb = byKind(docs, 'PodDisruptionBudget');
  const serviceAccount = byKind(docs, 'ServiceAccount');
  const podSpec = lookup(deployment, ['spec', 'template', 'spec']);
  const containers = lookup(podSpec, ['containers']) as Manifest[];
  const container = containers[0] as Manifest;
  const env = (container.env ?? []) as EnvVar[];
  const envValue = (name: string): string | undefined => env.find((e) => e.name === name)?.value;
  const podLabels = lookup(deployment, ['spec', 'template', 'metadata', 'labels']) as Record<string, string>;

  it('holds exactly a ServiceAccount, a Secret, a Deployment and a PodDisruptionBudget', () => {
    expect(docs.map((d) => d.kind).sort()).to.deep.equal(['Deployment', 'PodDisruptionBudget', 'Secret', 'ServiceAccount']);
  });

  it('validates every object against the Kubernetes API schemas', () => {
    for (const doc of docs) expect(() => validateKubernetesObject(doc), String(doc.kind)).to.not.throw();
  });

  it('has no unknown or misplaced field (type-checked against the Kubernetes interfaces)', function () {
    this.timeout(60_000);
    expect(typeCheckKubernetesObjects(docs)).to.deep.equal([]);
  });

  it('would catch an unknown field (the type check is not a no-op)', function () {
    this.timeout(60_000);
    const typo = structuredClone(deployment);
    const typoContainer = (lookup(typo, ['spec', 'template', 'spec', 'containers']) as Manifest[])[0] as Manifest;
    typoContainer.livenesProbe = typoContainer.livenessProbe;
    const diagnostics = typeCheckKubernetesObjects([typo]);
    expect(diagnostics.join('\n')).to.contain('livenesProbe');
  });

  it('would catch a malformed object (the validator is not a no-op)', () => {
    const broken = structuredClone(deployment);
    const brokenContainer = (lookup(broken, ['spec', 'template', 'spec', 'containers']) as Manifest[])[0] as Manifest;
    (brokenContainer.ports as Manifest[])[0] = { name: 'health', containerPort: 'eight-thousand' };
    expect(() => validateKubernetesObject(broken)).to.throw(/containerPort/);
    const noSelector = structuredClone(pdb);
    (noSelector.spec as Manifest).minAvailable = [1];
    expect(() => validateKubernetesObject(noSelector)).to.throw(/minAvailable/);
  });

  it('stores the three credentials of the --set line in the Secret, base64-encoded', () => {
    const data = secret.data as Record<string, string>;
    const decoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
    expect(decoded).to.deep.equal({
      token: seedSetValues['credentials.token'],
      endpoint: seedSetValues['credentials.endpoint'],
      vendor: seedSetValues['credentials.vendor'],
    });
    expect(secret.type).to.equal('Opaque');
  });

  it('reads every secretKeyRef from a key that the Secret holds', () => {
    const refs = env.flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : []));
    expect(refs.map((r) => r.key).sort()).to.deep.equal(['endpoint', 'token', 'vendor']);
    for (const ref of refs) {
      expect(ref.name).to.equal(lookup(secret, ['metadata', 'name']));
      expect(Object.keys(secret.data as object)).to.include(ref.key);
    }
    expect(env.find((e) => e.name === 'SPACELIFT_VCS_AGENT_POOL_TOKEN')?.valueFrom?.secretKeyRef?.key).to.equal('token');
    expect(JSON.stringify(deployment)).to.not.contain(seedSetValues['credentials.token']);
  });

  it('sets only agent variables, with the values.yaml defaults', () => {
    expect(env.map((e) => e.name).filter((n) => !agentOptionVariables.includes(n))).to.deep.equal([]);
    expect(envValue('SPACELIFT_VCS_AGENT_ALLOWED_PROJECTS')).to.equal(lookup(values, ['allowedProjects']));
    expect(envValue('SPACELIFT_VCS_AGENT_PARALLELISM')).to.equal(String(lookup(values, ['parallelism'])));
    expect(envValue('SPACELIFT_VCS_AGENT_GATEWAY_CONNECTIONS')).to.equal(String(lookup(values, ['gatewayConnections'])));
    expect(envValue('SPACELIFT_VCS_AGENT_DRAIN_TIMEOUT')).to.equal(String(lookup(values, ['drainTimeoutSeconds'])));
    expect(envValue('SPACELIFT_VCS_AGENT_LOG_FORMAT')).to.equal(lookup(values, ['logFormat']));
    expect(envValue('SPACELIFT_VCS_AGENT_LOG_LEVEL')).to.equal(lookup(values, ['logLevel']));
    expect(envValue('SPACELIFT_VCS_AGENT_HEALTH_LISTEN')).to.equal(`0.0.0.0:${String(lookup(values, ['health', 'port']))}`);
    // Off by default: the variable is left out rather than set to "false".
    expect(env.map((e) => e.name)).to.not.include('SPACELIFT_VCS_AGENT_DEBUG_PRINT_ALL');
    expect(env.map((e) => e.name)).to.not.include('SPACELIFT_VCS_AGENT_BUGSNAG_API_KEY');
  });

  it('names every variable it sets the way templates/deployment.yaml does', () => {
    const template = readText(join(chartDir, 'templates', 'deployment.yaml'));
    for (const e of env) expect(template).to.contain(`- name: ${e.name}`);
  });

  it('probes /healthz (startup, liveness) and /readyz (readiness) on the port the agent listens on', () => {
    const ports = container.ports as Array<{ name: string; containerPort: number }>;
    expect(ports).to.deep.equal([{ name: 'health', containerPort: lookup(values, ['health', 'port']), protocol: 'TCP' }]);
    const listenPort = Number((envValue('SPACELIFT_VCS_AGENT_HEALTH_LISTEN') ?? '').split(':').pop());
    expect(listenPort).to.equal(ports[0]?.containerPort);
    expect(lookup(container, ['livenessProbe', 'httpGet'])).to.deep.equal({ path: '/healthz', port: 'health' });
    expect(lookup(container, ['startupProbe', 'httpGet'])).to.deep.equal({ path: '/healthz', port: 'health' });
    expect(lookup(container, ['readinessProbe', 'httpGet'])).to.deep.equal({ path: '/readyz', port: 'health' });
    for (const probe of ['livenessProbe', 'readinessProbe'] as const) {
      const expected = lookup(values, ['health', probe]) as Record<string, number>;
      for (const [field, value] of Object.entries(expected)) expect(lookup(container, [probe, field]), `${probe}.${field}`).to.equal(value);
    }
  });

  it('runs replicaCount replicas, surging before it stops one, spread over nodes and zones', () => {
    expect(lookup(deployment, ['spec', 'replicas'])).to.equal(2);
    expect(lookup(deployment, ['spec', 'strategy', 'rollingUpdate'])).to.deep.equal({ maxSurge: 1, maxUnavailable: 0 });
    const spread = lookup(podSpec, ['topologySpreadConstraints']) as Manifest[];
    expect(spread.map((c) => c.topologyKey)).to.deep.equal(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    for (const constraint of spread) {
      expect(constraint.whenUnsatisfiable).to.equal('ScheduleAnyway');
      expect(lookup(constraint, ['labelSelector', 'matchLabels'])).to.deep.equal(lookup(deployment, ['spec', 'selector', 'matchLabels']));
    }
  });

  it('has selectors (Deployment, PDB) that match the pod labels', () => {
    for (const selector of [lookup(deployment, ['spec', 'selector', 'matchLabels']), lookup(pdb, ['spec', 'selector', 'matchLabels'])]) {
      for (const [k, v] of Object.entries(selector as Record<string, string>)) expect(podLabels[k], k).to.equal(v);
    }
    expect(lookup(pdb, ['spec', 'minAvailable'])).to.equal(1);
  });

  it('waits longer than the drain timeout before SIGKILL', () => {
    const grace = lookup(podSpec, ['terminationGracePeriodSeconds']) as number;
    expect(grace).to.be.greaterThan(Number(envValue('SPACELIFT_VCS_AGENT_DRAIN_TIMEOUT')));
    expect(grace).to.equal((lookup(values, ['drainTimeoutSeconds']) as number) + (lookup(values, ['terminationGracePaddingSeconds']) as number));
  });

  it('runs non-root, read-only, without capabilities or a service-account token', () => {
    expect(container.securityContext).to.deep.equal(lookup(values, ['securityContext']));
    expect(lookup(podSpec, ['securityContext'])).to.deep.equal(lookup(values, ['podSecurityContext']));
    expect(lookup(podSpec, ['automountServiceAccountToken'])).to.equal(false);
    expect(serviceAccount.automountServiceAccountToken).to.equal(false);
    expect(lookup(podSpec, ['serviceAccountName'])).to.equal(lookup(serviceAccount, ['metadata', 'name']));
    // The only writable path is the /tmp emptyDir.
    expect(container.volumeMounts).to.deep.equal([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(lookup(podSpec, ['volumes'])).to.deep.equal([{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }]);
  });

  it('uses the chart\'s appVersion as the image tag and the values\' resources', () => {
    expect(container.image).to.equal(`${String(lookup(values, ['image', 'repository']))}:${String(lookup(chart, ['appVersion']))}`);
    expect(container.resources).to.deep.equal(lookup(values, ['resources']));
  });

  it('rolls the pods on a Secret change (checksum annotation)', () => {
    const annotations = lookup(deployment, ['spec', 'template', 'metadata', 'annotations']);
    expect(isRecord(annotations) ? annotations['checksum/secret'] : undefined).to.match(/^[0-9a-f]{64}$/);
  });
});
