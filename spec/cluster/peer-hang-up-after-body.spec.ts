import { expect } from 'chai';
import { FrontDoor } from '../../lib/gateway/front-door.js';
import type { AccessLogRecord } from '../../lib/gateway/gateway.js';
import { hangUpCaller, LateEndDispatcher, serverSideClosed, serverSockets } from '../helpers/late-end.js';
import { redisSkipReason, startRedisServer, type RunningRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait-for.js';
import { startClusterVcs, type ClusterVcs } from './cluster-vcs.js';
import { startInProcessPair, type InProcessPair } from './in-process-pair.js';

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
  let pair: InProcessPair | undefined;
  let frontDoor: FrontDoor | undefined;
  let frontDoorUrl = '';
  let port = 0;
  let watch: ReturnType<typeof serverSockets> | undefined;
  const dispatcher = new LateEndDispatcher();
  const records: AccessLogRecord[] = [];

  before(async function () {
    if (redisSkipReason() !== undefined) this.skip();
    redis = (await startRedisServer()) as RunningRedis;
    vcs = await startClusterVcs();
    pair = await startInProcessPair({
      redisUrl: redis.url,
      vcsUrl: vcs.url,
      prefix: 'hang-up',
      pool: 'on-a',
      agent: { upstreamDispatcher: dispatcher },
      // The warm-up's answer ends as it comes; from then on, ends are held.
      beforeWarmUp: () => (dispatcher.holding = false),
      afterWarmUp: () => (dispatcher.holding = true),
    });
    frontDoor = new FrontDoor(pair.b);
    port = (await frontDoor.listen({ host: '127.0.0.1', port: 0 })).port;
    frontDoorUrl = `http://127.0.0.1:${port}`;
    watch = serverSockets(() => port);
    for (const gateway of [pair.a, pair.b]) gateway.on('access', (record) => records.push(record));
  });

  after(async () => {
    watch?.stop();
    dispatcher.release();
    await frontDoor?.close();
    await pair?.close();
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
