// The gateway chart from its files, without helm: Chart.yaml, values.yaml against
// values.schema.json (Ajv, draft-07, the dialect Helm validates), the values the templates
// use against the ones values.yaml defines, the variables and flags against what
// `vcs-gateway serve` reads (cli/gateway-main.ts), and every value against the docs.
import { expect } from 'chai';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  expectRestrictedContainer,
  gatewayServeFlags,
  keysOutsideSchema,
  leafPaths,
  loadChart,
  unbalancedTemplates,
  undefinedValueRefs,
  unusedValues,
} from './chart-files.js';
import {
  gatewayChartDir,
  gatewayInstallValues,
  gatewayOptions,
  gatewayPeerOptions,
  lookup,
  readText,
  readYaml,
  repoRoot,
  skipWith,
} from './tools.js';

const { templates, defaults, schema, valuesWith, errorsOf } = loadChart(gatewayChartDir);
const cliSources = readdirSync(join(repoRoot, 'cli')).filter((f) => f.endsWith('.ts')).map((f) => readText(join(repoRoot, 'cli', f))).join('\n');
const gatewayMain = readText(join(repoRoot, 'cli', 'gateway-main.ts'));

describe('Helm chart charts/vcs-gateway (files)', () => {
  describe('Chart.yaml', () => {
    const chart = readYaml(join(gatewayChartDir, 'Chart.yaml'));
    const pkg: unknown = JSON.parse(readText(join(repoRoot, 'package.json')));

    it('is a v2 application chart named vcs-gateway', () => {
      expect(lookup(chart, ['apiVersion'])).to.equal('v2');
      expect(lookup(chart, ['name'])).to.equal('vcs-gateway');
      expect(lookup(chart, ['type'])).to.equal('application');
    });

    it('is released with the package: version and appVersion are package.json\'s', () => {
      expect(lookup(chart, ['version'])).to.equal(lookup(pkg, ['version']));
      expect(lookup(chart, ['appVersion'])).to.equal(lookup(pkg, ['version']));
    });
  });

  describe('values.yaml defaults', () => {
    it('runs three replicas with a PodDisruptionBudget of maxUnavailable 1, surging on rollouts', () => {
      expect(defaults.replicaCount).to.equal(3);
      expect(lookup(defaults, ['podDisruptionBudget'])).to.deep.equal({ enabled: true, maxUnavailable: 1 });
      expect(lookup(defaults, ['updateStrategy', 'rollingUpdate'])).to.deep.equal({ maxSurge: 1, maxUnavailable: 0 });
    });

    it('holds no secret and no Redis: each must be given (or named in an existing Secret)', () => {
      expect(defaults.gatewayUrl).to.equal('');
      expect(lookup(defaults, ['redis', 'url'])).to.equal('');
      for (const part of ['admin', 'frontDoor', 'peer']) {
        expect(lookup(defaults, [part, 'token']), part).to.equal('');
        expect(lookup(defaults, [part, 'existingSecret']), part).to.equal('');
      }
    });

    it('gives every listener its own port', () => {
      const ports = ['agents', 'frontDoor', 'admin', 'peer', 'spacelift'].map((part) => lookup(defaults, [part, 'port']));
      expect(new Set(ports).size).to.equal(ports.length);
    });

    it('gives Kubernetes longer than the preStop sleep plus --shutdown-grace before SIGKILL', () => {
      expect(defaults.shutdownGraceSeconds).to.equal(30);
      expect(defaults.terminationGracePaddingSeconds).to.be.a('number').and.greaterThan(0);
      expect(templates.get('deployment.yaml')).to.contain(
        'terminationGracePeriodSeconds: {{ add (int .Values.preStopSleepSeconds) (int .Values.shutdownGraceSeconds) (int .Values.terminationGracePaddingSeconds) }}',
      );
    });

    it('runs non-root with a read-only root filesystem, no capabilities, RuntimeDefault seccomp and no service-account token', () => {
      expectRestrictedContainer(defaults);
      expect(defaults.automountServiceAccountToken).to.equal(false);
    });

    it('runs the project\'s image (the agent chart\'s repository) and keeps the NetworkPolicy on', () => {
      const agentValues = readYaml(join(repoRoot, 'charts', 'vcs-agent', 'values.yaml'));
      expect(lookup(defaults, ['image', 'repository'])).to.equal(lookup(agentValues, ['image', 'repository']));
      expect(lookup(defaults, ['networkPolicy', 'enabled'])).to.equal(true);
    });

    it('matches the gateway\'s own defaults (timeouts, limits, log format and level)', () => {
      const cliDefault = (flag: string): unknown => {
        const match = new RegExp(`\\.option\\('${flag}', \\{[^}]*default: ([^,}]+)`).exec(gatewayMain);
        return match === null ? undefined : JSON.parse((match[1] ?? '').trim().replace(/ as const$/, '').replace(/'/g, '"')) as unknown;
      };
      const pairs: Array<[string, string[]]> = [
        ['queue-timeout', ['queueTimeoutSeconds']],
        ['revalidate-interval', ['revalidateIntervalSeconds']],
        ['access-log-size', ['accessLogSize']],
        ['shutdown-grace', ['shutdownGraceSeconds']],
        ['agent-keepalive-interval', ['agents', 'keepaliveIntervalSeconds']],
        ['agent-keepalive-timeout', ['agents', 'keepaliveTimeoutSeconds']],
        ['front-door-headers-timeout', ['frontDoor', 'headersTimeoutSeconds']],
        ['front-door-body-idle-timeout', ['frontDoor', 'bodyIdleTimeoutSeconds']],
        ['front-door-request-timeout', ['frontDoor', 'requestTimeoutSeconds']],
        ['admin-token-failure-limit', ['admin', 'tokenFailureLimit']],
        ['admin-public-metrics', ['admin', 'publicMetrics']],
        ['log-format', ['logFormat']],
        ['log-level', ['logLevel']],
      ];
      for (const [flag, path] of pairs) expect(lookup(defaults, path), `--${flag}`).to.equal(cliDefault(flag)).and.not.equal(undefined);
    });
  });

  describe('values.schema.json', () => {
    it('is draft-07 (what Helm 3 and 4 both validate)', () => {
      expect(lookup(schema, ['$schema'])).to.equal('http://json-schema.org/draft-07/schema#');
    });

    it('accepts the defaults plus the install line', () => {
      expect(errorsOf(valuesWith(gatewayInstallValues))).to.deep.equal([]);
    });

    it('accepts existing Secrets, TLS, Spacelift\'s listener, IPv6, a load balancer and a ServiceMonitor', () => {
      expect(errorsOf(valuesWith({
        gatewayUrl: 'https://vcs-gateway.example.com',
        'redis.existingSecret': 'gateway-redis',
        'redis.existingSecretKey': 'url',
        'admin.existingSecret': 'gateway-tokens',
        'frontDoor.existingSecret': 'gateway-tokens',
        'peer.existingSecret': 'gateway-tokens',
        'agents.tls.existingSecret': 'vcs-gateway-tls',
        'agents.service.type': 'LoadBalancer',
        'agents.service.loadBalancerSourceRanges': ['203.0.113.0/24', '2001:db8::/32'],
        'agents.service.externalTrafficPolicy': 'Local',
        'spacelift.enabled': true,
        listenHost: '::',
        'metrics.serviceMonitor.enabled': true,
        'podDisruptionBudget.maxUnavailable': '34%',
        'networkPolicy.frontDoor.from': [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'platform' } } }],
        'image.digest': `sha256:${'a'.repeat(64)}`,
        extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=384' }],
      }))).to.deep.equal([]);
    });

    const rejected: Array<[string, Record<string, unknown>, string]> = [
      ['zero replicas', { replicaCount: 0 }, '/replicaCount'],
      ['a negative replica count', { replicaCount: -1 }, '/replicaCount'],
      ['a replica count as a string', { replicaCount: '3' }, '/replicaCount'],
      ['a fractional replica count', { replicaCount: 1.5 }, '/replicaCount'],
      ['a Redis URL that is not redis:// or rediss://', { 'redis.url': 'http://redis:6379' }, '/redis/url'],
      ['a gateway URL that is not http(s)', { gatewayUrl: 'h2://vcs-gateway.example.com' }, '/gatewayUrl'],
      ['a gateway URL with credentials', { gatewayUrl: 'https://user:pw@vcs-gateway.example.com' }, '/gatewayUrl'],
      ['an admin token under 16 characters', { 'admin.token': 'short' }, '/admin/token'],
      ['a front-door token with a space', { 'frontDoor.token': 'sixteen chars or more' }, '/frontDoor/token'],
      ['a peer token with a newline', { 'peer.token': 'abcdefghijklmnop\n' }, '/peer/token'],
      ['port 0', { 'agents.port': 0 }, '/agents/port'],
      ['a port above 65535', { 'peer.port': 70000 }, '/peer/port'],
      ['a port as a string', { 'admin.port': '8444' }, '/admin/port'],
      ['a Service port above 65535', { 'frontDoor.service.port': 65536 }, '/frontDoor/service/port'],
      ['a Service type that does not exist', { 'agents.service.type': 'Ingress' }, '/agents/service/type'],
      ['a PDB that allows no disruption', { 'podDisruptionBudget.maxUnavailable': 0 }, '/podDisruptionBudget/maxUnavailable'],
      ['a shutdown grace of 0', { shutdownGraceSeconds: 0 }, '/shutdownGraceSeconds'],
      ['an unknown log level', { logLevel: 'verbose' }, '/logLevel'],
      ['a Secret name that is no DNS name', { 'redis.existingSecret': 'My_Secret' }, '/redis/existingSecret'],
      ['a typo at the top level', { gatewayURL: 'https://x' }, ''],
      ['a typo inside a section', { 'admin.tokne': 'x' }, '/admin'],
      ['a digest that is not sha256', { 'image.digest': 'latest' }, '/image/digest'],
    ];
    for (const [what, set, path] of rejected) {
      it(`rejects ${what}, naming ${path === '' ? 'the top level' : path}`, () => {
        const errors = errorsOf(valuesWith({ ...gatewayInstallValues, ...set }));
        expect(errors).to.not.deep.equal([]);
        expect(errors.some((e) => e.startsWith(`${path} `))).to.equal(true, errors.join('\n'));
      });
    }

    it('describes every key of values.yaml (no value escapes the schema)', () => {
      expect(keysOutsideSchema(defaults, schema), 'keys of values.yaml missing from values.schema.json').to.deep.equal([]);
    });

    it('offers exactly the log formats and levels the CLI knows', () => {
      const list = (name: string): string[] => [...(new RegExp(`${name}\\s*=\\s*\\[([^\\]]*)\\]`).exec(cliSources)?.[1] ?? '').matchAll(/'([a-z]+)'/g)].map((m) => m[1] ?? '');
      expect(lookup(schema, ['properties', 'logLevel', 'enum'])).to.deep.equal(list('LOG_LEVELS')).and.not.deep.equal([]);
      expect(lookup(schema, ['properties', 'logFormat', 'enum'])).to.deep.equal(list('LOG_FORMATS')).and.not.deep.equal([]);
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

    it('never put a secret value into the pod spec: only the chart\'s Secret holds them, base64-encoded', () => {
      for (const file of ['deployment.yaml', 'servicemonitor.yaml', 'NOTES.txt']) {
        for (const secret of ['.Values.redis.url', '.Values.admin.token', '.Values.frontDoor.token', '.Values.peer.token']) {
          expect(templates.get(file), `${file}: ${secret}`).to.not.match(new RegExp(`\\{\\{[^}]*${secret.replace(/\./g, '\\.')}(?![A-Za-z])[^}]*\\| *quote`));
        }
      }
      expect(templates.get('secret.yaml')).to.match(/^\s+\{\{ index \$item 4 \}\}: \{\{ \. \| b64enc \| quote \}\}$/m);
    });

    it('roll the pods when the chart\'s Secret changes', () => {
      expect(templates.get('deployment.yaml')).to.contain(
        'checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}',
      );
    });

    it('ship NOTES.txt, _helpers.tpl, .helmignore and a README', () => {
      expect(templates.has('NOTES.txt')).to.equal(true);
      expect(templates.has('_helpers.tpl')).to.equal(true);
      expect(existsSync(join(gatewayChartDir, '.helmignore'))).to.equal(true);
      expect(existsSync(join(gatewayChartDir, 'README.md'))).to.equal(true);
    });
  });

  describe('the gateway CLI reads what the chart sets', () => {
    it('spells out every variable of the chart\'s options in cli/', () => {
      const missing = gatewayOptions.filter(([variable]) => !cliSources.includes(variable)).map(([variable, flag]) => `${variable} (--${flag})`);
      expect(missing).to.deep.equal([]);
    });

    it('declares every flag of those options on `vcs-gateway serve`', () => {
      const flags = gatewayServeFlags(gatewayMain);
      expect(flags.size).to.be.greaterThan(20);
      expect(gatewayOptions.map(([, flag]) => flag).filter((flag) => !flags.has(flag))).to.deep.equal([]);
    });

    it('reads the peer variables (VCS_GATEWAY_PEER_LISTEN, _URL, _TOKEN) once the peer flags are on this branch', function () {
      const flags = gatewayServeFlags(gatewayMain);
      const landed = gatewayPeerOptions.filter(([variable, flag]) => cliSources.includes(variable) || flags.has(flag));
      if (landed.length === 0) {
        // The chart sets them ahead of the CLI (a gateway without them ignores the variables).
        skipWith(this, 'pending: no --peer-* flag in cli/gateway-main.ts yet');
      }
      const missing = gatewayPeerOptions.filter(([variable, flag]) => !cliSources.includes(variable) || !flags.has(flag)).map(([variable, flag]) => `${variable} (--${flag})`);
      expect(missing).to.deep.equal([]);
    });
  });

  describe('documentation', () => {
    const leaves = leafPaths(defaults);
    for (const doc of [join('docs', 'helm-gateway.md'), join('charts', 'vcs-gateway', 'README.md')]) {
      it(`${doc} names every value`, () => {
        const text = readText(join(repoRoot, doc));
        expect(leaves.filter((leaf) => !text.includes(`\`${leaf}\``))).to.deep.equal([]);
      });
    }

    it('the chart README says Redis is not part of the chart', () => {
      expect(readText(join(gatewayChartDir, 'README.md'))).to.match(/Redis is not part of (this|the) chart/);
    });

    it('README.md links docs/helm-gateway.md from its documentation table', () => {
      expect(readText(join(repoRoot, 'README.md'))).to.contain('(docs/helm-gateway.md)');
    });
  });
});
