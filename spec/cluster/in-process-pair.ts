import { TunnelClient, type TunnelClientOptions } from '../../lib/agent/tunnel-client.js';
import { Gateway, type GatewayOptions } from '../../lib/gateway/gateway.js';
import type { PeerOptions } from '../../lib/gateway/cluster/peer-options.js';
import { createPool } from '../../lib/pools/pool-service.js';
import { digestStream } from '../helpers/bodies.js';
import { testPolicy } from '../helpers/test-policy.js';
import { waitUntil } from '../helpers/wait-for.js';

/** Two replicas in this process on one Redis, with peer listeners, and an agent on A only. */
export interface InProcessPair {
  a: Gateway;
  b: Gateway;
  agent: TunnelClient;
  /** The pool, served by A's agent only: B forwards its requests to A. */
  pool: string;
  /** Agent first, then both replicas. */
  close(): Promise<void>;
}

/**
 * Starts replicas `<prefix>-a` and `<prefix>-b` (each with `peer(id)` merged into its peer
 * options and `gateway(id)` into its options), creates `pool` on A and connects an agent to A
 * (`agent` merged into its options), then waits (bounded) until B has learnt from the live
 * registry, written and read every 500 ms, that A holds the pool. `beforeWarmUp` runs before
 * that wait and `afterWarmUp` after it.
 */
export async function startInProcessPair(options: {
  redisUrl: string;
  vcsUrl: string;
  prefix: string;
  pool: string;
  peer?: (id: 'a' | 'b') => Partial<PeerOptions>;
  gateway?: (id: 'a' | 'b') => Partial<GatewayOptions>;
  agent?: Partial<TunnelClientOptions>;
  beforeWarmUp?: () => void;
  afterWarmUp?: () => void;
}): Promise<InProcessPair> {
  const token = `peer-token-for-${options.prefix}-spec`.padEnd(16, '-');
  const replica = (id: 'a' | 'b'): Gateway =>
    new Gateway({ cluster: { redisUrl: options.redisUrl, replicaId: `${options.prefix}-${id}`, peer: { token, ...options.peer?.(id) } }, ...options.gateway?.(id) });
  const [a, b] = [replica('a'), replica('b')];
  const agentsAt = await a.listen({ host: '127.0.0.1', port: 0 });
  await b.listen({ host: '127.0.0.1', port: 0 });
  await Promise.all([a.listenPeers({ host: '127.0.0.1', port: 0 }), b.listenPeers({ host: '127.0.0.1', port: 0 })]);
  const { token: poolToken } = await createPool(a.cluster?.store as NonNullable<Gateway['cluster']>['store'], { name: options.pool, gatewayUrl: `http://127.0.0.1:${agentsAt.port}` });
  const agent = new TunnelClient({ token: poolToken, target: options.vcsUrl, policy: testPolicy, parallelism: 2, gatewayConnections: 1, reconnect: { initialDelayMs: 50, maxDelayMs: 500 }, ...options.agent });
  const close = async (): Promise<void> => {
    await agent.close({ timeoutMs: 1000 }).catch(() => agent.destroy());
    await Promise.all([a.destroy(), b.destroy()]);
  };
  try {
    await agent.start();
    options.beforeWarmUp?.();
    await waitUntil(async () => {
      // Until then B has no route: request() rejects with NoAgentError.
      const response = await b.request(`private://${options.pool}/allowed/warm-up`).catch(() => undefined);
      if (response !== undefined) await digestStream(response.body);
      return response?.status === 200;
    }, 5000, 'B to forward to A');
    options.afterWarmUp?.();
  } catch (error) {
    await close();
    throw error;
  }
  return { a, b, agent, pool: options.pool, close };
}
