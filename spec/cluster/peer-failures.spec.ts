import { expect } from 'chai';
import { connect, type IncomingHttpHeaders } from 'node:http2';
import * as net from 'node:net';
import { Redis } from 'ioredis';
import { TunnelClient } from '../../lib/agent/tunnel-client.js';
import { decodePoolToken, encodePoolToken } from '../../lib/protocol/token.js';
import { redisSkipReason, startRedisServer, type RunningRedis } from '../helpers/redis-server.js';
import { testPolicy } from '../helpers/test-policy.js';
import { waitFor } from '../helpers/wait-for.js';
import { call, startClusterVcs, type CallResult, type ClusterVcs } from './cluster-vcs.js';
import { PEER_TOKEN, runGatewayCli, startReplica, type Replica } from './pool-replicas.js';
import { untilServed } from './replica-faults.js';

const WRONG_TOKEN = 'cluster-spec-wrong-peer-token-51c9';

/** A request straight to a replica's peer listener, as another replica (or an impostor) would send it; bounded to 5 s. */
function peerCall(url: string, headers: Record<string, string>): Promise<{ status: number; error?: { code: string; message: string; refused: boolean }; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const session = connect(url);
    session.on('error', reject);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error('peer call timed out'));
    }, 5000);
    const head = JSON.stringify({ id: `spec-${Math.random().toString(16).slice(2)}`, method: 'GET', path: '/allowed/direct', headers: [], body: false });
    const stream = session.request({ ':method': 'POST', ':path': '/forward', 'vcs-peer-pool': 'held', 'vcs-peer-head': head, ...headers }, { endStream: true });
    stream.on('error', () => {});
    stream.on('response', (response: IncomingHttpHeaders) => {
      clearTimeout(timer);
      const error = response['vcs-peer-error'];
      resolve({ status: Number(response[':status']), ms: performance.now() - started, ...(typeof error === 'string' ? { error: JSON.parse(error) } : {}) });
      session.destroy();
    });
  });
}

