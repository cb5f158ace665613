import { expect } from 'chai';
import type { Server } from 'node:http';
import { TunnelClient } from '../../lib/agent/tunnel-client.js';
import { Gateway } from '../../lib/gateway/gateway.js';
import { createPool, rotatePoolKey, updatePoolDescription } from '../../lib/pools/pool-service.js';
import { redisSkipReason, startRedisServer, type RunningRedis } from '../helpers/redis-server.js';
import { testPolicy } from '../helpers/test-policy.js';
import { nextEvent } from '../helpers/wait-for.js';
import { startVcs } from './pool-replicas.js';

const GRACE_MS = 1500;

describe('cluster (embedded): a rotation with a grace period made elsewhere ends on every replica when the grace ends', function () {
  this.timeout(30_000);
  let redis: RunningRedis;
  let vcs: { server: Server; url: string };
  let a: Gateway;
  let b: Gateway;
  let bPort: number;
  let agent: TunnelClient | undefined;

  before(async function () {
    if (redisSkipReason() !== undefined) this.skip();
    redis = (await startRedisServer()) as RunningRedis;
    vcs = await startVcs();
    // Two replicas in this process, no store given: the cluster's Redis store is used.
    a = new Gateway({ cluster: { redisUrl: redis.url, replicaId: 'embedded-a', keyPrefix: 'expiry:' }, keepalive: false });
    b = new Gateway({ cluster: { redisUrl: redis.url, replicaId: 'embedded-b', keyPrefix: 'expiry:' }, keepalive: false });
    const [, bAt] = await Promise.all([a.listen({ host: '127.0.0.1', port: 0 }), b.listen({ host: '127.0.0.1', port: 0 })]);
    bPort = bAt.port;
  });

  after(async () => {
    await agent?.close({ timeoutMs: 1000 }).catch(() => agent?.destroy());
    await Promise.all([a?.close({ timeoutMs: 1000 }), b?.close({ timeoutMs: 1000 })]);
    // Skipped without redis-server: no VCS was started, and close() would never call back.
    if (vcs !== undefined) await new Promise((resolve) => vcs.server.close(resolve));
    await redis?.stop();
  });

  it('keeps the old key working on B until the grace period that A set ends, then closes its connection', async () => {
    const store = a.cluster?.store;
    if (store === undefined) throw new Error('replica A has no cluster store');
    const { token } = await createPool(store, { name: 'graceful', gatewayUrl: `http://127.0.0.1:${bPort}` });
    agent = new TunnelClient({ token, target: vcs.url, policy: testPolicy, parallelism: 1, gatewayConnections: 1, agentId: 'old-key', reconnect: { initialDelayMs: 50, maxDelayMs: 500 } });
    agent.on('disconnected', () => {});
    await agent.start();
    expect(b.connections('graceful')).to.have.length(1);
    expect(b.ready).to.equal(true);

    const evicted = nextEvent<{ reason: string }>(b, 'agent-evicted', GRACE_MS + 5000);
    const rotatedAt = Date.now();
    // Straight to the store, as `vcs-gateway pool rotate --redis` does: only the published change tells B.
    await rotatePoolKey(store, 'graceful', { graceMs: GRACE_MS, gatewayUrl: 'http://127.0.0.1:1' });
    // A description change is published too; it must not close anything.
    await updatePoolDescription(store, 'graceful', 'still valid');
    const { reason } = await evicted;
    const afterMs = Date.now() - rotatedAt;
    expect(reason).to.equal('key_expired');
    expect(afterMs, `closed ${afterMs} ms after the rotation`).to.be.at.least(GRACE_MS - 50).and.at.most(GRACE_MS + 1000);
    const response = await b.request('private://graceful/allowed/x').catch((error: unknown) => error as { code?: string });
    expect((response as { code?: string }).code).to.equal('VCS_NO_AGENT');
  });
});
