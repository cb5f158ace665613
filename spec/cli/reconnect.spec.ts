import { expect } from 'chai';
import { Gateway } from '../../lib/gateway/gateway.js';
import { cleanEnv, spawnAgent, startGateway, startVcs, waitForAgents, type GatewayFixture, type SpawnedAgent, type VcsFixture } from './cli-harness.js';

describe('vcs-agent CLI: reconnecting after the gateway restarts (spawned agent, default backoff)', function () {
  this.timeout(60_000);
  let gateway: GatewayFixture;
  let vcs: VcsFixture;
  let agent: SpawnedAgent | undefined;
  let restarted: Gateway | undefined;

  beforeEach(async function () {
    gateway = await startGateway();
    vcs = await startVcs();
  });
  afterEach(async function () {
    agent?.kill('SIGKILL');
    restarted?.destroy();
    await gateway.close();
    await vcs.close();
  });

  it('is back within the backoff bound after a gateway restart on the same port, and serves requests', async function () {
    agent = spawnAgent(['--health-listen', '127.0.0.1:0'], cleanEnv({
      SPACELIFT_VCS_AGENT_POOL_TOKEN: gateway.token,
      SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT: vcs.url,
      SPACELIFT_VCS_AGENT_VENDOR: 'gitlab',
      SPACELIFT_VCS_AGENT_PARALLELISM: '2',
    }));
    const listening = await agent.waitForLog((line) => line.message === 'health listener ready');
    await waitForAgents(gateway, 1);

    const downAt = Date.now();
    await gateway.gateway.close({ timeoutMs: 1_000 });
    await agent.waitForLog((line) => line.message === 'gateway connection lost', 10_000, 'the agent to notice');
    const ready = await fetch(`http://127.0.0.1:${String(listening.port)}/readyz`, { signal: AbortSignal.timeout(5_000) });
    expect(ready.status, '/readyz during the outage').to.equal(503);
    // Outage of one second: the scenario, not a wait for an event.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    restarted = new Gateway({ store: gateway.store });
    await restarted.listen({ host: '127.0.0.1', port: gateway.port });
    const upAt = Date.now();
    const connected = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the agent did not reconnect within 35 s')), 35_000);
      restarted?.once('agent-connected', () => {
        clearTimeout(timer);
        resolve(Date.now());
      });
    });
    console.log(`      spawned agent: gateway down ${upAt - downAt} ms; reconnected ${connected - upAt} ms after it listened again (${connected - downAt} ms after it went down)`);
    // Default backoff (0.5 s doubling, full jitter): after ~1 s of failures the pending delay is at most a few seconds.
    expect(connected - upAt).to.be.below(8_000);
    const deadline = Date.now() + 10_000;
    while (!restarted.connections(gateway.pool).some((c) => c.streamsIdle > 0)) {
      if (Date.now() > deadline) throw new Error('no idle stream after the reconnect');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const response = await restarted.request(`private://${gateway.pool}/api/v4/projects/group%2Frepo`);
    expect(response.status).to.equal(200);
    for await (const _chunk of response.body) {
      // drain
    }
  });
});
