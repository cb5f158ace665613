import { expect } from 'chai';
import { cleanEnv, spawnAgent, startGateway, startVcs, waitForAgents, type GatewayFixture, type SpawnedAgent, type VcsFixture } from './cli-harness.js';

function agentEnv(gateway: GatewayFixture, vcs: VcsFixture, extra: Record<string, string> = {}): Record<string, string> {
  return cleanEnv({
    SPACELIFT_VCS_AGENT_POOL_TOKEN: gateway.token,
    SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT: vcs.url,
    SPACELIFT_VCS_AGENT_VENDOR: 'gitlab',
    SPACELIFT_VCS_AGENT_PARALLELISM: '2',
    ...extra,
  });
}

async function waitUntil(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('vcs-agent CLI: draining on SIGTERM/SIGINT (spawned agent, real gateway)', function () {
  this.timeout(60_000);
  let gateway: GatewayFixture;
  let vcs: VcsFixture;
  const agents: SpawnedAgent[] = [];

  beforeEach(async function () {
    gateway = await startGateway();
    vcs = await startVcs();
  });
  afterEach(async function () {
    for (const agent of agents.splice(0)) agent.kill('SIGKILL');
    vcs.release();
    await gateway.close();
    await vcs.close();
  });

  it('lets a request in flight finish after SIGTERM, then exits 0', async function () {
    const agent = spawnAgent([], agentEnv(gateway, vcs, { SPACELIFT_VCS_AGENT_DRAIN_TIMEOUT: '20' }));
    agents.push(agent);
    await waitForAgents(gateway, 1);
    const inFlight = gateway.request('/api/v4/projects/group%2Fslow');
    await waitUntil(() => vcs.requests.some((r) => r.url.includes('slow')), 10_000, 'the request to reach the VCS');

    const signalledAt = Date.now();
    agent.kill('SIGTERM');
    await agent.waitForLog((line) => String(line.message).startsWith('draining'), 10_000, 'the draining log line');
    // The gateway stops dispatching to the draining connection.
    await waitUntil(() => gateway.gateway.connections(gateway.pool).every((c) => c.draining), 10_000, 'the gateway to see the drain');
    const heldMs = 300;
    await new Promise((resolve) => setTimeout(resolve, heldMs)); // the VCS is slow on purpose; not a wait for an event
    expect(agent.child.exitCode, 'still running while its request is in flight').to.equal(null);
    vcs.release();
    const response = await inFlight;
    const code = await agent.exited(15_000);
    const drainMs = Date.now() - signalledAt;
    console.log(`      drain: in-flight request completed ${response.status}; agent exited ${code} ${drainMs} ms after SIGTERM (request held ≥${heldMs} ms)`);
    expect(response.status).to.equal(200);
    expect(JSON.parse(response.body)).to.deep.equal({ ok: true, url: '/api/v4/projects/group%2Fslow' });
    expect(code).to.equal(0);
    const drained = agent.logs().find((line) => line.message === 'drained; exiting');
    expect(drained, 'drained log line').to.not.equal(undefined);
    expect(drained?.unfinished).to.equal(0);
  });

  it('serves /healthz, /readyz and /metrics on --health-listen; /readyz turns 503 while draining, /healthz stays 200', async function () {
    const agent = spawnAgent(['--health-listen', '127.0.0.1:0'], agentEnv(gateway, vcs, { SPACELIFT_VCS_AGENT_DRAIN_TIMEOUT: '20' }));
    agents.push(agent);
    const listening = await agent.waitForLog((line) => line.message === 'health listener ready', 15_000, 'the health listener');
    const base = `http://127.0.0.1:${String(listening.port)}`;
    const get = async (path: string): Promise<{ status: number; body: string }> => {
      const response = await fetch(base + path, { signal: AbortSignal.timeout(5_000) });
      return { status: response.status, body: await response.text() };
    };
    await waitForAgents(gateway, 1);
    expect((await get('/readyz')).status).to.equal(200);
    expect((await gateway.request('/api/v4/projects/group%2Frepo')).status).to.equal(200);
    expect((await gateway.request('/admin/secret')).status).to.equal(403);
    const metrics = (await get('/metrics')).body;
    expect(metrics).to.match(/^vcs_agent_requests_total\{vendor="gitlab",decision="allow",status="200"\} 1$/m);
    expect(metrics).to.match(/^vcs_agent_requests_total\{vendor="gitlab",decision="deny",status="403"\} 1$/m);
    // Two gateway connections (the default), two streams each.
    expect(metrics).to.match(/^vcs_agent_streams_open 4$/m);
    expect(metrics).to.match(/^vcs_agent_gateway_connections_connected 2$/m);

    const inFlight = gateway.request('/api/v4/projects/group%2Fslow');
    await waitUntil(() => vcs.requests.some((r) => r.url.includes('slow')), 10_000, 'the request to reach the VCS');
    agent.kill('SIGTERM');
    await agent.waitForLog((line) => String(line.message).startsWith('draining'), 10_000, 'the draining log line');
    const draining = await get('/readyz');
    expect(draining.status).to.equal(503);
    expect(draining.body).to.match(/state=draining/);
    expect((await get('/healthz')).status).to.equal(200);
    vcs.release();
    expect((await inFlight).status).to.equal(200);
    expect(await agent.exited(15_000)).to.equal(0);
  });

  it('gives up on requests still running after --drain-timeout and exits 0', async function () {
    const agent = spawnAgent(['--drain-timeout', '1'], agentEnv(gateway, vcs));
    agents.push(agent);
    await waitForAgents(gateway, 1);
    const inFlight = gateway.request('/api/v4/projects/group%2Fslow').then(
      (response) => response.status,
      (error: Error) => error.message,
    );
    await waitUntil(() => vcs.requests.some((r) => r.url.includes('slow')), 10_000, 'the request to reach the VCS');
    const signalledAt = Date.now();
    agent.kill('SIGINT');
    const code = await agent.exited(15_000);
    const elapsed = Date.now() - signalledAt;
    if (code !== 0) console.log(agent.stdout(), agent.stderr());
    console.log(`      drain timeout 1 s: agent exited ${code} after ${elapsed} ms; unfinished request → ${String(await inFlight)}`);
    expect(code).to.equal(0);
    expect(elapsed).to.be.within(900, 8_000);
    expect(await inFlight).to.not.equal(200);
  });

  it('exits 0 at once on SIGTERM while it cannot reach the gateway (nothing to drain)', async function () {
    await gateway.close();
    const agent = spawnAgent([], agentEnv(gateway, vcs));
    agents.push(agent);
    await agent.waitForLog((line) => line.message === 'gateway connection lost', 15_000, 'a failed dial');
    const signalledAt = Date.now();
    agent.kill('SIGTERM');
    expect(await agent.exited(10_000)).to.equal(0);
    expect(Date.now() - signalledAt).to.be.below(3_000);
  });

  it('exits at once on a second signal', async function () {
    const agent = spawnAgent([], agentEnv(gateway, vcs, { SPACELIFT_VCS_AGENT_DRAIN_TIMEOUT: '60' }));
    agents.push(agent);
    await waitForAgents(gateway, 1);
    const inFlight = gateway.request('/api/v4/projects/group%2Fslow').catch((error: Error) => error);
    await waitUntil(() => vcs.requests.some((r) => r.url.includes('slow')), 10_000, 'the request to reach the VCS');
    agent.kill('SIGTERM');
    await agent.waitForLog((line) => String(line.message).startsWith('draining'), 10_000, 'the draining log line');
    const secondAt = Date.now();
    agent.kill('SIGTERM');
    const code = await agent.exited(5_000);
    const elapsed = Date.now() - secondAt;
    expect(code).to.equal(143);
    expect(elapsed).to.be.below(3_000);
    expect(agent.stderr()).to.match(/second SIGTERM: exiting at once/);
    await inFlight;
  });

  it('loses no request while two agents are restarted one at a time', async function () {
    let cleanup = (): void => {};
    const slowVcs = await startVcs((req, res) => {
      req.resume();
      // Every request takes a little while, so some are always in flight during a restart.
      setTimeout(() => {
        const body = JSON.stringify({ url: req.url });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      }, 15);
    });
    try {
      const start = (): SpawnedAgent => {
        const agent = spawnAgent([], agentEnv(gateway, slowVcs, { SPACELIFT_VCS_AGENT_DRAIN_TIMEOUT: '20' }));
        agents.push(agent);
        return agent;
      };
      const first = start();
      const second = start();
      await waitForAgents(gateway, 2);

      let stop = false;
      const results: Array<number | string> = [];
      const worker = async (n: number): Promise<void> => {
        for (let i = 0; !stop; i++) {
          try {
            const response = await gateway.request(`/api/v4/projects/${n * 100000 + i}`);
            results.push(response.status);
          } catch (error) {
            results.push((error as Error).message);
          }
        }
      };
      const load = [0, 1, 2, 3].map((n) => worker(n));
      // A failed wait below must not leave the workers spinning after the spec.
      cleanup = () => {
        stop = true;
      };
      // Stop first, then start the replacement: the other agent carries the pool meanwhile.
      const restart = async (old: SpawnedAgent): Promise<number> => {
        old.kill('SIGTERM');
        const code = await old.exited(30_000);
        start();
        await waitForAgents(gateway, 2);
        return code;
      };
      await waitUntil(() => results.length >= 20, 10_000, 'some traffic');
      const codes = [await restart(first)];
      await waitUntil(() => results.length >= 60, 10_000, 'traffic after the first restart');
      codes.push(await restart(second));
      const before = results.length;
      await waitUntil(() => results.length >= before + 20, 10_000, 'traffic after the second restart');
      stop = true;
      await Promise.all(load);
      const failures = results.filter((status) => status !== 200);
      console.log(`      rolling restart: ${results.length} requests, ${failures.length} failed; exit codes ${codes.join(', ')}`);
      expect(codes).to.deep.equal([0, 0]);
      expect(failures).to.deep.equal([]);
    } finally {
      cleanup();
      await slowVcs.close();
    }
  });
});
