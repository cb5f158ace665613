import { expect } from 'chai';
import { AGENT_OPTIONS } from '../../cli/agent-options.js';
import { waitFor } from '../helpers/wait-for.js';
import { cleanEnv, spawnAgent, startGateway, startVcs, waitForAgents, type GatewayFixture, type SpawnedAgent, type VcsFixture } from './cli-harness.js';

const ULID = '01HZX3J6Q2V7N9R4T8W5Y0B1C2';
const KEY = 'never-print-this-pool-key-7f3a';
const TOKEN = Buffer.from(JSON.stringify({ host: 'http://127.0.0.1:9', key: KEY, pool_ulid: ULID })).toString('base64');

describe('vcs-agent CLI (spawned)', function () {
  this.timeout(60_000);

  describe('--help', function () {
    it('lists every flag with its variable and default, grouped', async function () {
      const agent = spawnAgent(['--help'], cleanEnv({ COLUMNS: '200' }));
      expect(await agent.exited()).to.equal(0);
      const help = agent.stdout().replace(/\s+/g, ' ');
      for (const option of AGENT_OPTIONS) {
        expect(help, option.flag).to.include(`--${option.flag}`);
        expect(help, option.env).to.include(`[env: ${option.env}]`);
        if (option.default !== undefined) expect(help, `${option.flag} default`).to.match(new RegExp(`${option.env}\\] \\[default: ${option.default.replace(/[.*]/g, '\\$&')}\\]`));
      }
      for (const group of ['Required:', 'Request policy:', 'Connection:', 'Operations:']) expect(help).to.include(group);
      for (const variable of ['SPACELIFT_METADATA_<key>', 'HTTPS_PROXY', 'NO_PROXY', 'GODEBUG=http2debug', 'NODE_EXTRA_CA_CERTS', 'SPACELIFT_VCS_AGENT_BUGSNAG_ENDPOINT']) {
        expect(help).to.include(variable);
      }
      expect(help).to.match(/Exit codes: 0 .* 1 .* 2 bad configuration.* 3 credentials refused/);
    });
  });

  describe('bad input: one clear line on stderr, exit 2, no stack trace', function () {
    const base = {
      SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT: 'https://gitlab.internal',
      SPACELIFT_VCS_AGENT_POOL_TOKEN: TOKEN,
      SPACELIFT_VCS_AGENT_VENDOR: 'gitlab',
    };
    const cases: Array<[string, string[], Record<string, string>, RegExp]> = [
      ['unknown vendor', ['--vendor', 'gitea'], {}, /--vendor \/ SPACELIFT_VCS_AGENT_VENDOR "gitea": expected one of gitlab, github_enterprise, azure_devops, bitbucket_datacenter/],
      ['bad regexp', [], { SPACELIFT_VCS_AGENT_ALLOWED_PROJECTS: '(oops' }, /--allowed-projects \/ SPACELIFT_VCS_AGENT_ALLOWED_PROJECTS/],
      ['parallelism', ['--parallelism', 'lots'], {}, /--parallelism \/ SPACELIFT_VCS_AGENT_PARALLELISM "lots": expected a whole number/],
      ['gateway connections (flag)', ['--gateway-connections', '0'], {}, /--gateway-connections \/ SPACELIFT_VCS_AGENT_GATEWAY_CONNECTIONS "0": expected a whole number from 1 to 16/],
      ['gateway connections (variable)', [], { SPACELIFT_VCS_AGENT_GATEWAY_CONNECTIONS: 'many' }, /--gateway-connections \/ SPACELIFT_VCS_AGENT_GATEWAY_CONNECTIONS "many": expected a whole number from 1 to 16/],
      ['token', [], { SPACELIFT_VCS_AGENT_POOL_TOKEN: 'e30=' }, /--token \/ SPACELIFT_VCS_AGENT_POOL_TOKEN: The pool token has no "host" field/],
      ['target scheme', ['--target-base-endpoint', 'ssh://git@gitlab.internal'], {}, /--target-base-endpoint \/ SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT/],
      ['missing required', [], { SPACELIFT_VCS_AGENT_VENDOR: '' }, /Missing --vendor \/ SPACELIFT_VCS_AGENT_VENDOR/],
      ['unknown flag', ['--paralelism', '2'], {}, /paralelism/],
      ['proxy', [], { HTTPS_PROXY: 'socks5://user:pw-secret-123@proxy:1080' }, /HTTPS_PROXY/],
      ['GODEBUG', [], { GODEBUG: 'http2debug=9' }, /GODEBUG/],
      ['health address', ['--health-listen', 'nowhere'], {}, /--health-listen \/ SPACELIFT_VCS_AGENT_HEALTH_LISTEN/],
    ];
    for (const [what, args, env, pattern] of cases) {
      it(what, async function () {
        const agent = spawnAgent(args, cleanEnv({ ...base, ...env }));
        expect(await agent.exited()).to.equal(2);
        const lines = agent.stderr().trimEnd().split('\n');
        expect(lines[0]).to.match(/^vcs-agent: /);
        expect(lines[0]).to.match(pattern);
        expect(lines.slice(1)).to.deep.equal(['Run vcs-agent --help for the options.']);
        expect(agent.stderr()).to.not.match(/\n\s+at /);
        expect(agent.stderr()).to.not.include(KEY);
        expect(agent.stderr()).to.not.include('pw-secret-123');
        expect(agent.stdout()).to.equal('');
      });
    }
  });

  describe('against a real gateway', function () {
    let gateway: GatewayFixture;
    let vcs: VcsFixture;
    let agent: SpawnedAgent | undefined;
    beforeEach(async function () {
      gateway = await startGateway();
      vcs = await startVcs();
    });
    afterEach(async function () {
      agent?.kill('SIGKILL');
      agent = undefined;
      await gateway.close();
      await vcs.close();
    });
    const env = (extra: Record<string, string> = {}): Record<string, string> =>
      cleanEnv({
        SPACELIFT_VCS_AGENT_POOL_TOKEN: gateway.token,
        SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT: vcs.url,
        SPACELIFT_VCS_AGENT_VENDOR: 'gitlab',
        SPACELIFT_VCS_AGENT_PARALLELISM: '2',
        ...extra,
      });

    it('exits 3 when the gateway refuses the pool key, without printing it', async function () {
      const wrong = JSON.parse(Buffer.from(gateway.token, 'base64').toString('utf8')) as Record<string, string>;
      wrong.key = KEY;
      agent = spawnAgent([], env({ SPACELIFT_VCS_AGENT_POOL_TOKEN: Buffer.from(JSON.stringify(wrong)).toString('base64') }));
      expect(await agent.exited()).to.equal(3);
      expect(agent.logs().some((line) => line.message === 'the gateway refused the pool credentials' && line.level === 'error')).to.equal(true);
      expect(agent.stdout() + agent.stderr()).to.not.include(KEY);
    });

    it('keeps two gateway connections by default, --gateway-connections / SPACELIFT_VCS_AGENT_GATEWAY_CONNECTIONS of them when set, each naming itself in its log line', async function () {
      const connections = async (count: number): Promise<void> => {
        const spawned = agent as SpawnedAgent;
        // Logged once the gateway accepted every stream of that connection.
        for (let slot = 0; slot < count; slot++) await spawned.waitForLog((line) => line.message === 'connected to gateway' && line.slot === slot, 15_000, `slot ${slot} connected`);
        await waitForAgents(gateway, 1, 15_000, count);
        const live = gateway.gateway.connections(gateway.pool);
        expect(live, 'connections on the gateway').to.have.length(count);
        // One agent: every connection carries the same agent id, each its own streams.
        expect(new Set(live.map((connection) => connection.agentId)).size).to.equal(1);
        for (const connection of live) expect(connection.streamsIdle + connection.streamsBusy).to.equal(2);
        spawned.kill('SIGKILL');
        await spawned.exited();
        await waitFor(() => gateway.gateway.connections(gateway.pool).length === 0, 5_000, 'the killed agent\'s connections gone');
      };
      agent = spawnAgent([], env());
      await connections(2);
      agent = spawnAgent(['--gateway-connections', '3'], env());
      await connections(3);
      agent = spawnAgent([], env({ SPACELIFT_VCS_AGENT_GATEWAY_CONNECTIONS: '1' }));
      await connections(1);
    });

    it('sends SPACELIFT_METADATA_* as tags the gateway shows per connection', async function () {
      agent = spawnAgent([], env({ SPACELIFT_METADATA_team: 'platform', SPACELIFT_METADATA_region: 'eu-west-1' }));
      await waitForAgents(gateway, 1);
      expect(gateway.gateway.connections(gateway.pool)[0]?.metadata).to.deep.equal({ team: 'platform', region: 'eu-west-1' });
    });

    it('logs JSON lines by default and readable lines with --log-format pretty', async function () {
      agent = spawnAgent([], env());
      await waitForAgents(gateway, 1);
      // The gateway can register the agent before the agent's own "connected" line is flushed.
      const json = (await agent.waitForStdout(/"message":"connected to gateway"/)).trim().split('\n');
      expect(json.length).to.be.greaterThan(1);
      for (const line of json) expect(() => JSON.parse(line), line).to.not.throw();
      agent.kill('SIGKILL');
      await agent.exited();
      agent = spawnAgent(['--log-format', 'pretty', '--log-level', 'debug'], env());
      await waitForAgents(gateway, 1);
      await agent.waitForStdout(/ info +connected to gateway/);
      expect(agent.stdout().split('\n')[0]).to.match(/^\d{4}-\d\d-\d\dT[\d:.]+Z info +starting vcs-agent /);
    });

    it('GODEBUG=http2debug=2 prints Go-format frame traces on stderr, with the pool key redacted', async function () {
      agent = spawnAgent([], env({ GODEBUG: 'http2debug=2' }));
      await waitForAgents(gateway, 1);
      const response = await gateway.request('/api/v4/projects/group%2Frepo?private_token=glpat-query-secret', { headers: { 'private-token': 'glpat-header-secret' } });
      expect(response.status).to.equal(200);
      const stderr = await agent.waitForStderr(/http2: Framer 0x[0-9a-f]+: read DATA/);
      if (process.env.SHOW_TRACE === '1') console.log(stderr.split('\n').slice(0, 40).join('\n'));
      const goPrefix = '\\d{4}/\\d\\d/\\d\\d \\d\\d:\\d\\d:\\d\\d ';
      expect(stderr).to.match(new RegExp(`^${goPrefix}http2: Transport creating client conn 0x[0-9a-f]+ to 127\\.0\\.0\\.1:${gateway.port}$`, 'm'));
      expect(stderr).to.match(new RegExp(`^${goPrefix}http2: Framer 0x[0-9a-f]+: wrote SETTINGS len=\\d+, settings: `, 'm'));
      expect(stderr).to.match(new RegExp(`^${goPrefix}http2: Framer 0x[0-9a-f]+: wrote HEADERS flags=END_HEADERS stream=1 len=\\d+$`, 'm'));
      expect(stderr).to.match(/http2: Transport encoding header ":path" = "\/v1\/agent\/connect"/);
      expect(stderr).to.match(/http2: Transport encoding header "authorization" = \[redacted\]$/m);
      expect(stderr).to.match(/http2: Framer 0x[0-9a-f]+: read DATA flags=[A-Z_|]*\s*stream=\d+ len=\d+|http2: Framer 0x[0-9a-f]+: read DATA stream=\d+ len=\d+/);
      expect(stderr).to.not.include(KEY);
      expect(stderr).to.not.include(gateway.key);
      // The proxied request travels in DATA frames, whose payload is never printed.
      expect(stderr).to.not.include('glpat-header-secret');
      expect(stderr).to.not.include('glpat-query-secret');
    });

    it('--debug-print-all prints requests and responses with secrets redacted', async function () {
      agent = spawnAgent(['--debug-print-all'], env());
      await waitForAgents(gateway, 1);
      const response = await gateway.request('/api/v4/projects/group%2Frepo?private_token=glpat-query-secret&per_page=5', {
        headers: { 'private-token': 'glpat-header-secret', authorization: 'Bearer glpat-bearer-secret', 'x-custom': 'visible', cookie: 'session=cookie-secret' },
      });
      expect(response.status).to.equal(200);
      const stderr = await agent.waitForStderr(/end status=200/);
      expect(stderr).to.match(/^vcs-agent debug \[[^\]]+\] > GET \/api\/v4\/projects\/group%2Frepo\?private_token=\[REDACTED\]&per_page=5$/m);
      expect(stderr).to.match(/^vcs-agent debug \[[^\]]+\] >> GET http:\/\/127\.0\.0\.1:\d+\/api\/v4\/projects\/group%2Frepo\?private_token=\[REDACTED\]&per_page=5$/m);
      expect(stderr).to.match(/^vcs-agent debug \[[^\]]+\] > private-token: \[REDACTED\]$/m);
      expect(stderr).to.match(/^vcs-agent debug \[[^\]]+\] > authorization: \[REDACTED\]$/m);
      expect(stderr).to.match(/^vcs-agent debug \[[^\]]+\] > x-custom: visible$/m);
      expect(stderr).to.match(/^vcs-agent debug \[[^\]]+\] < 200$/m);
      expect(stderr).to.match(/^vcs-agent debug \[[^\]]+\] < content-type: application\/json$/m);
      expect(stderr).to.match(/^vcs-agent debug \[[^\]]+\] < response body \(\d+ bytes\): \{"ok":true/m);
      for (const secret of ['glpat-query-secret', 'glpat-header-secret', 'glpat-bearer-secret', 'cookie-secret', gateway.key]) expect(stderr).to.not.include(secret);
    });
  });
});
