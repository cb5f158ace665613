import { expect } from 'chai';
import { AGENT_OPTIONS, BUGSNAG_ENDPOINT_ENV, agentParser, metadataFrom, resolveAgentConfig, type AgentConfig } from '../../cli/agent-options.js';
import { parseHostPort } from '../../cli/host-port.js';
import { ConfigError } from '../../cli/config-error.js';

const KEY = 'k3y-Secret-Value-0123456789';
const ULID = '01HZX3J6Q2V7N9R4T8W5Y0B1C2';
const tokenOf = (fields: Record<string, unknown>): string => Buffer.from(JSON.stringify(fields)).toString('base64');
const TOKEN = tokenOf({ host: 'https://gateway.example.com', key: KEY, pool_ulid: ULID });

const BASE_ENV: Record<string, string> = {
  SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT: 'https://gitlab.internal',
  SPACELIFT_VCS_AGENT_POOL_TOKEN: TOKEN,
  SPACELIFT_VCS_AGENT_VENDOR: 'gitlab',
};

async function resolve(argv: string[], env: Record<string, string | undefined> = BASE_ENV): Promise<AgentConfig> {
  const flags = (await agentParser(argv).exitProcess(false).parseAsync()) as Record<string, unknown>;
  return resolveAgentConfig(flags, env);
}

