import { expect } from 'chai';
import { encodePoolToken } from '../../../lib/protocol/token.js';
import { cleanEnv, spawnAgent, startVcs, type SpawnedAgent, type VcsFixture } from '../../cli/cli-harness.js';
import { FakeSpaceliftGateway } from '../../helpers/spacelift-gateway.js';
import { waitFor } from '../../helpers/wait-for.js';

const POOL = '01HZX3J5Y8W8Q6ZK4M3T2V1B0D';
const KEY = 'cli-spacelift-key-fedcba9876543210';

describe('vcs-agent --protocol spacelift (the CLI in front of a Spacelift-protocol gateway)', function () {
  this.timeout(40_000);
  let gateway: FakeSpaceliftGateway;
  let vcs: VcsFixture;
  let agent: SpawnedAgent | undefined;

  beforeEach(async () => {
    gateway = await new FakeSpaceliftGateway({ poolUlid: POOL, key: KEY, sendHeaders: true }).start();
    vcs = await startVcs();
  });
  afterEach(async () => {
    agent?.kill('SIGKILL');
    agent = undefined;
    await gateway.close();
    await vcs.close();
  });

  it('serves through Spacelift\'s Connect calls with the env names of the Go agent, logs each request, and GODEBUG traces the connection without the key', async () => {
    agent = spawnAgent(
      [],
      cleanEnv({
        SPACELIFT_VCS_AGENT_PROTOCOL: 'spacelift',
        SPACELIFT_VCS_AGENT_DIAL_INSECURE: 'true',
        SPACELIFT_VCS_AGENT_POOL_TOKEN: encodePoolToken({ host: `127.0.0.1:${gateway.port}`, key: KEY, pool_ulid: POOL }),
        SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT: vcs.url,
        SPACELIFT_VCS_AGENT_VENDOR: 'gitlab',
        SPACELIFT_VCS_AGENT_PARALLELISM: '2',
        SPACELIFT_METADATA_zone: 'eu-1',
        GODEBUG: 'http2debug=2',
      }),
    );
    await agent.waitForLog((line) => line.message === 'connected to gateway', 20_000, 'connected');
    // The default two gateway connections, each its own TCP connection with two Connect calls.
    await waitFor(() => gateway.live().length === 4, 10_000, 'two connections of two Connect calls');
    expect(new Set(gateway.live().map((call) => call.peer)).size).to.equal(2);
    expect(gateway.live()[0]?.metadata).to.deep.equal({ zone: 'eu-1' });
    const allowed = await gateway.request({ path: '/api/v4/projects/group%2Frepo', headers: { 'private-token': 'glpat-cli-secret' } });
    expect(allowed.httpResponse?.status).to.equal(200);
    expect(JSON.parse(allowed.httpResponse?.body.toString() ?? '{}')).to.deep.equal({ ok: true, url: '/api/v4/projects/group%2Frepo' });
    const denied = await gateway.request({ path: '/api/v4/admin/users' });
    expect(denied.error).to.match(/^VCS_DENIED: /);
    const logged = await agent.waitForLog((line) => line.decision === 'deny', 5_000, 'the denial logged');
    expect(logged.path).to.equal('/api/v4/admin/users');
    expect(agent.logs().some((line) => line.decision === 'allow' && line.path === '/api/v4/projects/group%2Frepo')).to.equal(true);
    expect(agent.logs().find((line) => line.message === 'starting vcs-agent')?.protocol).to.equal('spacelift');
    // The HTTP/2 connection of the gRPC channel, traced as Go's http2debug=2 would.
    const trace = await agent.waitForStderr(/http2: Framer 0x[0-9a-f]+: wrote HEADERS/, 5_000);
    expect(trace).to.match(/http2: Framer 0x[0-9a-f]+: read DATA/);
    for (const output of [agent.stdout(), agent.stderr()]) {
      expect(output).to.not.include(KEY);
      expect(output).to.not.include('glpat-cli-secret');
    }
    agent.kill('SIGTERM');
    expect(await agent.exited(15_000)).to.equal(0);
    await waitFor(() => gateway.live().length === 0, 5_000, 'calls ended by the drain');
  });

  it('exits 3 when the gateway refuses the key, without printing it', async () => {
    agent = spawnAgent(
      ['--protocol', 'spacelift', '--dial-insecure', '--vendor', 'gitlab', '--target-base-endpoint', vcs.url],
      cleanEnv({ SPACELIFT_VCS_AGENT_POOL_TOKEN: encodePoolToken({ host: `127.0.0.1:${gateway.port}`, key: 'not-the-key-123456', pool_ulid: POOL }) }),
    );
    expect(await agent.exited(20_000)).to.equal(3);
    expect(agent.stdout()).to.include('VCS_AUTH_FAILED');
    expect(agent.stdout() + agent.stderr()).to.not.include('not-the-key-123456');
  });
});
