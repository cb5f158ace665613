// Helm is not packaged for these machines, so the chart is checked from its
// files: Chart.yaml, values.yaml against values.schema.json (with Ajv, the
// JSON Schema draft-07 that Helm validates), every .Values reference in the
// templates against values.yaml, and every value against the docs.
import { expect } from 'chai';
import { expectRestrictedContainer, keysOutsideSchema, leafPaths, loadChart, unbalancedTemplates, undefinedValueRefs, unusedValues } from './chart-files.js';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  agentOptions,
  agentOptionVariables,
  chartDir,
  lookup,
  otherVariables,
  readText,
  readYaml,
  repoRoot,
  seedSetValues,
} from './tools.js';

const { templates, defaults, schema, valuesWith, errorsOf } = loadChart(chartDir);

describe('Helm chart charts/vcs-agent', () => {
  describe('Chart.yaml', () => {
    const chart = readYaml(join(chartDir, 'Chart.yaml'));
    const pkg: unknown = JSON.parse(readText(join(repoRoot, 'package.json')));

    it('is a v2 application chart named vcs-agent with a semver version', () => {
      expect(lookup(chart, ['apiVersion'])).to.equal('v2');
      expect(lookup(chart, ['name'])).to.equal('vcs-agent');
      expect(lookup(chart, ['type'])).to.equal('application');
      expect(lookup(chart, ['version'])).to.match(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
    });

    it('deploys the package version by default (appVersion)', () => {
      expect(lookup(chart, ['appVersion'])).to.equal(lookup(pkg, ['version']));
    });
  });

  describe('values.yaml defaults', () => {
    it('has the seed\'s credentials.token, credentials.endpoint and credentials.vendor', () => {
      for (const key of ['token', 'endpoint', 'vendor']) expect(lookup(defaults, ['credentials', key])).to.equal('');
    });

    it('runs two replicas with a PodDisruptionBudget of minAvailable 1', () => {
      expect(defaults.replicaCount).to.equal(2);
      expect(lookup(defaults, ['podDisruptionBudget', 'enabled'])).to.equal(true);
      expect(lookup(defaults, ['podDisruptionBudget', 'minAvailable'])).to.equal(1);
      // A rollout starts the new pod before it stops an old one.
      expect(lookup(defaults, ['updateStrategy', 'rollingUpdate', 'maxUnavailable'])).to.equal(0);
    });

    it('gives Kubernetes longer than the drain timeout before SIGKILL', () => {
      expect(defaults.drainTimeoutSeconds).to.equal(30);
      expect(defaults.terminationGracePaddingSeconds).to.be.a('number').and.greaterThan(0);
      expect(templates.get('deployment.yaml')).to.contain(
        'terminationGracePeriodSeconds: {{ add (int .Values.drainTimeoutSeconds) (int .Values.terminationGracePaddingSeconds) }}',
      );
    });

    it('runs non-root with a read-only root filesystem, no capabilities and RuntimeDefault seccomp', () => {
      expectRestrictedContainer(defaults);
      expect(lookup(defaults, ['podSecurityContext', 'seccompProfile', 'type'])).to.equal('RuntimeDefault');
    });

    it('turns the health listener on and keeps Prometheus extras off', () => {
      expect(lookup(defaults, ['health', 'enabled'])).to.equal(true);
      expect(lookup(defaults, ['metrics', 'podAnnotations'])).to.equal(false);
      expect(lookup(defaults, ['metrics', 'serviceMonitor', 'enabled'])).to.equal(false);
    });

    it('matches the agent\'s own defaults (allowed projects, parallelism, gateway connections, log format and level)', () => {
      expect(defaults.allowedProjects).to.equal('.*');
      expect(defaults.parallelism).to.equal(4);
      expect(defaults.gatewayConnections).to.equal(2);
      expect(defaults.logFormat).to.equal('json');
      expect(defaults.logLevel).to.equal('info');
      expect(defaults.debugPrintAll).to.equal(false);
    });
  });

  describe('values.schema.json', () => {
    it('is draft-07 (what Helm 3 and 4 both validate)', () => {
      expect(lookup(schema, ['$schema'])).to.equal('http://json-schema.org/draft-07/schema#');
    });

    it('accepts the defaults plus the seed\'s --set line', () => {
      expect(errorsOf(valuesWith(seedSetValues))).to.deep.equal([]);
    });

    it('requires the three credentials when no existing Secret is named', () => {
      const errors = errorsOf(defaults).join('\n');
      expect(errors).to.contain('/credentials/token');
      expect(errors).to.contain('/credentials/endpoint');
      expect(errors).to.contain('/credentials/vendor');
    });

    it('does not require them with credentials.existingSecret', () => {
      expect(errorsOf(valuesWith({ 'credentials.existingSecret': 'my-creds' }))).to.deep.equal([]);
      expect(errorsOf(valuesWith({ 'credentials.existingSecret': 'my-creds', 'credentials.vendor': 'gitlab' }))).to.deep.equal([]);
    });

    it('accepts each of the four vendors and nothing else', () => {
      for (const vendor of ['azure_devops', 'gitlab', 'bitbucket_datacenter', 'github_enterprise']) {
        expect(errorsOf(valuesWith({ ...seedSetValues, 'credentials.vendor': vendor })), vendor).to.deep.equal([]);
      }
      for (const vendor of ['GitLab', 'github', 'svn', ' gitlab']) {
        expect(errorsOf(valuesWith({ ...seedSetValues, 'credentials.vendor': vendor })), vendor).to.not.deep.equal([]);
      }
    });

    const rejected: Array<[string, Record<string, unknown>]> = [
      ['an endpoint that is not http(s)', { 'credentials.endpoint': 'ftp://gitlab.example.com' }],
      ['parallelism 0', { parallelism: 0 }],
      ['parallelism as a string', { parallelism: '4' }],
      ['a fractional parallelism', { parallelism: 1.5 }],
      ['a metadata key that is no variable-name suffix', { 'metadata.bad key': 'x' }],
      ['a metadata value over 256 characters', { 'metadata.note': 'x'.repeat(257) }],
      ['more than 32 metadata tags', Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`metadata.tag${i}`, 'x']))],
      ['an endpoint with credentials', { 'credentials.endpoint': 'https://user:pass@gitlab.example.com' }],
      ['an endpoint with a query', { 'credentials.endpoint': 'https://gitlab.example.com/?private_token=x' }],
      ['a Bugsnag key that is not 32 hex characters', { bugsnagApiKey: 'not-a-key' }],
      ['parallelism above 256', { parallelism: 257 }],
      ['gatewayConnections 0', { gatewayConnections: 0 }],
      ['gatewayConnections above 16', { gatewayConnections: 17 }],
      ['gatewayConnections as a string', { gatewayConnections: '2' }],
      ['a proxy URL with another scheme', { 'proxy.httpsProxy': 'socks5://proxy:1080' }],
      ['an unknown log format', { logFormat: 'xml' }],
      ['a port out of range', { 'health.port': 70000 }],
      ['a typo at the top level', { credential: { token: 'x' } }],
      ['a typo inside credentials', { 'credentials.tokne': 'x' }],
      ['a digest that is not sha256', { 'image.digest': 'latest' }],
      ['a negative drain timeout', { drainTimeoutSeconds: -1 }],
    ];
    for (const [what, set] of rejected) {
      it(`rejects ${what}`, () => {
        expect(errorsOf(valuesWith({ ...seedSetValues, ...set }))).to.not.deep.equal([]);
      });
    }

    it('accepts metadata tags, a path in the endpoint, Bugsnag, rules, proxies, extra env and a pinned digest', () => {
      expect(errorsOf(valuesWith({
        ...seedSetValues,
        'metadata.cluster': 'prod-eu-1',
        'metadata.team_id': 42,
        'metadata.cost-center': 'r&d',
        'credentials.endpoint': 'https://dev.azure.example.com/tfs/DefaultCollection',
        bugsnagApiKey: '0123456789abcdef0123456789ABCDEF',
        'rulesFile.existingConfigMap': 'vcs-agent-rules',
        'proxy.httpsProxy': 'http://user:secret@proxy.corp:3128',
        'proxy.noProxy': 'localhost,.svc,10.0.0.0/8',
        extraEnv: [{ name: 'GODEBUG', value: 'http2debug=1' }],
        'image.digest': `sha256:${'a'.repeat(64)}`,
      }))).to.deep.equal([]);
    });

    it('describes every key of values.yaml (no value escapes the schema)', () => {
      expect(keysOutsideSchema(defaults, schema), 'keys of values.yaml missing from values.schema.json').to.deep.equal([]);
    });
  });

  describe('templates', () => {
    it('reference only values that values.yaml defines', () => {
      expect(undefinedValueRefs(templates, defaults)).to.deep.equal([]);
    });

    it('use every value that values.yaml defines', () => {
      expect(unusedValues(templates, defaults)).to.deep.equal([]);
    });

    it('open and close their actions in balance', () => {
      expect(unbalancedTemplates(templates)).to.deep.equal([]);
    });

    it('set only variables the agent reads, and every agent option', () => {
      const deployment = templates.get('deployment.yaml') ?? '';
      const names = [...deployment.matchAll(/- name: ([A-Z][A-Z0-9_]+)\s*$/gm)].map((m) => m[1] ?? '');
      const known = new Set<string>([...agentOptionVariables, ...otherVariables]);
      expect(names.filter((n) => !known.has(n))).to.deep.equal([]);
      expect([...agentOptionVariables].filter((v) => !names.includes(v))).to.deep.equal([]);
      // Metadata tags: one SPACELIFT_METADATA_<key> per map entry.
      expect(deployment).to.contain('printf "SPACELIFT_METADATA_%s" $key');
    });

    it('never put a secret value into a plain environment variable', () => {
      const deployment = templates.get('deployment.yaml') ?? '';
      for (const secret of ['.Values.credentials.token', '.Values.bugsnagApiKey', '.Values.proxy.httpsProxy', '.Values.proxy.httpProxy']) {
        expect(deployment, secret).to.not.match(new RegExp(`value: \\{\\{ ${secret.replace(/\./g, '\\.')}`));
      }
      const secret = templates.get('secret.yaml') ?? '';
      for (const key of ['token', 'endpoint', 'vendor', 'bugsnagApiKey', 'httpsProxy', 'httpProxy']) {
        expect(secret).to.match(new RegExp(`^\\s+${key}: \\{\\{ .* \\| b64enc \\| quote \\}\\}$`, 'm'));
      }
    });

    it('probe /healthz for liveness and /readyz for readiness on the health port', () => {
      const deployment = templates.get('deployment.yaml') ?? '';
      expect(deployment).to.match(/livenessProbe:\n\s+httpGet:\n\s+path: \/healthz\n\s+port: health/);
      expect(deployment).to.match(/readinessProbe:\n\s+httpGet:\n\s+path: \/readyz\n\s+port: health/);
      expect(deployment).to.match(/- name: health\n\s+containerPort: \{\{ \.Values\.health\.port \}\}/);
    });

    it('roll the pods when the chart\'s Secret changes', () => {
      expect(templates.get('deployment.yaml')).to.contain(
        'checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}',
      );
    });

    it('ship NOTES.txt, _helpers.tpl and a README', () => {
      expect(templates.has('NOTES.txt')).to.equal(true);
      expect(templates.has('_helpers.tpl')).to.equal(true);
      expect(existsSync(join(chartDir, 'README.md'))).to.equal(true);
    });
  });

  describe('documentation', () => {
    const leaves = leafPaths(defaults);
    for (const doc of [join('docs', 'helm.md'), join('charts', 'vcs-agent', 'README.md')]) {
      it(`${doc} names every value`, () => {
        const text = readText(join(repoRoot, doc));
        expect(leaves.filter((leaf) => !text.includes(`\`${leaf}\``))).to.deep.equal([]);
      });
    }

    it('docs/helm.md gives the seed\'s install line', () => {
      expect(readText(join(repoRoot, 'docs', 'helm.md'))).to.contain(
        'helm upgrade vcs-agent spacelift/vcs-agent --install --set credentials.token=<TOKEN> --set credentials.endpoint=<ENDPOINT> --set credentials.vendor=<VENDOR>',
      );
    });
  });

  describe('the agent CLI (when present) reads what the chart sets', () => {
    it('spells out every option variable the chart relies on', function () {
      const cliFile = join(repoRoot, 'cli', 'vcs-agent.ts');
      if (!existsSync(cliFile)) this.skip();
      const sources = readdirSync(join(repoRoot, 'cli'), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.ts'))
        .map((f) => join(repoRoot, 'cli', f))
        .map(readText)
        .join('\n');
      // The variable names must be spelled out (they do not all follow the flag names).
      const missing = agentOptions.filter(([variable]) => !sources.includes(variable)).map(([variable, flag]) => `${variable} (--${flag})`);
      expect(missing).to.deep.equal([]);
    });

    it('accepts exactly the log levels the CLI knows', function () {
      const loggerFile = join(repoRoot, 'cli', 'create-logger.ts');
      if (!existsSync(loggerFile)) this.skip();
      const match = /LOG_LEVELS\s*=\s*\[([^\]]*)\]/.exec(readText(loggerFile));
      if (match === null) this.skip();
      const cliLevels = [...(match[1] ?? '').matchAll(/'([a-z]+)'/g)].map((m) => m[1]);
      expect(lookup(schema, ['properties', 'logLevel', 'enum'])).to.deep.equal(cliLevels);
    });
  });
});
