import { expect } from 'chai';
import type { Server } from 'node:http';
import { TunnelClient } from '../../lib/agent/tunnel-client.js';
import type { AccessLogEntry } from '../../lib/gateway/access-log.js';
import { redisSkipReason, startRedisServer, type RunningRedis } from '../helpers/redis-server.js';
import { testPolicy } from '../helpers/test-policy.js';
import { ADMIN_TOKEN, frontDoorGet, httpGet, runGatewayCli, startReplica, startVcs, type Replica } from './pool-replicas.js';

const LOG_SIZE = 8;

describe('cluster: one access log for the whole service (capped Redis stream)', function () {
  this.timeout(60_000);
  let redis: RunningRedis;
  let vcs: { server: Server; url: string };
  let a: Replica;
  let b: Replica;
  let agent: TunnelClient | undefined;

  before(async function () {
    if (redisSkipReason() !== undefined) this.skip();
    redis = (await startRedisServer()) as RunningRedis;
    vcs = await startVcs();
    const size = ['--access-log-size', String(LOG_SIZE)];
    [a, b] = await Promise.all([startReplica(redis.url, 'log-a', size), startReplica(redis.url, 'log-b', size)]);
  });

  after(async () => {
    await agent?.close({ timeoutMs: 1000 }).catch(() => agent?.destroy());
    await Promise.all([a?.stop(), b?.stop()]);
    // Skipped without redis-server: no VCS was started, and close() would never call back.
    if (vcs !== undefined) await new Promise((resolve) => vcs.server.close(resolve));
    await redis?.stop();
  });

  /** The replica's view of the shared log once `check` holds (polled, bounded to 5 s). */
  async function logUntil(replica: Replica, check: (entries: AccessLogEntry[]) => boolean, what: string): Promise<AccessLogEntry[]> {
    let entries = await replica.admin.accessLog();
    const deadline = Date.now() + 5000;
    while (!check(entries)) {
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}: ${JSON.stringify(entries.map((e) => e.path))}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      entries = await replica.admin.accessLog();
    }
    return entries;
  }

  it('shows every replica\'s records, with the replica id, from either replica, newest first and capped', async () => {
    const created = await runGatewayCli(['pool', 'create', '--redis', redis.url, '--name', 'logged', '--gateway-url', b.agentsUrl]);
    expect(created.code, created.stderr).to.equal(0);
    agent = new TunnelClient({ token: created.stdout.trim(), target: vcs.url, policy: testPolicy, parallelism: 1, agentId: 'log-agent' });
    await agent.start();

    expect((await frontDoorGet(b, '/logged/allowed/on-b?private_token=SECRET-IN-QUERY')).status).to.equal(200);
    expect((await frontDoorGet(b, '/logged/denied/on-b')).status).to.equal(403);
    // Appends are fire and forget, and a record is made once its response has gone out: the
    // caller can be answered before B's append reaches Redis. The shared log orders records by
    // arrival, so B's two must land before A records anything (one CI run saw them interleave).
    await logUntil(a, (entries) => entries.length >= 2, "B's two records in the shared log");
    // A holds no agent of the pool (no forwarding on this branch): 503, recorded by A.
    expect((await frontDoorGet(a, '/logged/allowed/on-a')).status).to.equal(503);
    expect((await frontDoorGet(a, '/unknown-pool/allowed/x')).status).to.equal(404);

    const view = (entries: AccessLogEntry[]): unknown[] => entries.map((e) => [e.replica, e.pool, e.path, e.status, e.decision]);
    const expected = [
      ['log-a', 'unknown-pool', '/allowed/x', 0, 'none'],
      ['log-a', 'logged', '/allowed/on-a', 0, 'none'],
      ['log-b', 'logged', '/denied/on-b', 403, 'deny'],
      ['log-b', 'logged', '/allowed/on-b?private_token=[REDACTED]', 200, 'allow'],
    ];
    // Appends are fire and forget: poll (bounded) until the fourth has landed.
    const fromA = await logUntil(a, (entries) => entries.length >= 4, 'four records in the shared log');
    expect(view(fromA)).to.deep.equal(expected);
    expect(view(await b.admin.accessLog())).to.deep.equal(expected);
    expect(JSON.stringify(fromA)).to.not.include('SECRET-IN-QUERY');
    // Filters apply to the whole service's log.
    expect(view(await b.admin.accessLog({ decision: 'deny' }))).to.deep.equal([expected[2]]);
    expect(view(await a.admin.accessLog({ pool: 'logged', status: '2xx' }))).to.deep.equal([expected[3]]);

    // Capped: never more than --access-log-size records, the newest kept.
    for (let i = 0; i < LOG_SIZE + 4; i++) expect((await frontDoorGet(b, `/logged/allowed/n${i}`)).status).to.equal(200);
    const capped = await logUntil(a, (entries) => entries[0]?.path === `/allowed/n${LOG_SIZE + 3}`, 'the newest record');
    expect(capped).to.have.length(LOG_SIZE);
    expect(capped.map((e) => e.path)).to.deep.equal(Array.from({ length: LOG_SIZE }, (_, i) => `/allowed/n${LOG_SIZE + 3 - i}`));

    const metrics = await httpGet(`${a.adminUrl}/metrics`, { authorization: `Bearer ${ADMIN_TOKEN}` });
    expect(metrics.status).to.equal(200);
    expect(metrics.body).to.match(/^vcs_gateway_redis_up 1$/m);
    expect(metrics.body).to.match(/^vcs_gateway_access_log_dropped_total 0$/m);
  });
});
