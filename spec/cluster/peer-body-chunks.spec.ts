import { expect } from 'chai';
import { TunnelClient } from '../../lib/agent/tunnel-client.js';
import { Gateway } from '../../lib/gateway/gateway.js';
import { createPool } from '../../lib/pools/pool-service.js';
import { digestStream, generatedBody } from '../helpers/bodies.js';
import { redisSkipReason, startRedisServer, type RunningRedis } from '../helpers/redis-server.js';
import { testPolicy } from '../helpers/test-policy.js';
import { waitUntil } from '../helpers/wait-for.js';
import { startClusterVcs, type ClusterVcs } from './cluster-vcs.js';

const MiB = 1024 * 1024;
const PEER_TOKEN = 'peer-token-for-body-chunk-spec';

describe('cluster: onBodyChunk hears body bytes relayed through the peer hop (two in-process replicas)', function () {
  this.timeout(60_000);
  let redis: RunningRedis;
  let vcs: ClusterVcs;
  let a: Gateway;
  let b: Gateway;
  let agent: TunnelClient | undefined;
  const heard = { a: 0, b: 0 };

  before(async function () {
    if (redisSkipReason() !== undefined) this.skip();
    redis = (await startRedisServer()) as RunningRedis;
    vcs = await startClusterVcs();
    const replica = (id: 'a' | 'b'): Gateway =>
      new Gateway({ cluster: { redisUrl: redis.url, replicaId: `chunks-${id}`, peer: { token: PEER_TOKEN } }, onBodyChunk: (bytes) => (heard[id] += bytes) });
    [a, b] = [replica('a'), replica('b')];
    const agentsAt = await a.listen({ host: '127.0.0.1', port: 0 });
    await b.listen({ host: '127.0.0.1', port: 0 });
    await Promise.all([a.listenPeers({ host: '127.0.0.1', port: 0 }), b.listenPeers({ host: '127.0.0.1', port: 0 })]);
    const { token } = await createPool(a.cluster?.store as NonNullable<Gateway['cluster']>['store'], { name: 'on-a', gatewayUrl: `http://127.0.0.1:${agentsAt.port}` });
    agent = new TunnelClient({ token, target: vcs.url, policy: testPolicy, parallelism: 2, gatewayConnections: 1, reconnect: { initialDelayMs: 50, maxDelayMs: 500 } });
    await agent.start();
    // B learns from the live registry (written and read every 500 ms) that A holds the pool.
    await waitUntil(async () => {
      // Until then B has no route: request() rejects with NoAgentError.
      const response = await b.request('private://on-a/allowed/warm-up').catch(() => undefined);
      if (response !== undefined) await digestStream(response.body);
      return response?.status === 200;
    }, 5000, 'B to forward to A');
  });

  after(async () => {
    await agent?.close({ timeoutMs: 1000 }).catch(() => agent?.destroy());
    await Promise.all([a?.destroy(), b?.destroy()]);
    await vcs?.close();
    await redis?.stop();
  });

  it('counts a forwarded 3 MiB download and 2 MiB upload on the forwarding replica as well as on the one with the agent', async () => {
    heard.a = 0;
    heard.b = 0;
    const download = await b.request(`private://on-a/allowed/download/${3 * MiB}`);
    expect(download.status).to.equal(200);
    expect((await digestStream(download.body)).bytes).to.equal(3 * MiB);
    const upload = await b.request('private://on-a/allowed/upload', { method: 'POST', headers: { 'content-length': String(2 * MiB) }, body: generatedBody(2 * MiB) });
    expect(upload.status).to.equal(200);
    // The upload's answer is a small JSON body, relayed as well.
    const answer = (await digestStream(upload.body)).bytes;
    expect(answer).to.be.above(0);
    expect(heard.b, 'B relays all three bodies over the peer hop').to.equal(5 * MiB + answer);
    expect(heard.a, 'A relays all three bodies over its agent stream').to.equal(5 * MiB + answer);
  });
});
