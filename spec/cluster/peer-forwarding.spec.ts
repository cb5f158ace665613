import { expect } from 'chai';
import { request } from 'node:http';
import { TunnelClient } from '../../lib/agent/tunnel-client.js';
import type { AccessLogEntry } from '../../lib/gateway/access-log.js';
import type { AdminPool } from '../../lib/gateway/admin/admin-server.js';
import { digestStream, generatedBody, generatedDigest } from '../helpers/bodies.js';
import { redisSkipReason, startRedisServer, type RunningRedis } from '../helpers/redis-server.js';
import { testPolicy } from '../helpers/test-policy.js';
import { waitFor, waitUntil } from '../helpers/wait-for.js';
import { BODY_CHUNK, call, startClusterVcs, type ClusterVcs } from './cluster-vcs.js';
import { ADMIN_TOKEN, FRONT_DOOR_TOKEN, PEER_TOKEN, runGatewayCli, startReplica, type Replica } from './pool-replicas.js';

const UPLOAD_BYTES = 24 * 1024 * 1024 + 5;
const DOWNLOAD_BYTES = 96 * 1024 * 1024 + 3;

describe('cluster: a request through any replica reaches the replica holding its pool (two gateway processes, peer listeners)', function () {
  this.timeout(90_000);
  let redis: RunningRedis;
  let vcs: ClusterVcs;
  let a: Replica;
  let b: Replica;
  let agent: TunnelClient | undefined;

  before(async function () {
    if (redisSkipReason() !== undefined) this.skip();
    redis = (await startRedisServer()) as RunningRedis;
    vcs = await startClusterVcs();
    [a, b] = await Promise.all([startReplica(redis.url, 'fwd-a', [], { peer: true }), startReplica(redis.url, 'fwd-b', [], { peer: true })]);
    const created = await runGatewayCli(['pool', 'create', '--redis', redis.url, '--name', 'only-on-a', '--gateway-url', a.agentsUrl]);
    expect(created.code, created.stderr).to.equal(0);
    agent = new TunnelClient({ token: created.stdout.trim(), target: vcs.url, policy: testPolicy, parallelism: 4, gatewayConnections: 1, agentId: 'agent-on-a', reconnect: { initialDelayMs: 50, maxDelayMs: 500 } });
    agent.on('disconnected', () => {});
    await agent.start();
    // B learns from the live registry that A holds the pool: A writes and B reads every 500 ms.
    await waitUntil(async () => (await call(b, '/only-on-a/allowed/warm-up')).status === 200, 5000, 'B to forward to A');
  });

  after(async () => {
    await agent?.close({ timeoutMs: 1000 }).catch(() => agent?.destroy());
    await Promise.all([a?.stop(), b?.stop()]);
    await vcs?.close();
    await redis?.stop();
  });

  /** The shared access log's records of one request, read through any replica's admin API (bounded wait for both). */
  async function recordsOf(check: (entries: AccessLogEntry[]) => boolean, what: string): Promise<AccessLogEntry[]> {
    let entries: AccessLogEntry[] = [];
    const deadline = Date.now() + 5000;
    for (;;) {
      entries = await b.admin.accessLog({ pool: 'only-on-a', limit: '200' });
      if (check(entries)) return entries;
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}: ${JSON.stringify(entries.slice(0, 4))}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('serves a GET through B with the agent on A, and both replicas record it under one request id', async () => {
    const result = await call(b, '/only-on-a/allowed/hello?x=1');
    expect(result.status, result.body).to.equal(200);
    expect(result.body).to.equal('vcs saw GET /allowed/hello?x=1');
    const entries = await recordsOf((list) => list.filter((e) => e.path === '/allowed/hello?x=1').length === 2, 'both records');
    const origin = entries.find((e) => e.path === '/allowed/hello?x=1' && e.replica === 'fwd-b') as AccessLogEntry;
    const served = entries.find((e) => e.path === '/allowed/hello?x=1' && e.replica === 'fwd-a') as AccessLogEntry;
    expect(origin.requestId).to.equal(served.requestId);
    // The record of the replica the caller reached says where it was served; the serving replica's, who sent it.
    expect(origin).to.include({ forwardedTo: 'fwd-a', outcome: 'completed', status: 200, agentId: 'agent-on-a', decision: 'allow' });
    expect(origin).to.not.have.property('forwardedFrom');
    expect(served).to.include({ forwardedFrom: 'fwd-b', outcome: 'completed', status: 200, agentId: 'agent-on-a' });
    expect(served).to.not.have.property('forwardedTo');
    expect(served.connectionId).to.equal(origin.connectionId);
  });

  it('forwards 1,200 requests over one peer session (a stream both sides ended is not reset: nghttp2 ends a session after 1,000 resets)', async () => {
    const redispatched = (): number => b.logs().filter((line) => line.message === 'forwarded request re-dispatched: the peer did not take it').length;
    const before = redispatched();
    const statuses: Record<number, number> = {};
    await Promise.all(
      [0, 1, 2, 3].map(async (loop) => {
        for (let i = 0; i < 300; i++) {
          const { status } = await call(b, `/only-on-a/allowed/many/${loop}/${i}`);
          statuses[status] = (statuses[status] ?? 0) + 1;
        }
      }),
    );
    expect(statuses).to.deep.equal({ 200: 1200 });
    // A lost peer session shows as requests sent again (GETs are re-dispatched, so they may still succeed).
    expect(redispatched(), 'requests re-dispatched because the peer session was lost').to.equal(before);
  });

  it('streams a 24 MiB upload through B to the VCS, checksummed', async () => {
    const body = generatedBody(UPLOAD_BYTES, BODY_CHUNK);
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(`${b.frontDoorUrl}/only-on-a/allowed/upload`, { method: 'POST', headers: { 'proxy-authorization': `Bearer ${FRONT_DOOR_TOKEN}`, 'transfer-encoding': 'chunked' } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.setTimeout(60_000, () => req.destroy(new Error('upload timed out')));
      req.on('error', reject);
      body.pipe(req);
    });
    expect(answer.status, answer.text).to.equal(200);
    expect(JSON.parse(answer.text)).to.deep.equal({ bytes: UPLOAD_BYTES, digest: generatedDigest(UPLOAD_BYTES, BODY_CHUNK) });
    const entries = await recordsOf((list) => list.filter((e) => e.path === '/allowed/upload').length === 2, 'both upload records');
    for (const entry of entries.filter((e) => e.path === '/allowed/upload')) expect(entry.bytesOut).to.equal(UPLOAD_BYTES);
  });

  it('streams a 96 MiB download from A through B, checksummed', async () => {
    const path = `/allowed/download/${DOWNLOAD_BYTES}`;
    const got = await new Promise<{ status: number; bytes: number; digest: string }>((resolve, reject) => {
      const req = request(`${b.frontDoorUrl}/only-on-a${path}`, { headers: { 'proxy-authorization': `Bearer ${FRONT_DOOR_TOKEN}` } }, (res) => {
        digestStream(res).then(({ bytes, digest }) => resolve({ status: res.statusCode ?? 0, bytes, digest }), reject);
      });
      req.setTimeout(60_000, () => req.destroy(new Error('download timed out')));
      req.on('error', reject);
      req.end();
    });
    expect(got).to.deep.equal({ status: 200, bytes: DOWNLOAD_BYTES, digest: generatedDigest(DOWNLOAD_BYTES, BODY_CHUNK) });
    const entries = await recordsOf((list) => list.filter((e) => e.path === path).length === 2, 'both download records');
    for (const entry of entries.filter((e) => e.path === path)) expect(entry.bytesIn).to.equal(DOWNLOAD_BYTES);
  });

  it('holds a download back while the caller does not read (backpressure across both replicas), and cancels it on A when the caller goes away', async () => {
    const size = 256 * 1024 * 1024;
    const path = `/allowed/download/${size}`;
    let received = 0;
    const req = request(`${b.frontDoorUrl}/only-on-a${path}`, { headers: { 'proxy-authorization': `Bearer ${FRONT_DOOR_TOKEN}` } }, (res) => {
      res.once('data', (chunk: Buffer) => {
        received += chunk.length;
        res.pause();
      });
    });
    req.on('error', () => {});
    req.end();
    await waitFor(() => received > 0, 10_000, 'the first bytes');
    // Whatever buffers and windows hold along VCS → agent → A → B → caller fills, then the VCS is held back.
    let last = -1;
    const deadline = Date.now() + 10_000;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const now = vcs.written.get(path) ?? 0;
      if (now === last) break;
      if (Date.now() > deadline) throw new Error('The VCS kept writing');
      last = now;
    }
    console.log(`      measured: the VCS wrote ${(last / 1048576).toFixed(1)} MiB of ${size / 1048576} MiB while the caller read nothing`);
    expect(last, 'bytes the VCS wrote while the caller read nothing').to.be.lessThan(size / 2);
    req.destroy();
    // The abort crosses both replicas and the agent: the VCS sees its caller go.
    await waitFor(() => vcs.aborted.includes(path), 5000, 'the VCS to see the abort');
    const entries = await recordsOf((list) => list.filter((e) => e.path === path).length === 2, 'both aborted records');
    for (const entry of entries.filter((e) => e.path === path)) expect(entry.outcome).to.equal('aborted');
  });

  it('ends a body that broke on A in an error at B\'s caller, never a clean shorter end (VCS_STREAM_RESET)', async () => {
    const outcome = await new Promise<{ bytes: number; error?: string; ended: boolean }>((resolve) => {
      let bytes = 0;
      const req = request(`${b.frontDoorUrl}/only-on-a/allowed/reset-mid-body`, { headers: { 'proxy-authorization': `Bearer ${FRONT_DOOR_TOKEN}` } }, (res) => {
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => resolve({ bytes, ended: true }));
        res.on('error', (error: NodeJS.ErrnoException) => resolve({ bytes, ended: false, error: error.code ?? error.message }));
      });
      req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
      req.on('error', (error: NodeJS.ErrnoException) => resolve({ bytes, ended: false, error: error.code ?? error.message }));
      req.end();
    });
    expect(outcome.ended, JSON.stringify(outcome)).to.equal(false);
    expect(outcome.bytes).to.be.at.most(BODY_CHUNK.length);
    const entries = await recordsOf((list) => list.filter((e) => e.path === '/allowed/reset-mid-body').length === 2, 'both records of the broken body');
    const origin = entries.find((e) => e.path === '/allowed/reset-mid-body' && e.replica === 'fwd-b');
    expect(origin).to.include({ outcome: 'failed', errorCode: 'VCS_STREAM_RESET', forwardedTo: 'fwd-a' });
  });

  it('shows A\'s connection, marked with its replica, and the pool\'s numbers through B\'s admin API', async () => {
    const connections = await b.admin.connections('only-on-a');
    expect(connections.map((c) => [c.agentId, c.replica])).to.deep.equal([['agent-on-a', 'fwd-a']]);
    // The registry is refreshed every 500 ms: the stream the agent reopened after the broken body
    // above may not be counted yet. Bounded wait for the settled view, then the assertions.
    const poolOnB = async (): Promise<AdminPool | undefined> => (await b.admin.listPools()).find((p) => p.name === 'only-on-a');
    let pool = await poolOnB();
    for (const deadline = Date.now() + 3_000; (pool?.streamsIdle ?? 0) + (pool?.streamsBusy ?? 0) !== 4 && Date.now() < deadline; pool = await poolOnB()) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(pool).to.include({ connections: 1 });
    expect((pool?.streamsIdle ?? 0) + (pool?.streamsBusy ?? 0)).to.equal(4);
    const table = await runGatewayCli(['connections', '--admin-url', b.adminUrl], { VCS_GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN });
    expect(table.code, table.stderr).to.equal(0);
    expect(table.stdout.split('\n')[0]).to.match(/^REPLICA\s+POOL\s+AGENT/);
    expect(table.stdout).to.match(/fwd-a\s+only-on-a\s+agent-on-a/);
  });

  it('never writes the peer token to any log line (and warns of nothing at start)', () => {
    for (const replica of [a, b]) {
      expect(replica.logs().filter((line) => line.level === 'warn' || line.level === 'error')).to.deep.equal([]);
      expect(replica.stdout()).to.not.include(PEER_TOKEN);
      expect(replica.stderr()).to.not.include(PEER_TOKEN);
    }
  });
});
