import { expect } from 'chai';
import type { AgentConnectionInfo } from '../../lib/gateway/agent-connection.js';
import type { DisconnectReason } from '../../lib/gateway/gateway.js';
import { rotatePoolKey } from '../../lib/pools/pool-service.js';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { nextEvent, waitFor } from '../helpers/wait-for.js';

describe('Gateway revalidation of live connections against the store', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('closes the connections of a pool deleted by another process at the next revalidation', async () => {
    h = await startHarness({ policy: testPolicy, gateway: { revalidateIntervalMs: 50 } });
    const evicted = nextEvent<{ connection: AgentConnectionInfo; reason: DisconnectReason }>(h.gateway, 'agent-evicted', 3000);
    await h.store.delete(h.pool);
    const event = await evicted;
    expect(event.reason).to.equal('pool_deleted');
    expect(event.connection.poolName).to.equal(h.pool);
    await waitFor(() => h.gateway.connections().length === 0, 3000, 'the connection to close');
    expect(h.gatewayLogger.entries.some((entry) => entry.message === 'agent evicted' && entry.reason === 'pool_deleted')).to.equal(true);
  });

  it('closes connections whose key was rotated away (grace over) and keeps the others', async () => {
    h = await startHarness({ policy: testPolicy, gateway: { revalidateIntervalMs: 60_000 } });
    const rotated = await rotatePoolKey(h.store, h.pool, { graceMs: 0, gatewayUrl: h.gatewayUrl });
    const fresh = await h.addAgent({ token: rotated.token, agentId: 'fresh' });
    expect(fresh.connectionId).to.be.a('string');
    expect(await h.gateway.revalidate(h.pool)).to.equal(1);
    await waitFor(() => h.gateway.connections(h.pool).length === 1, 3000, 'the old-key connection to close');
    expect(h.gateway.connections(h.pool).map((c) => [c.agentId, c.keyGeneration])).to.deep.equal([['fresh', 2]]);
    expect(await h.gateway.revalidate()).to.equal(0);
  });

  it('lets an evicted connection finish its in-flight request before it closes', async () => {
    let release: (() => void) | undefined;
    h = await startHarness({
      policy: testPolicy,
      vcs: (req, res) => {
        req.resume();
        release = () => res.end('finished');
      },
    });
    const pending = h.request('/allowed/slow');
    await waitFor(() => release !== undefined, 3000, 'the request to reach the VCS');
    expect(h.gateway.disconnectPool(h.pool)).to.equal(1);
    release?.();
    const response = await pending;
    expect([response.status, response.body.toString()]).to.deep.equal([200, 'finished']);
    await waitFor(() => h.gateway.connections().length === 0, 3000, 'the connection to close');
  });
});
