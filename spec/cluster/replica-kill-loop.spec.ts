import { expect } from 'chai';
import type { TunnelClient } from '../../lib/agent/tunnel-client.js';
import { redisSkipReason, startRedisServer, type RunningRedis } from '../helpers/redis-server.js';
import { startTcpBalancer, type TcpBalancer } from '../helpers/tcp-balancer.js';
import { waitFor } from '../helpers/wait-for.js';
import { call, startClusterVcs, type ClusterVcs } from './cluster-vcs.js';
import { runGatewayCli, startReplica, type Replica } from './pool-replicas.js';
import { agentsFor, killHard, untilReady, untilServed } from './replica-faults.js';
import { SteadyLoad, accountFor, type Kill } from './steady-load.js';

const CYCLES = 4;
const POOLS = ['north', 'south'] as const;
/** The bound: every pool served again through every surviving replica within 2 s of a kill. */
const SERVED_AGAIN_BOUND_MS = 2000;

describe('cluster: any pool through any of three replicas while one is killed (SIGKILL) and restarted, in a loop', function () {
  this.timeout(180_000);
  let redis: RunningRedis;
  let vcs: ClusterVcs;
  let balancer: TcpBalancer;
  const agents: TunnelClient[] = [];
  /** The live replica in each slot (a restart replaces it, on the same ports). */
  const slots: Replica[] = [];
  const retired: Replica[] = [];
  let load: SteadyLoad | undefined;

  before(async function () {
    if (redisSkipReason() !== undefined) this.skip();
    redis = (await startRedisServer()) as RunningRedis;
    vcs = await startClusterVcs();
    slots.push(...(await Promise.all(['loop-a', 'loop-b', 'loop-c'].map((id) => startReplica(redis.url, id, ['--queue-timeout', '5'], { peer: true })))));
    await Promise.all(slots.map(untilReady));
    balancer = await startTcpBalancer(slots.map((replica) => ({ host: '127.0.0.1', port: replica.ports.agents })));
    for (const pool of POOLS) {
      const created = await runGatewayCli(['pool', 'create', '--redis', redis.url, '--name', pool, '--gateway-url', `http://127.0.0.1:${balancer.port}`]);
      expect(created.code, created.stderr).to.equal(0);
      // Three agents per pool, round-robin over the three replicas: each replica starts with one of each.
      await agentsFor(created.stdout.trim(), vcs.url, [1, 2, 3].map((n) => `${pool}-${n}`), agents);
    }
    for (const replica of slots) for (const pool of POOLS) await untilServed(replica, pool);
  });

  after(async () => {
    await load?.stop();
    await Promise.all(agents.map((agent) => agent.close({ timeoutMs: 1000 }).catch(() => agent.destroy())));
    await Promise.all([...slots, ...retired].map((replica) => replica.stop()));
    await balancer?.close();
    await vcs?.close();
    await redis?.stop();
  });

  /**
   * Which replicas hold connections of each pool, each replica asked for its own (from its
   * memory: the registry's connection lists may be 2 s old); once every agent is connected.
   */
  async function placement(): Promise<Map<string, Set<string>>> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const out = new Map<string, Set<string>>();
      let count = 0;
      for (const replica of slots) {
        for (const connection of await replica.admin.connections()) {
          if (connection.replica !== replica.id) continue;
          count++;
          out.set(connection.poolName, (out.get(connection.poolName) ?? new Set<string>()).add(replica.id));
        }
      }
      if (count === agents.length && agents.every((agent) => agent.state === 'connected')) return out;
      if (Date.now() > deadline) throw new Error(`agents not all connected: ${count} connections for ${agents.length} agents`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** The next replica (in turn from `cycle`) that holds agents, while every pool is also held by another replica. */
  async function chooseVictim(cycle: number): Promise<number> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      for (let i = 0; i < slots.length; i++) {
        const index = (cycle + i) % slots.length;
        const id = (slots[index] as Replica).id;
        const held = await placement();
        const holdsSome = [...held.values()].some((set) => set.has(id));
        const othersHoldAll = POOLS.every((pool) => [...(held.get(pool) ?? [])].some((replica) => replica !== id));
        if (holdsSome && othersHoldAll) return index;
      }
      if (Date.now() > deadline) throw new Error('no replica can be killed without leaving a pool with no agent');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it(`serves every pool through every live replica across ${CYCLES} kill/restart cycles; only requests in flight on the killed replica fail, each accounted for`, async () => {
    const steady = new SteadyLoad(slots, POOLS, '/allowed/slow/30');
    load = steady;
    steady.start(9);
    const kills: Kill[] = [];
    const servedAgainMs: number[] = [];
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      await waitFor(() => steady.results.length >= 120 * (cycle + 1), 30_000, `steady load in cycle ${cycle}`);
      const index = await chooseVictim(cycle);
      const victim = slots[index] as Replica;
      const survivors = slots.filter((replica) => replica !== victim);
      steady.rotation = survivors;
      const kill = await killHard(victim);
      kills.push(kill);
      retired.push(victim);
      const served = await Promise.all(
        survivors.flatMap((replica) =>
          POOLS.map(async (pool) => {
            for (;;) {
              if ((await call(replica, `/${pool}/allowed/probe`, { timeoutMs: 3000 })).status === 200) return performance.now() - kill.sentAt;
              if (performance.now() - kill.sentAt > 5000) return Number.POSITIVE_INFINITY;
            }
          }),
        ),
      );
      servedAgainMs.push(Math.max(...served));
      // Back where it was (same ports: the balancer and the front-door rotation need no change), once ready.
      const restarted = await startReplica(redis.url, victim.id, ['--queue-timeout', '5'], { peer: true, ports: victim.ports });
      slots[index] = restarted;
      await untilReady(restarted);
      steady.rotation = [...slots];
    }
    await waitFor(() => steady.results.length >= 120 * (CYCLES + 1), 30_000, 'steady load after the last cycle');
    await steady.stop();
    const sorted = accountFor(steady.results, kills);
    console.log(
      `      measured: ${CYCLES} cycles, ${steady.results.length} requests, ${sorted.ok} ok, ${sorted.failedOnVictim} broken at the killed front door, ${sorted.forwardedToVictim} forwarded to the killed replica and failed with a code; served again after ${servedAgainMs.map((ms) => Math.round(ms)).join(' / ')} ms`,
    );
    expect(sorted.unexplained, JSON.stringify(sorted.unexplained.slice(0, 5))).to.deep.equal([]);
    expect(sorted.ok + sorted.failedOnVictim + sorted.forwardedToVictim).to.equal(steady.results.length);
    for (const ms of servedAgainMs) expect(ms).to.be.lessThan(SERVED_AGAIN_BOUND_MS);
    // Every replica, including each restarted one, serves every pool at the end.
    for (const replica of slots) for (const pool of POOLS) expect((await call(replica, `/${pool}/allowed/last`)).status).to.equal(200);
  });
});
