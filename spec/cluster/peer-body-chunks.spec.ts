import { expect } from 'chai';
import type { Gateway } from '../../lib/gateway/gateway.js';
import { digestStream, generatedBody } from '../helpers/bodies.js';
import { redisSkipReason, startRedisServer, type RunningRedis } from '../helpers/redis-server.js';
import { startClusterVcs, type ClusterVcs } from './cluster-vcs.js';
import { startInProcessPair, type InProcessPair } from './in-process-pair.js';

const MiB = 1024 * 1024;

describe('cluster: onBodyChunk hears body bytes relayed through the peer hop (two in-process replicas)', function () {
  this.timeout(60_000);
  let redis: RunningRedis;
  let vcs: ClusterVcs;
  let pair: InProcessPair | undefined;
  let b: Gateway;
  const heard = { a: 0, b: 0 };

  before(async function () {
    if (redisSkipReason() !== undefined) this.skip();
    redis = (await startRedisServer()) as RunningRedis;
    vcs = await startClusterVcs();
    pair = await startInProcessPair({ redisUrl: redis.url, vcsUrl: vcs.url, prefix: 'chunks', pool: 'on-a', gateway: (id) => ({ onBodyChunk: (bytes) => (heard[id] += bytes) }) });
    ({ b } = pair);
  });

  after(async () => {
    await pair?.close();
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
