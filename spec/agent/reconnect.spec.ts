import { expect } from 'chai';
import { TunnelClient } from '../../lib/agent/tunnel-client.js';
import { Gateway } from '../../lib/gateway/gateway.js';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { nextEvent, waitFor } from '../helpers/wait-for.js';

describe('TunnelClient: reconnecting after the gateway restarts (real gateway on the same port)', function () {
  this.timeout(60_000);
  let harness: Harness;
  const clients: TunnelClient[] = [];
  const gateways: Gateway[] = [];

  beforeEach(async function () {
    harness = await startHarness({ policy: testPolicy, parallelism: 1 });
    harness.client.destroy();
  });
  afterEach(async function () {
    for (const client of clients.splice(0)) client.destroy();
    for (const gateway of gateways.splice(0)) gateway.destroy();
    await harness.close();
  });

  const restartGateway = async (downMs: number, graceful: boolean): Promise<{ downAt: number; upAt: number; gateway: Gateway }> => {
    const port = Number(new URL(harness.gatewayUrl).port);
    const downAt = Date.now();
    if (graceful) await harness.gateway.close({ timeoutMs: 1_000 });
    else harness.gateway.destroy();
    // The outage lasts downMs on purpose: this is the scenario, not a wait for an event.
    await new Promise((resolve) => setTimeout(resolve, downMs));
    const again = new Gateway({ store: harness.store });
    gateways.push(again);
    await again.listen({ host: '127.0.0.1', port });
    return { downAt, upAt: Date.now(), gateway: again };
  };

  for (const graceful of [false, true]) {
    it(`reconnects with the default backoff after a ${graceful ? 'graceful (GOAWAY)' : 'crashed'} gateway comes back, and serves requests again`, async function () {
      const client = new TunnelClient({ token: harness.token, target: harness.vcsUrl, policy: testPolicy, parallelism: 2 });
      clients.push(client);
      await client.start();
      const delays: number[] = [];
      client.on('disconnected', ({ retryInMs }) => {
        if (retryInMs !== undefined) delays.push(retryInMs);
      });
      const back = nextEvent(client, 'connected', 40_000);
      const { downAt, upAt, gateway } = await restartGateway(1_000, graceful);
      await back;
      const connectedAt = Date.now();
      console.log(
        `      ${graceful ? 'graceful' : 'crash'} restart, gateway down ${upAt - downAt} ms: reconnected ${connectedAt - upAt} ms after it listened again ` +
          `(${connectedAt - downAt} ms after it went down; retry delays ${delays.join(', ')} ms)`,
      );
      // Default backoff: 500 ms doubling, full jitter, capped at 30 s. After a 1 s outage the
      // pending delay can be at most the ceiling reached so far (≤ 4 s), never the 30 s cap.
      expect(connectedAt - upAt).to.be.below(4_000 + 500);
      for (const delay of delays) expect(delay).to.be.within(0, 30_000);
      await waitFor(() => client.streamCounts.open >= 2, 5_000, 'streams reopened (one connection is enough to serve)');
      const response = await gateway.request(`private://${harness.pool}/allowed/after-restart`);
      expect(response.status).to.equal(200);
      for await (const _chunk of response.body) {
        // drain
      }
    });
  }

  it('spreads the redials of 20 agents (full jitter): no reconnect storm, all back within the backoff cap', async function () {
    const maxDelayMs = 2_000;
    const connectedAt = new Map<TunnelClient, number>();
    const firstRetry: number[] = [];
    for (let i = 0; i < 20; i++) {
      const client = new TunnelClient({
        token: harness.token,
        target: harness.vcsUrl,
        policy: testPolicy,
        parallelism: 1,
        reconnect: { initialDelayMs: 1_000, maxDelayMs },
      });
      clients.push(client);
    }
    await Promise.all(clients.map((client) => client.start()));
    for (const client of clients) {
      // The first event after a GOAWAY carries no delay (the client redials at once and is
      // refused); the first backoff delay is on the next one.
      let recorded = false;
      client.on('disconnected', ({ retryInMs }) => {
        if (recorded || retryInMs === undefined) return;
        recorded = true;
        firstRetry.push(retryInMs);
      });
      client.on('connected', () => connectedAt.set(client, Date.now()));
    }
    const { downAt, upAt } = await restartGateway(300, false);
    await waitFor(() => connectedAt.size === 20, 20_000, 'all 20 agents reconnected');
    const times = [...connectedAt.values()].map((at) => at - downAt).sort((a, b) => a - b);
    const spread = (times.at(-1) as number) - (times[0] as number);
    // Largest number of reconnects inside any 50 ms window.
    let densest = 0;
    for (let i = 0; i < times.length; i++) densest = Math.max(densest, times.filter((t) => t >= (times[i] as number) && t < (times[i] as number) + 50).length);
    console.log(`      20 agents, gateway down ${upAt - downAt} ms: reconnected ${times[0]}–${times.at(-1)} ms after the outage began (spread ${spread} ms, at most ${densest} in any 50 ms); first retry delays ${[...firstRetry].sort((a, b) => a - b).join(', ')} ms`);
    expect(firstRetry).to.have.length(20);
    expect(new Set(firstRetry).size, 'distinct jittered delays').to.be.at.least(15);
    for (const delay of firstRetry) expect(delay).to.be.within(0, 1_000);
    expect(spread, 'reconnects spread over time').to.be.at.least(200);
    expect(densest, 'no burst of reconnects').to.be.at.most(10);
    // Within the cap: the outage plus at most two maximal backoff ceilings (1 s then 2 s).
    expect(times.at(-1) as number).to.be.below(300 + 1_000 + maxDelayMs + 1_000);
  });
});
