/*
 * Fault helpers for the replica specs: kill -9 with the times around it, readiness, agents
 * behind the balancer, and "served through this replica" as a bounded wait.
 */
import { TunnelClient } from '../../lib/agent/tunnel-client.js';
import { testPolicy } from '../helpers/test-policy.js';
import { call } from './cluster-vcs.js';
import { httpGet, type Replica } from './pool-replicas.js';
import type { Kill } from './steady-load.js';

/** kill -9, resolved once the process is gone; returns when the signal was sent and when the exit was seen. */
export async function killHard(replica: Replica): Promise<Kill> {
  const exited = new Promise<void>((resolve) => replica.child.once('exit', () => resolve()));
  const sentAt = performance.now();
  replica.child.kill('SIGKILL');
  await exited;
  return { victim: replica.id, sentAt, goneAt: performance.now() };
}

/** Bounded: until `replica` answers /readyz with 200 (its registry read once: it knows where to forward). */
export async function untilReady(replica: Replica): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await httpGet(`${replica.adminUrl}/readyz`).catch(() => ({ status: 0 }))).status !== 200) {
    if (Date.now() > deadline) throw new Error(`${replica.id} never became ready`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Agents for `pool`, dialling through the balancer, started one after the other (so its
 * round-robin places them). One gateway connection each: the placement the specs plan is one
 * connection per agent (an agent's second connection would land on the next replica).
 */
export async function agentsFor(token: string, vcsUrl: string, ids: readonly string[], into: TunnelClient[]): Promise<void> {
  for (const agentId of ids) {
    const agent = new TunnelClient({ token, target: vcsUrl, policy: testPolicy, parallelism: 4, gatewayConnections: 1, agentId, reconnect: { initialDelayMs: 50, maxDelayMs: 300 } });
    agent.on('disconnected', () => {});
    into.push(agent);
    await agent.start();
  }
}

/**
 * Bounded: until a GET through `replica` for `pool` succeeds (the live registry is read every
 * 500 ms). Each try gives up after 700 ms: one that queued behind a busy stream is cancelled,
 * and the cancel reaches the replica it queued on.
 */
export async function untilServed(replica: Replica, pool: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await call(replica, `/${pool}/allowed/warm-up`, { timeoutMs: 700 })).status !== 200) {
    if (Date.now() > deadline) throw new Error(`${replica.id} never served ${pool}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
