import { expect } from 'chai';
import { TunnelClient } from '../../lib/agent/tunnel-client.js';
import { FrontDoor } from '../../lib/gateway/front-door.js';
import { Gateway, type AccessLogRecord } from '../../lib/gateway/gateway.js';
import { createPool } from '../../lib/pools/pool-service.js';
import { digestStream } from '../helpers/bodies.js';
import { hangUpCaller, LateEndDispatcher, serverSideClosed, serverSockets } from '../helpers/late-end.js';
import { redisSkipReason, startRedisServer, type RunningRedis } from '../helpers/redis-server.js';
import { testPolicy } from '../helpers/test-policy.js';
import { waitFor, waitUntil } from '../helpers/wait-for.js';
import { startClusterVcs, type ClusterVcs } from './cluster-vcs.js';

const PEER_TOKEN = 'peer-token-for-hang-up-spec';
const BODY_BYTES = 40_000;

/*
 * The peer hop puts one more frame between the last body byte and the end (the serving
 * replica's trailer): a `Connection: close` caller of the forwarding replica that has its
 * whole body hangs up before the end arrives. The CI of 2026-12-07 (Node 24) recorded such a
 * request `aborted` on the forwarding replica.
 */
describe('cluster: a caller of the forwarding replica hangs up once it has the whole body (two in-process replicas)', function () {
  this.timeout(60_000);
  let redis: RunningRedis;
  let vcs: ClusterVcs;
  let a: Gateway;
  let b: Gateway;
  let frontDoor: FrontDoor;
  let frontDoorUrl = '';
  let port = 0;
  let watch: ReturnType<typeof serverSockets> | undefined;
  let agent: TunnelClient | undefined;
  const dispatcher = new LateEndDispatcher();
  const records: AccessLogRecord[] = [];

  before(async function () {
    if (redisSkipReason() !== undefined) this.skip();
    redis = (await startRedisServer()) as RunningRedis;
    vcs = await startClusterVcs();
    const replica = (id: 'a' | 'b'): Gateway => new Gateway({ cluster: { redisUrl: redis.url, replicaId: `hang-up-${id}`, peer: { token: PEER_TOKEN } } });
    [a, b] = [replica('a'), replica('b')];
    const agentsAt = await a.listen({ host: '127.0.0.1', port: 0 });
    await b.listen({ host: '127.0.0.1', port: 0 });
    await Promise.all([a.listenPeers({ host: '127.0.0.1', port: 0 }), b.listenPeers({ host: '127.0.0.1', port: 0 })]);
    frontDoor = new FrontDoor(b);
    port = (await frontDoor.listen({ host: '127.0.0.1', port: 0 })).port;
    frontDoorUrl = `http://127.0.0.1:${port}`;
    watch = serverSockets(() => port);
    const { token } = await createPool(a.cluster?.store as NonNullable<Gateway['cluster']>['store'], { name: 'on-a', gatewayUrl: `http://127.0.0.1:${agentsAt.port}` });
    agent = new TunnelClient({ token, target: vcs.url, policy: testPolicy, parallelism: 2, gatewayConnections: 1, upstreamDispatcher: dispatcher, reconnect: { initialDelayMs: 50, maxDelayMs: 500 } });
    await agent.start();
    // B learns from the live registry (written and read every 500 ms) that A holds the pool.
    dispatcher.holding = false;
    await waitUntil(async () => {
      const response = await b.request('private://on-a/allowed/warm-up').catch(() => undefined);
      if (response !== undefined) await digestStream(response.body);
      return response?.status === 200;
    }, 5000, 'B to forward to A');
    dispatcher.holding = true;
    for (const gateway of [a, b]) gateway.on('access', (record) => records.push(record));
  });

  after(async () => {
    watch?.stop();
    dispatcher.release();
    await agent?.close({ timeoutMs: 1000 }).catch(() => agent?.destroy());
    await frontDoor?.close();
    await Promise.all([a?.destroy(), b?.destroy()]);
    await dispatcher.destroy();
    await vcs?.close();
    await redis?.stop();
  });

  it('records the request completed on both replicas once the end arrives', async () => {
    const seen = watch?.sockets.length ?? 0;
    const held = dispatcher.heldCount;
    const path = `/allowed/download/${BODY_BYTES}`;
    const answer = await hangUpCaller(`${frontDoorUrl}/on-a${path}`);
    expect(answer).to.deep.equal({ status: 200, bytes: BODY_BYTES });
    expect(dispatcher.heldCount, 'the response end held at the agent').to.equal(held + 1);
    await serverSideClosed(watch?.sockets[seen]);
    const ofPath = (): AccessLogRecord[] => records.filter((record) => record.path === path);
    expect(ofPath(), 'no record before the end arrived').to.deep.equal([]);
    dispatcher.release();
    await waitFor(() => ofPath().length === 2, 5000, 'a record on each replica');
    for (const record of ofPath()) {
      expect(record).to.include({ outcome: 'completed', status: 200, bytesIn: BODY_BYTES });
      expect(record).to.not.have.property('errorCode');
    }
    expect(ofPath().map((record) => (record.forwardedTo === undefined ? 'served' : 'forwarded')).sort()).to.deep.equal(['forwarded', 'served']);
  });
});
