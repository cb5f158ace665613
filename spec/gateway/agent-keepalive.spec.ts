import { once } from 'node:events';
import { expect } from 'chai';
import { Gateway, MemoryPoolStore, type AgentConnectionInfo, type DisconnectReason } from '../../lib/index.js';
import { cleanEnv, spawnAgent, startGateway, startVcs, waitForAgents, type GatewayFixture, type SpawnedAgent, type VcsFixture } from '../cli/cli-harness.js';

/*
 * A frozen agent (SIGSTOP: the kernel still ACKs TCP, nothing answers HTTP/2) is the
 * half-open case the gateway's PING check exists for.
 */
describe('gateway: half-open agent connections (keepalive PING)', function () {
  this.timeout(60_000);
  let gateway: GatewayFixture;
  let vcs: VcsFixture;
  const agents: SpawnedAgent[] = [];

  beforeEach(async function () {
    gateway = await startGateway({ keepalive: { intervalMs: 150, timeoutMs: 1_500 } });
    vcs = await startVcs();
  });
  afterEach(async function () {
    for (const agent of agents.splice(0)) {
      agent.child.kill('SIGCONT');
      agent.kill('SIGKILL');
    }
    await gateway.close();
    await vcs.close();
  });

  const start = (name: string): SpawnedAgent => {
    const agent = spawnAgent(
      [],
      cleanEnv({
        SPACELIFT_VCS_AGENT_POOL_TOKEN: gateway.token,
        SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT: vcs.url,
        SPACELIFT_VCS_AGENT_VENDOR: 'gitlab',
        SPACELIFT_VCS_AGENT_PARALLELISM: '1',
        // One connection per agent: the spec follows each agent's single connection.
        SPACELIFT_VCS_AGENT_GATEWAY_CONNECTIONS: '1',
        SPACELIFT_METADATA_name: name,
      }),
    );
    agents.push(agent);
    return agent;
  };

  it('drops a frozen agent, fails its in-flight request, keeps serving from the live one, and takes the agent back once it thaws', async function () {
    const frozen = start('frozen');
    await waitForAgents(gateway, 1, 15_000, 1);
    start('live');
    await waitForAgents(gateway, 2, 15_000, 1);

    const evicted = once(gateway.gateway, 'agent-evicted', { signal: AbortSignal.timeout(15_000) }) as Promise<[{ connection: AgentConnectionInfo; reason: DisconnectReason }]>;
    frozen.child.kill('SIGSTOP');
    // One stream per agent and least-busy routing: one request lands on each connection.
    const requests = Promise.allSettled([gateway.request('/api/v4/projects/group%2Frepo'), gateway.request('/api/v4/projects/group%2Frepo')]);

    const [{ connection, reason }] = await evicted;
    expect(reason).to.equal('unresponsive');
    expect(connection.metadata.name).to.equal('frozen');
    const results = await requests;
    const served = results.filter((result) => result.status === 'fulfilled');
    const failed = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    expect(served.map((result) => result.value.status)).to.deep.equal([200]);
    expect(failed.map((result) => (result.reason as { code?: string }).code)).to.deep.equal(['VCS_STREAM_RESET']);

    const warning = gateway.gatewayLogger.entries.find((line) => line.message === 'agent did not answer keepalive pings; closing the half-open connection');
    expect(warning?.level).to.equal('warn');
    expect(warning?.connectionId).to.equal(connection.id);
    expect(gateway.gateway.connections(gateway.pool).map((info) => info.metadata.name)).to.deep.equal(['live']);
    expect((await gateway.request('/api/v4/projects/group%2Frepo')).status).to.equal(200);

    // Thawed, the agent finds its connection gone and dials again.
    frozen.child.kill('SIGCONT');
    await waitForAgents(gateway, 2, 20_000, 1);
    expect(
      gateway.gateway
        .connections(gateway.pool)
        .map((info) => info.metadata.name)
        .sort(),
    ).to.deep.equal(['frozen', 'live']);
  });

  it('rejects bad keepalive options, naming the field', function () {
    const store = new MemoryPoolStore();
    expect(() => new Gateway({ store, keepalive: { intervalMs: 0 } })).to.throw(/keepalive\.intervalMs: expected a positive integer/);
    expect(() => new Gateway({ store, keepalive: { timeoutMs: 1.5 } })).to.throw(/keepalive\.timeoutMs: expected a positive integer/);
    expect(() => new Gateway({ store, keepalive: 'often' as unknown as false })).to.throw(/keepalive: expected \{ intervalMs, timeoutMs \} or false/);
    const off = new Gateway({ store, keepalive: false });
    off.destroy();
  });
});
