import { expect } from 'chai';
import type { Server } from 'node:http';
import { TunnelClient } from '../../lib/agent/tunnel-client.js';
import { decodePoolToken, encodePoolToken } from '../../lib/protocol/token.js';
import { redisSkipReason, startRedisServer, type RunningRedis } from '../helpers/redis-server.js';
import { testPolicy } from '../helpers/test-policy.js';
import { waitFor } from '../helpers/wait-for.js';
import { frontDoorGet, runGatewayCli, startReplica, startVcs, type Replica } from './pool-replicas.js';

/** The bound: a change made on one replica is applied on every other within a second. */
const PROPAGATION_BOUND_MS = 1000;

describe('cluster: pool changes made on one replica reach the others at once (two gateway processes on one Redis)', function () {
  this.timeout(60_000);
  let redis: RunningRedis;
  let vcs: { server: Server; url: string };
  let a: Replica;
  let b: Replica;
  const agents: TunnelClient[] = [];

  before(async function () {
    if (redisSkipReason() !== undefined) this.skip();
    redis = (await startRedisServer({ password: 'cluster-spec-redis-pw' })) as RunningRedis;
    vcs = await startVcs();
    [a, b] = await Promise.all([startReplica(redis.url, 'replica-a'), startReplica(redis.url, 'replica-b')]);
  });

  after(async () => {
    await Promise.all(agents.map((agent) => agent.close({ timeoutMs: 1000 }).catch(() => agent.destroy())));
    await Promise.all([a?.stop(), b?.stop()]);
    // Skipped without redis-server: no VCS was started, and close() would never call back.
    if (vcs !== undefined) await new Promise((resolve) => vcs.server.close(resolve));
    await redis?.stop();
  });

  /** A pool made with `vcs-gateway pool create --redis`, its token naming B's agent listener. */
  async function createOnB(name: string): Promise<string> {
    const created = await runGatewayCli(['pool', 'create', '--redis', redis.url, '--name', name, '--gateway-url', b.agentsUrl]);
    expect(created.code, created.stderr).to.equal(0);
    return created.stdout.trim();
  }

  async function agentOn(token: string, agentId: string): Promise<TunnelClient> {
    const agent = new TunnelClient({ token, target: vcs.url, policy: testPolicy, parallelism: 2, agentId, reconnect: { initialDelayMs: 50, maxDelayMs: 500 } });
    agent.on('disconnected', () => {});
    agents.push(agent);
    await agent.start();
    return agent;
  }

  /** Milliseconds until B holds no connection of `pool` any more (bounded well above the bound, to measure). */
  async function untilBHoldsNone(pool: string, since: number): Promise<number> {
    await waitFor(() => !b.logs().some((line) => line.message === 'agent connected' && line.pool === pool && !closedOnB(pool, String(line.connectionId))), 5000, `B to close the connections of ${pool}`);
    return Date.now() - since;
  }

  function closedOnB(pool: string, connectionId: string): boolean {
    return b.logs().some((line) => line.message === 'agent evicted' && line.pool === pool && line.connectionId === connectionId);
  }

  /** B's 'agent evicted' line for `pool` (bounded: B writes its log in batches of up to 10 ms). */
  async function evictionOnB(pool: string): Promise<Record<string, unknown>> {
    const find = (): Record<string, unknown> | undefined => b.logs().find((line) => line.message === 'agent evicted' && line.pool === pool);
    await waitFor(() => find() !== undefined, 2_000, `B's eviction line for ${pool}`);
    return find() as Record<string, unknown>;
  }

  it('a pool deleted through replica A stops being served on replica B within 1 s', async () => {
    const token = await createOnB('deleted-on-a');
    const list = await runGatewayCli(['pool', 'list', '--json'], { VCS_GATEWAY_REDIS_URL: redis.url });
    expect(list.code, list.stderr).to.equal(0);
    expect((JSON.parse(list.stdout) as Array<{ name: string }>).map((p) => p.name)).to.include('deleted-on-a');
    await agentOn(token, 'agent-on-b');
    expect((await frontDoorGet(b, '/deleted-on-a/allowed/before')).body).to.equal('vcs saw /allowed/before');
    expect(await a.admin.connections('deleted-on-a')).to.deep.equal([]);

    const started = Date.now();
    await a.admin.deletePool('deleted-on-a');
    const elapsed = await untilBHoldsNone('deleted-on-a', started);
    expect(elapsed, `B closed the deleted pool's connection after ${elapsed} ms`).to.be.at.most(PROPAGATION_BOUND_MS);
    const after = await frontDoorGet(b, '/deleted-on-a/allowed/after');
    expect(after.status).to.equal(404);
    expect(JSON.parse(after.body).error.code).to.equal('VCS_POOL_NOT_FOUND');
    expect((await evictionOnB('deleted-on-a')).reason).to.equal('pool_deleted');
  });

  it('a rotation with grace 0 through A (admin API) or the CLI closes B\'s connections made with the old key within 1 s; a CLI deletion too', async () => {
    const first = await createOnB('rotated');
    const poolId = decodePoolToken(first).pool_ulid;
    await agentOn(first, 'old-key-agent');

    let started = Date.now();
    const rotated = await a.admin.rotatePool('rotated', 0);
    let elapsed = await untilBHoldsNone('rotated', started);
    expect(elapsed, `B closed the old key's connection after ${elapsed} ms`).to.be.at.most(PROPAGATION_BOUND_MS);
    expect((await evictionOnB('rotated')).reason).to.equal('key_expired');

    // The new key (the token names A's listener; the key is what counts) is accepted on B.
    const second = encodePoolToken({ ...decodePoolToken(rotated.token), host: b.agentsUrl });
    expect(decodePoolToken(second).pool_ulid).to.equal(poolId);
    await agentOn(second, 'second-key-agent');
    expect((await frontDoorGet(b, '/rotated/allowed/second')).status).to.equal(200);

    started = Date.now();
    const cliRotate = await runGatewayCli(['pool', 'rotate', '--redis', redis.url, '--name', 'rotated', '--grace', '0', '--gateway-url', b.agentsUrl]);
    expect(cliRotate.code, cliRotate.stderr).to.equal(0);
    elapsed = await untilBHoldsNone('rotated', started);
    // The CLI's own start-up (a Node process) is inside the measure: the bound is for what follows the change.
    expect(elapsed, `B closed the second key's connection ${elapsed} ms after the CLI started`).to.be.at.most(PROPAGATION_BOUND_MS + 3000);

    await agentOn(cliRotate.stdout.trim(), 'third-key-agent');
    expect((await frontDoorGet(b, '/rotated/allowed/third')).status).to.equal(200);
    const cliDelete = await runGatewayCli(['pool', 'delete', '--redis', redis.url, '--name', 'rotated']);
    expect(cliDelete.code, cliDelete.stderr).to.equal(0);
    expect(cliDelete.stdout).to.include(`Deleted pool rotated (${poolId})`);
    const deletedAt = Date.now();
    elapsed = await untilBHoldsNone('rotated', deletedAt);
    expect(elapsed, `B closed the deleted pool's connection ${elapsed} ms after the CLI exited`).to.be.at.most(PROPAGATION_BOUND_MS);
    expect((await frontDoorGet(b, '/rotated/allowed/gone')).status).to.equal(404);
  });

  it('refuses --redis with --store, and a bad URL, naming the flag or variable (exit 2, no stack)', async () => {
    const results = await Promise.all([
      runGatewayCli(['pool', 'list', '--redis', redis.url, '--store', '/tmp/unused.json']),
      runGatewayCli(['pool', 'list', '--redis', 'http://127.0.0.1:1']),
      runGatewayCli(['serve', '--listen', '127.0.0.1:0'], { VCS_GATEWAY_REDIS_URL: 'redis//nope' }),
      runGatewayCli(['serve', '--listen', '127.0.0.1:0', '--replica-id', 'lonely']),
      runGatewayCli(['pool', 'list', '--redis', 'redis://:not-the-password@127.0.0.1:1']),
    ]);
    expect(results.map((r) => r.code)).to.deep.equal([2, 2, 2, 2, 1]);
    expect(results[0]?.stderr).to.include('--redis and --store go alone');
    expect(results[1]?.stderr).to.include('--redis must be a redis:// or rediss:// URL');
    expect(results[2]?.stderr).to.include('VCS_GATEWAY_REDIS_URL must be a redis:// or rediss:// URL');
    expect(results[3]?.stderr).to.include('--replica-id needs --redis');
    expect(results[4]?.stderr).to.include('Cannot reach the Redis pool store (redis://:***@127.0.0.1:1)');
    for (const result of results) {
      expect(result.stderr).to.not.match(/\n\s+at /);
      expect(result.stderr).to.not.include('not-the-password');
    }
  });
});