async function failure(argv: string[], env: Record<string, string | undefined> = BASE_ENV): Promise<ConfigError> {
  try {
    await resolve(argv, env);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${argv.join(' ')}`);
}

describe('vcs-agent options (agentParser + resolveAgentConfig)', function () {
  describe('each option, from its flag and from its variable; the flag wins', function () {
    // option flag, a value, the variable's different value, how to read it from the config
    const cases: Array<[string, string, string, (config: AgentConfig) => unknown, unknown, unknown]> = [
      ['target-base-endpoint', 'https://flag.example/gl', 'https://env.example', (c) => c.target.href, 'https://flag.example/gl', 'https://env.example/'],
      ['token', TOKEN, tokenOf({ host: 'https://other.example', key: 'other-key', pool_ulid: ULID }), (c) => c.token.host, 'https://gateway.example.com', 'https://other.example'],
      ['vendor', 'github_enterprise', 'azure_devops', (c) => c.vendor, 'github_enterprise', 'azure_devops'],
      ['allowed-projects', 'team/.*', 'other/.*', (c) => c.allowedProjects, 'team/.*', 'other/.*'],
      ['allowed-collections', 'Platform, Data Team', 'Other', (c) => c.allowedCollections, ['Platform', 'Data Team'], ['Other']],
      ['vendor-module', './flag.mjs', './env.mjs', (c) => c.vendorModule, './flag.mjs', './env.mjs'],
      ['rules-file', './flag.yaml', './env.yaml', (c) => c.rulesFile, './flag.yaml', './env.yaml'],
      ['parallelism', '8', '16', (c) => c.parallelism, 8, 16],
      ['gateway-connections', '3', '1', (c) => c.gatewayConnections, 3, 1],
      ['protocol', 'spacelift', 'vcs-agent', (c) => c.protocol, 'spacelift', 'vcs-agent'],
      ['bugsnag-api-key', 'a'.repeat(32), 'b'.repeat(32), (c) => c.bugsnagApiKey, 'a'.repeat(32), 'b'.repeat(32)],
      ['health-listen', '127.0.0.1:9100', '[::1]:9200', (c) => c.healthListen, { host: '127.0.0.1', port: 9100 }, { host: '::1', port: 9200 }],
      ['drain-timeout', '5', '0.5', (c) => c.drainTimeoutMs, 5000, 500],
      ['log-format', 'pretty', 'json', (c) => c.logFormat, 'pretty', 'json'],
      ['log-level', 'debug', 'warn', (c) => c.logLevel, 'debug', 'warn'],
    ];
    for (const [flag, flagValue, envValue, read, fromFlag, fromEnv] of cases) {
      const spec = AGENT_OPTIONS.find((option) => option.flag === flag);
      it(`--${flag} / ${spec?.env}`, async function () {
        expect(spec, `option ${flag} is declared`).to.not.equal(undefined);
        const variable = (spec as { env: string }).env;
        expect(read(await resolve([`--${flag}`, flagValue]))).to.deep.equal(fromFlag);
        expect(read(await resolve([], { ...BASE_ENV, [variable]: envValue }))).to.deep.equal(fromEnv);
        expect(read(await resolve([`--${flag}`, flagValue], { ...BASE_ENV, [variable]: envValue }))).to.deep.equal(fromFlag);
      });
    }

    it('--debug-print-all / SPACELIFT_VCS_AGENT_DEBUG_PRINT_ALL (a boolean)', async function () {
      expect((await resolve([])).debugPrintAll).to.equal(false);
      expect((await resolve(['--debug-print-all'])).debugPrintAll).to.equal(true);
      for (const value of ['true', '1', 'yes', 'TRUE']) {
        expect((await resolve([], { ...BASE_ENV, SPACELIFT_VCS_AGENT_DEBUG_PRINT_ALL: value })).debugPrintAll, value).to.equal(true);
      }
      expect((await resolve([], { ...BASE_ENV, SPACELIFT_VCS_AGENT_DEBUG_PRINT_ALL: 'false' })).debugPrintAll).to.equal(false);
      expect((await resolve(['--no-debug-print-all'], { ...BASE_ENV, SPACELIFT_VCS_AGENT_DEBUG_PRINT_ALL: 'true' })).debugPrintAll).to.equal(false);
    });

    it('--dial-insecure / SPACELIFT_VCS_AGENT_DIAL_INSECURE (a boolean, Spacelift protocol only)', async function () {
      const grpcToken = tokenOf({ host: 'gw.example.com:8443', key: 'k', pool_ulid: ULID });
      const tls = await resolve(['--protocol', 'spacelift', '--token', grpcToken]);
      expect(tls.gatewayUrl.href).to.equal('https://gw.example.com:8443/');
      const plain = await resolve(['--protocol', 'spacelift', '--token', grpcToken], { ...BASE_ENV, SPACELIFT_VCS_AGENT_DIAL_INSECURE: 'true' });
      expect(plain.dialInsecure).to.equal(true);
      expect(plain.gatewayUrl.href).to.equal('http://gw.example.com:8443/');
      expect((await failure(['--dial-insecure'])).message).to.include('--dial-insecure / SPACELIFT_VCS_AGENT_DIAL_INSECURE').and.include('only with --protocol spacelift');
      expect((await failure(['--protocol', 'spacelift', '--dial-insecure'])).message).to.include('--dial-insecure').and.include('contradicts');
      expect((await failure(['--protocol', 'grpc'])).message).to.include('--protocol / SPACELIFT_VCS_AGENT_PROTOCOL').and.include('expected vcs-agent or spacelift');
      // Our protocol still wants a URL; a host:port token is refused naming the token.
      expect((await failure(['--token', grpcToken])).message).to.include('--token / SPACELIFT_VCS_AGENT_POOL_TOKEN').and.not.include('"k"');
    });

    it('every declared option is covered by this table', function () {
      const covered = new Set([...cases.map(([flag]) => flag), 'debug-print-all', 'dial-insecure']);
      expect(AGENT_OPTIONS.map((option) => option.flag).filter((flag) => !covered.has(flag))).to.deep.equal([]);
    });

    it('applies the documented defaults', async function () {
      const config = await resolve([]);
      expect(config.allowedCollections).to.deep.equal(['DefaultCollection']);
      expect(config).to.include({ allowedProjects: '.*', parallelism: 4, gatewayConnections: 2, debugPrintAll: false, drainTimeoutMs: 30_000, logFormat: 'json', logLevel: 'info', http2debug: 0 });
      expect(config.healthListen).to.equal(undefined);
      expect(config.bugsnagApiKey).to.equal(undefined);
      expect(config.gatewayProxy).to.equal(undefined);
      expect(config.targetProxy).to.equal(undefined);
      expect(config.metadata).to.deep.equal({});
    });

    it('treats an empty variable as unset', async function () {
      expect((await resolve([], { ...BASE_ENV, SPACELIFT_VCS_AGENT_PARALLELISM: '' })).parallelism).to.equal(4);
    });
  });

  describe('validation: messages name the flag and the variable', function () {
    const bad: Array<[string, string[], Record<string, string>, RegExp]> = [
      ['missing target', [], { SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT: '' }, /Missing --target-base-endpoint \/ SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT/],
      ['target not a URL', ['--target-base-endpoint', 'gitlab.internal'], {}, /--target-base-endpoint \/ SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT.*expected an http:\/\/ or https:\/\/ URL/],
      ['target ftp', ['--target-base-endpoint', 'ftp://gitlab.internal'], {}, /--target-base-endpoint \/ SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT.*ftp: is not http: or https:/],
      ['target with credentials', ['--target-base-endpoint', 'https://u:p@gitlab.internal'], {}, /--target-base-endpoint.*no credentials/],
      ['missing token', [], { SPACELIFT_VCS_AGENT_POOL_TOKEN: '' }, /Missing --token \/ SPACELIFT_VCS_AGENT_POOL_TOKEN/],
      ['token not base64', ['--token', 'not base64!'], {}, /--token \/ SPACELIFT_VCS_AGENT_POOL_TOKEN.*not base64/],
      ['token not JSON', ['--token', Buffer.from('hello').toString('base64')], {}, /--token \/ SPACELIFT_VCS_AGENT_POOL_TOKEN.*not base64 of JSON/],
      ['token without host', ['--token', tokenOf({ key: KEY, pool_ulid: ULID })], {}, /--token \/ SPACELIFT_VCS_AGENT_POOL_TOKEN.*no "host" field/],
      ['token without key', ['--token', tokenOf({ host: 'https://g.example', pool_ulid: ULID })], {}, /--token \/ SPACELIFT_VCS_AGENT_POOL_TOKEN.*no "key" field/],
      ['token without pool_ulid', ['--token', tokenOf({ host: 'https://g.example', key: KEY })], {}, /--token \/ SPACELIFT_VCS_AGENT_POOL_TOKEN.*no "pool_ulid" field/],
      ['missing vendor', [], { SPACELIFT_VCS_AGENT_VENDOR: '' }, /Missing --vendor \/ SPACELIFT_VCS_AGENT_VENDOR/],
      ['bad vendor lists the four', ['--vendor', 'gitea'], {}, /--vendor \/ SPACELIFT_VCS_AGENT_VENDOR "gitea": expected one of gitlab, github_enterprise, azure_devops, bitbucket_datacenter/],
      ['bad regexp', ['--allowed-projects', 'team/(unclosed'], {}, /--allowed-projects \/ SPACELIFT_VCS_AGENT_ALLOWED_PROJECTS/],
      ['bad collection', ['--allowed-collections', 'Default,a/b'], {}, /--allowed-collections \/ SPACELIFT_VCS_AGENT_ALLOWED_COLLECTIONS: allowed-collections: "a\/b" is not a collection name/],
      ['empty collection', [], { SPACELIFT_VCS_AGENT_ALLOWED_COLLECTIONS: 'Default,,Other' }, /--allowed-collections \/ SPACELIFT_VCS_AGENT_ALLOWED_COLLECTIONS/],
      ['parallelism zero', ['--parallelism', '0'], {}, /--parallelism \/ SPACELIFT_VCS_AGENT_PARALLELISM "0": expected a whole number from 1 to 256/],
      ['parallelism fraction', ['--parallelism', '1.5'], {}, /--parallelism \/ SPACELIFT_VCS_AGENT_PARALLELISM "1.5"/],
      ['parallelism words', [], { SPACELIFT_VCS_AGENT_PARALLELISM: 'four' }, /--parallelism \/ SPACELIFT_VCS_AGENT_PARALLELISM "four"/],
      ['parallelism too big', ['--parallelism', '257'], {}, /--parallelism.*1 to 256/],
      ['gateway connections zero', ['--gateway-connections', '0'], {}, /--gateway-connections \/ SPACELIFT_VCS_AGENT_GATEWAY_CONNECTIONS "0": expected a whole number from 1 to 16/],
      ['gateway connections too many', [], { SPACELIFT_VCS_AGENT_GATEWAY_CONNECTIONS: '17' }, /--gateway-connections \/ SPACELIFT_VCS_AGENT_GATEWAY_CONNECTIONS "17": expected a whole number from 1 to 16/],
      ['gateway connections fraction', ['--gateway-connections', '1.5'], {}, /--gateway-connections \/ SPACELIFT_VCS_AGENT_GATEWAY_CONNECTIONS "1.5"/],
      ['gateway connections words', [], { SPACELIFT_VCS_AGENT_GATEWAY_CONNECTIONS: 'two' }, /--gateway-connections \/ SPACELIFT_VCS_AGENT_GATEWAY_CONNECTIONS "two"/],
      ['drain timeout negative', ['--drain-timeout', '-1'], {}, /--drain-timeout \/ SPACELIFT_VCS_AGENT_DRAIN_TIMEOUT/],
      ['drain timeout words', [], { SPACELIFT_VCS_AGENT_DRAIN_TIMEOUT: 'soon' }, /--drain-timeout \/ SPACELIFT_VCS_AGENT_DRAIN_TIMEOUT "soon"/],
      ['bad log format', ['--log-format', 'xml'], {}, /--log-format \/ SPACELIFT_VCS_AGENT_LOG_FORMAT "xml": expected one of json, pretty/],
      ['bad log level', [], { SPACELIFT_VCS_AGENT_LOG_LEVEL: 'trace' }, /--log-level \/ SPACELIFT_VCS_AGENT_LOG_LEVEL "trace"/],
      ['bad boolean', [], { SPACELIFT_VCS_AGENT_DEBUG_PRINT_ALL: 'maybe' }, /--debug-print-all \/ SPACELIFT_VCS_AGENT_DEBUG_PRINT_ALL "maybe": expected true or false/],
      ['bad health address', ['--health-listen', '9100'], {}, /--health-listen \/ SPACELIFT_VCS_AGENT_HEALTH_LISTEN "9100": expected HOST:PORT/],
      ['health port too big', [], { SPACELIFT_VCS_AGENT_HEALTH_LISTEN: '0.0.0.0:70000' }, /--health-listen.*expected HOST:PORT/],
      ['bad bugsnag key', ['--bugsnag-api-key', 'short'], {}, /--bugsnag-api-key \/ SPACELIFT_VCS_AGENT_BUGSNAG_API_KEY: expected a 32-character hexadecimal/],
      ['bad bugsnag endpoint', [], { [BUGSNAG_ENDPOINT_ENV]: 'notify.local' }, /SPACELIFT_VCS_AGENT_BUGSNAG_ENDPOINT: expected an http:\/\/ or https:\/\/ URL/],
      ['bad HTTPS_PROXY', [], { HTTPS_PROXY: 'socks5://proxy:1080' }, /HTTPS_PROXY/],
      ['bad https_proxy (lower case)', [], { https_proxy: 'socks5://proxy:1080' }, /HTTPS_PROXY/],
      ['bad HTTP_PROXY', [], { HTTP_PROXY: 'ftp://proxy' }, /HTTP_PROXY/],
      ['bad NO_PROXY', [], { HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: '10.0.0.0/99' }, /NO_PROXY/],
      ['bad GODEBUG', [], { GODEBUG: 'http2debug=3' }, /GODEBUG: http2debug="3" is not valid; expected 0, 1 or 2/],
      ['bad metadata name', [], { 'SPACELIFT_METADATA_bad name': 'x' }, /SPACELIFT_METADATA_bad name/],
      ['metadata value too long', [], { SPACELIFT_METADATA_team: 'x'.repeat(257) }, /SPACELIFT_METADATA_team: expected at most 256 printable characters/],
    ];
    for (const [what, argv, env, pattern] of bad) {
      it(what, async function () {
        const error = await failure(argv, { ...BASE_ENV, ...env });
        expect(error.message).to.match(pattern);
        expect(error.code).to.equal('VCS_INVALID_OPTION');
        expect(error.message, 'never echoes the pool key').to.not.include(KEY);
      });
    }

    it('never echoes proxy credentials', async function () {
      const error = await failure([], { ...BASE_ENV, HTTPS_PROXY: 'socks5://user:hunter2-secret@proxy:1080' });
      expect(error.message).to.match(/HTTPS_PROXY/);
      expect(error.message).to.not.include('hunter2-secret');
    });

    it('rejects a flag given twice', async function () {
      const error = await failure(['--vendor', 'gitlab', '--vendor', 'gitlab']);
      expect(error.message).to.match(/--vendor \/ SPACELIFT_VCS_AGENT_VENDOR was given more than once/);
    });

    it('rejects unknown flags (strict)', async function () {
      try {
        await agentParser(['--paralelism', '3']).exitProcess(false).parseAsync();
        expect.fail('expected a ConfigError');
      } catch (error) {
        expect(error).to.be.instanceOf(ConfigError);
        expect((error as Error).message).to.match(/paralelism/);
      }
    });
  });

  describe('proxy, GODEBUG and metadata from the environment', function () {
    it('resolves HTTPS_PROXY for the gateway and the https target, keeping credentials for the proxy only', async function () {
      const config = await resolve([], { ...BASE_ENV, HTTPS_PROXY: 'http://user:pa%40ss@proxy.corp:3128' });
      expect(config.gatewayProxy?.host).to.equal('proxy.corp:3128');
      expect(config.targetProxy?.host).to.equal('proxy.corp:3128');
    });

    it('uses HTTP_PROXY for an http:// target and HTTPS_PROXY for the gateway', async function () {
      const config = await resolve(['--target-base-endpoint', 'http://gitlab.internal'], {
        ...BASE_ENV,
        HTTPS_PROXY: 'http://secure-proxy:3128',
        http_proxy: 'http://plain-proxy:3128',
      });
      expect(config.gatewayProxy?.hostname).to.equal('secure-proxy');
      expect(config.targetProxy?.hostname).to.equal('plain-proxy');
    });

    it('honours NO_PROXY (domain suffix) and never proxies loopback', async function () {
      const bypassTarget = await resolve([], { ...BASE_ENV, HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: '.internal' });
      expect(bypassTarget.targetProxy).to.equal(undefined);
      expect(bypassTarget.gatewayProxy?.hostname).to.equal('proxy');
      const loopback = await resolve(['--target-base-endpoint', 'https://127.0.0.1:8443'], { ...BASE_ENV, HTTPS_PROXY: 'http://proxy:3128' });
      expect(loopback.targetProxy).to.equal(undefined);
      const all = await resolve([], { ...BASE_ENV, HTTPS_PROXY: 'http://proxy:3128', no_proxy: '*' });
      expect(all.gatewayProxy).to.equal(undefined);
      expect(all.targetProxy).to.equal(undefined);
    });

    it('reads GODEBUG=http2debug (other GODEBUG keys are ignored)', async function () {
      expect((await resolve([], { ...BASE_ENV, GODEBUG: 'http2debug=2' })).http2debug).to.equal(2);
      expect((await resolve([], { ...BASE_ENV, GODEBUG: 'madvdontneed=1,http2debug=1' })).http2debug).to.equal(1);
      expect((await resolve([], { ...BASE_ENV, GODEBUG: 'gctrace=1' })).http2debug).to.equal(0);
    });

    it('turns SPACELIFT_METADATA_<key> variables into tags, bounded in count and size', function () {
      expect(metadataFrom({ SPACELIFT_METADATA_team: 'platform', SPACELIFT_METADATA_region: 'eu-west-1', OTHER: 'x' })).to.deep.equal({ team: 'platform', region: 'eu-west-1' });
      const many: Record<string, string> = {};
      for (let i = 0; i < 33; i++) many[`SPACELIFT_METADATA_tag${i}`] = 'v';
      expect(() => metadataFrom(many)).to.throw(ConfigError, /at most 32 tags/);
    });

    it('parses HOST:PORT forms', function () {
      expect(parseHostPort('0.0.0.0:8080', '--health-listen')).to.deep.equal({ host: '0.0.0.0', port: 8080 });
      expect(parseHostPort('localhost:0', '--health-listen')).to.deep.equal({ host: 'localhost', port: 0 });
      expect(parseHostPort('[::]:9000', '--health-listen')).to.deep.equal({ host: '::', port: 9000 });
      expect(() => parseHostPort('::1:9000', '--health-listen')).to.throw(ConfigError);
    });
  });
});