describe('cluster: peer forwarding fails closed, bounded in time (replica processes, real Redis)', function () {
  this.timeout(120_000);
  let redis: RunningRedis;
  let vcs: ClusterVcs;
  let a: Replica;
  let b: Replica;
  let c: Replica;
  let store: Redis;
  let token: string;
  const agents: TunnelClient[] = [];
  const replicas: Replica[] = [];

  before(async function () {
    if (redisSkipReason() !== undefined) this.skip();
    redis = (await startRedisServer()) as RunningRedis;
    vcs = await startClusterVcs();
    [a, b, c] = await Promise.all(['fail-a', 'fail-b', 'fail-c'].map((id) => startReplica(redis.url, id, [], { peer: true })));
    replicas.push(a, b, c);
    store = new Redis(redis.url);
    const created = await runGatewayCli(['pool', 'create', '--redis', redis.url, '--name', 'held', '--gateway-url', a.agentsUrl]);
    expect(created.code, created.stderr).to.equal(0);
    token = created.stdout.trim();
    await agentOn(a, 'agent-on-a');
    await untilServed(b, 'held');
  });

  after(async () => {
    for (const replica of replicas) if (replica.child.exitCode === null) replica.child.kill('SIGCONT');
    await Promise.all(agents.map((agent) => agent.close({ timeoutMs: 1000 }).catch(() => agent.destroy())));
    await Promise.all(replicas.map((replica) => replica.stop()));
    store?.disconnect();
    await vcs?.close();
    await redis?.stop();
  });

  async function agentOn(replica: Replica, agentId: string): Promise<TunnelClient> {
    const own = encodePoolToken({ ...decodePoolToken(token), host: replica.agentsUrl });
    const agent = new TunnelClient({ token: own, target: vcs.url, policy: testPolicy, parallelism: 1, gatewayConnections: 1, agentId, reconnect: { initialDelayMs: 50, maxDelayMs: 500 } });
    agent.on('disconnected', () => {});
    agents.push(agent);
    await agent.start();
    return agent;
  }

  function logLines(replica: Replica, message: string): Array<Record<string, unknown>> {
    return replica.logs().filter((line) => line.message === message);
  }

  it('refuses a request on the peer listener without the peer token or with a wrong one (401 VCS_PEER_UNAUTHORIZED)', async () => {
    const missing = await peerCall(a.peerUrl as string, { 'vcs-peer-from': 'fail-b' });
    expect(missing).to.deep.include({ status: 401 });
    expect(missing.error?.code).to.equal('VCS_PEER_UNAUTHORIZED');
    const wrong = await peerCall(a.peerUrl as string, { 'vcs-peer-token': WRONG_TOKEN, 'vcs-peer-from': 'fail-b' });
    expect(wrong.status).to.equal(401);
    expect(wrong.error?.code).to.equal('VCS_PEER_UNAUTHORIZED');
    await waitFor(() => logLines(a, 'peer request refused: missing or wrong peer token').length >= 2, 2000, 'the refusals in the log');
  });

  it('refuses a second hop and a marker naming the replica itself (508 VCS_FORWARD_LOOP), and a caller that forges the marker', async () => {
    const twice = await peerCall(a.peerUrl as string, { 'vcs-peer-token': PEER_TOKEN, 'vcs-peer-from': 'fail-b, fail-c' });
    expect(twice.status).to.equal(508);
    expect(twice.error?.code).to.equal('VCS_FORWARD_LOOP');
    const itself = await peerCall(a.peerUrl as string, { 'vcs-peer-token': PEER_TOKEN, 'vcs-peer-from': 'fail-a' });
    expect(itself.error?.code).to.equal('VCS_FORWARD_LOOP');
    // A caller's own vcs-peer-* header never travels to another replica.
    const forged = await call(b, '/held/allowed/forged', { headers: { 'vcs-peer-from': 'fail-c' } });
    expect([forged.status, forged.code]).to.deep.equal([508, 'VCS_FORWARD_LOOP']);
    expect(forged.durationMs).to.be.lessThan(1000);
  });

  it('answers a forwarded request it cannot serve itself with a typed refusal and never forwards it again', async () => {
    // C holds no connection of "held" (A does); as an origin it would forward, as a peer it must not.
    const refused = await peerCall(c.peerUrl as string, { 'vcs-peer-token': PEER_TOKEN, 'vcs-peer-from': 'fail-b' });
    expect(refused.status).to.equal(503);
    expect(refused.error).to.deep.include({ code: 'VCS_NO_AGENT', refused: true });
    expect(refused.ms).to.be.lessThan(1000);
    const entries = await c.admin.accessLog({ pool: 'held', limit: '50' });
    const mine = entries.filter((entry) => entry.path === '/allowed/direct' && entry.replica === 'fail-c');
    expect(mine).to.have.length(1);
    expect(mine[0]).to.include({ forwardedFrom: 'fail-b', outcome: 'rejected', errorCode: 'VCS_NO_AGENT' });
    expect(mine[0]).to.not.have.property('forwardedTo');
  });

  it('skips a stale registry entry pointing to a dead port or to a listener that never speaks HTTP/2, within the 1 s connect bound', async () => {
    const dead = net.createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', () => resolve()));
    const deadPort = (dead.address() as net.AddressInfo).port;
    await new Promise((resolve) => dead.close(resolve));
    // Accepts connections and never answers: what a frozen process looks like from outside.
    const mute = net.createServer(() => {});
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', () => resolve()));
    const mutePort = (mute.address() as net.AddressInfo).port;
    try {
      for (const [ghost, port] of [['ghost-dead', deadPort], ['ghost-mute', mutePort]] as const) {
        // Far more idle streams than A has: the ghost is chosen first while its entry lasts.
        const entry = { replicaId: ghost, at: new Date().toISOString(), peerUrl: `http://127.0.0.1:${port}`, pools: { held: { id: 'x', connections: 9, streamsIdle: 90, streamsBusy: 0, queued: 0 } } };
        await store.multi().set(`vcs-gateway:replica:${ghost}`, JSON.stringify(entry), 'PX', 30_000).sadd('vcs-gateway:replicas', ghost).exec();
        const results: CallResult[] = [];
        const deadline = Date.now() + 5000;
        while (!logLines(b, 'forwarded request re-dispatched: the peer did not take it').some((line) => line.replica === ghost)) {
          if (Date.now() > deadline) throw new Error(`B never tried ${ghost}`);
          results.push(await call(b, '/held/allowed/stale'));
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        // Every request succeeded, none waited longer than the connect bound and a little.
        expect(results.map((r) => r.status)).to.satisfy((statuses: number[]) => statuses.every((s) => s === 200));
        expect(Math.max(...results.map((r) => r.durationMs))).to.be.lessThan(1500);
        await store.multi().del(`vcs-gateway:replica:${ghost}`).srem('vcs-gateway:replicas', ghost).exec();
      }
      // A stale entry for a pool nobody holds: a typed answer within the bound, never a hang.
      const entry = { replicaId: 'ghost-only', at: new Date().toISOString(), peerUrl: `http://127.0.0.1:${mutePort}`, pools: { nobody: { id: 'x', connections: 1, streamsIdle: 4, streamsBusy: 0, queued: 0 } } };
      await store.multi().set('vcs-gateway:replica:ghost-only', JSON.stringify(entry), 'PX', 30_000).sadd('vcs-gateway:replicas', 'ghost-only').exec();
      const created = await runGatewayCli(['pool', 'create', '--redis', redis.url, '--name', 'nobody', '--gateway-url', a.agentsUrl]);
      expect(created.code).to.equal(0);
      const deadline = Date.now() + 5000;
      let answer: CallResult;
      do {
        answer = await call(b, '/nobody/allowed/x');
        expect([answer.status, answer.code]).to.deep.equal([503, 'VCS_NO_AGENT']);
        expect(answer.durationMs).to.be.lessThan(1500);
        if (Date.now() > deadline) throw new Error('B never tried ghost-only');
      } while (!logLines(b, 'forwarded request re-dispatched: the peer did not take it').some((line) => line.replica === 'ghost-only'));
    } finally {
      mute.close();
      await store.multi().del('vcs-gateway:replica:ghost-only').srem('vcs-gateway:replicas', 'ghost-only').exec();
    }
  });

  it('a replica with another peer token is refused by its peers, says so once, and answers its callers with a typed error', async () => {
    const d = await startReplica(redis.url, 'fail-d', [], { peer: true, env: { VCS_GATEWAY_PEER_TOKEN: WRONG_TOKEN } });
    replicas.push(d);
    const deadline = Date.now() + 5000;
    while (logLines(d, "a peer replica refused this replica's peer token: give every replica the same --peer-token").length === 0) {
      if (Date.now() > deadline) throw new Error('D never learnt that its token is refused');
      const answer = await call(d, '/held/allowed/mismatch');
      expect([answer.status, answer.code]).to.deep.equal([503, 'VCS_NO_AGENT']);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const replica of replicas) {
      for (const secret of [PEER_TOKEN, WRONG_TOKEN]) {
        expect(replica.stdout(), replica.id).to.not.include(secret);
        expect(replica.stderr(), replica.id).to.not.include(secret);
      }
    }
  });

  it('a frozen replica (SIGSTOP): its forwarded request fails with 502 VCS_PEER_FAILED and every other request is served elsewhere, none hangs', async () => {
    // One request held by A's only stream (forwarded from B), then the pool also gets an agent on C.
    const held = call(b, '/held/allowed/hold/frozen', { timeoutMs: 20_000 });
    await waitFor(() => vcs.holding('frozen') === 1, 5000, 'the held request at the VCS');
    await agentOn(c, 'agent-on-c');
    await untilServed(b, 'held');
    a.child.kill('SIGSTOP');
    const frozenAt = performance.now();
    try {
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => call(b, `/held/allowed/while-frozen-${i}`, { timeoutMs: 10_000 })));
      for (const result of results) {
        expect(result.status, result.body).to.equal(200);
        expect(result.durationMs).to.be.lessThan(4000);
      }
      const failed = await held;
      console.log(`      measured: the frozen replica's request failed ${Math.round(performance.now() - frozenAt)} ms after SIGSTOP; the others took at most ${Math.round(Math.max(...results.map((r) => r.durationMs)))} ms`);
      expect([failed.status, failed.code]).to.deep.equal([502, 'VCS_PEER_FAILED']);
      expect(failed.message).to.include('fail-a');
      // PING every second, 2 s without an answer: the bound on noticing a frozen peer.
      expect(performance.now() - frozenAt).to.be.lessThan(4000);
    } finally {
      a.child.kill('SIGCONT');
    }
  });
});
