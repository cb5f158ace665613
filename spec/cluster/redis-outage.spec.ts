import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TunnelClient } from '../../lib/agent/tunnel-client.js';
import { createRedisClient } from '../../lib/gateway/cluster/redis-client.js';
import { redisSkipReason, startRedisServer, type RunningRedis } from '../helpers/redis-server.js';
import { testPolicy } from '../helpers/test-policy.js';
import { waitFor } from '../helpers/wait-for.js';
import { frontDoorGet, httpGet, runGatewayCli, startReplica, startVcs, type Replica } from './pool-replicas.js';

/** The scenario: Redis restarted or unreachable for 10 s. */
const OUTAGE_MS = 10_000;

describe('cluster: Redis unreachable for 10 s, then restarted (two gateway processes)', function () {
  this.timeout(60_000);
  let dir: string;
  let redis: RunningRedis | undefined;
  let vcs: { server: Server; url: string };
  let a: Replica;
  let b: Replica;
  let agent: TunnelClient | undefined;
  let loading = false;

  before(async function () {
    if (redisSkipReason() !== undefined) this.skip();
    dir = await mkdtemp(join(tmpdir(), 'redis-outage-'));
    redis = (await startRedisServer({ dir })) as RunningRedis;
    vcs = await startVcs();
    [a, b] = await Promise.all([startReplica(redis.url, 'outage-a'), startReplica(redis.url, 'outage-b')]);
  });

  after(async () => {
    loading = false;
    await agent?.close({ timeoutMs: 1000 }).catch(() => agent?.destroy());
    await Promise.all([a?.stop(), b?.stop()]);
    // Skipped without redis-server: no VCS was started, and close() would never call back.
    if (vcs !== undefined) await new Promise((resolve) => vcs.server.close(resolve));
    await redis?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  async function readyz(replica: Replica): Promise<{ status: number; reason?: string }> {
    const { status, body } = await httpGet(`${replica.adminUrl}/readyz`);
    return { status, reason: (JSON.parse(body) as { reason?: string }).reason };
  }

  /** Polls /readyz until `check` holds (bounded). */
  async function readyzUntil(replica: Replica, check: (r: { status: number; reason?: string }) => boolean, timeoutMs: number, what: string): Promise<{ status: number; reason?: string }> {
    let last = await readyz(replica);
    const deadline = Date.now() + timeoutMs;
    while (!check(last)) {
      if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; last /readyz: ${JSON.stringify(last)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      last = await readyz(replica);
    }
    return last;
  }

  it('keeps serving held connections, reports not-ready with the reason, fails closed for what it cannot check, and resyncs when Redis is back', async () => {
    const created = await runGatewayCli(['pool', 'create', '--redis', (redis as RunningRedis).url, '--name', 'steady', '--gateway-url', b.agentsUrl]);
    expect(created.code, created.stderr).to.equal(0);
    agent = new TunnelClient({ token: created.stdout.trim(), target: vcs.url, policy: testPolicy, parallelism: 2, agentId: 'steady-agent', reconnect: { initialDelayMs: 50, maxDelayMs: 500 } });
    agent.on('disconnected', () => {});
    await agent.start();
    expect((await readyz(a)).status).to.equal(200);
    expect((await readyz(b)).status).to.equal(200);

    // Steady load on B, one request after another, for the whole scenario.
    const statuses: number[] = [];
    loading = true;
    const load = (async () => {
      while (loading) {
        const { status } = await frontDoorGet(b, '/steady/allowed/tick').catch(() => ({ status: -1 }));
        statuses.push(status);
        await new Promise((resolve) => setTimeout(resolve, 20)); // pacing, not a wait for an event
      }
    })();

    // Like a Redis with persistence: the data survives the restart (SAVE, then kill -9).
    const admin = createRedisClient({ url: (redis as RunningRedis).url });
    await admin.connect();
    await admin.save();
    admin.disconnect();
    const port = (redis as RunningRedis).port;
    const killedAt = Date.now();
    await (redis as RunningRedis).kill();
    redis = undefined;

    for (const replica of [a, b]) {
      const down = await readyzUntil(replica, (r) => r.status === 503, 5000, `${replica.id} to report not ready`);
      expect(down.reason).to.match(/^redis unreachable since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    // Fail closed for what needs the store: A holds no connection of the pool, so it cannot tell (typed 503).
    const unchecked = await frontDoorGet(a, '/steady/allowed/from-a');
    expect(unchecked.status).to.equal(503);
    expect(JSON.parse(unchecked.body).error.code).to.equal('VCS_STORE_UNAVAILABLE');

    // The outage itself: the issue asks for 10 s of it.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - (Date.now() - killedAt))));
    expect((await readyz(b)).status, 'still not ready at the end of the outage').to.equal(503);
    const duringOutage = statuses.length;

    redis = (await startRedisServer({ port, dir })) as RunningRedis;
    const backAt = Date.now();
    await readyzUntil(a, (r) => r.status === 200, 10_000, 'A to be ready again');
    await readyzUntil(b, (r) => r.status === 200, 10_000, 'B to be ready again');
    const resyncMs = Date.now() - backAt;
    loading = false;
    await load;

    expect(duringOutage, 'requests made during the outage').to.be.greaterThan(20);
    expect(statuses.filter((status) => status !== 200), 'every request for the held pool succeeded').to.deep.equal([]);
    expect(resyncMs, `ready again ${resyncMs} ms after Redis came back`).to.be.at.most(10_000);
    // The resync revalidated every pool and found the held one still there: nothing was closed.
    await waitFor(() => b.logs().some((line) => line.message === 'resynced with redis: every held pool revalidated'), 5000, 'B to resync');
    expect(b.logs().find((line) => line.message === 'resynced with redis: every held pool revalidated')?.closed).to.equal(0);
    expect(b.logs().filter((line) => line.message === 'agent evicted')).to.deep.equal([]);
    // Access records were dropped, with one warning for the outage, not one per request.
    expect(b.logs().filter((line) => typeof line.message === 'string' && line.message.startsWith('access records are not reaching'))).to.have.length(1);

    // Changes propagate again: a deletion through A closes B's connection within 1 s.
    const deletedAt = Date.now();
    await a.admin.deletePool('steady');
    await waitFor(() => b.logs().some((line) => line.message === 'agent evicted' && line.pool === 'steady'), 5000, 'B to close the deleted pool');
    const propagationMs = Date.now() - deletedAt;
    expect(propagationMs, `deletion reached B after ${propagationMs} ms`).to.be.at.most(1000);
    expect((await frontDoorGet(b, '/steady/allowed/gone')).status).to.equal(404);
  });
});
