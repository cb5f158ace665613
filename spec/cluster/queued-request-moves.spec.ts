import { expect } from 'chai';
import { TunnelClient } from '../../lib/agent/tunnel-client.js';
import { Gateway } from '../../lib/gateway/gateway.js';
import type { GatewayResponse } from '../../lib/gateway/gateway-response.js';
import type { Logger } from '../../lib/logger.js';

type LogFields = Record<string, unknown>;
import { createPool } from '../../lib/pools/pool-service.js';
import { redisSkipReason, startRedisServer, type RunningRedis } from '../helpers/redis-server.js';
import { testPolicy } from '../helpers/test-policy.js';
import { waitFor } from '../helpers/wait-for.js';
import { startClusterVcs, type ClusterVcs } from './cluster-vcs.js';

const POOL = 'moves';

/** Records the info lines a replica logs (the rest is dropped). */
function recordingLogger(lines: Array<{ message: string; fields: LogFields | undefined }>): Logger {
  const ignore = (): void => {};
  return { debug: ignore, warn: ignore, error: ignore, info: (message, fields) => lines.push({ message, fields }) };
}

/** The same pool token, pointing the agent at another replica's agent listener. */
function tokenFor(token: string, host: string): string {
  const decoded = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as Record<string, string>;
  return Buffer.from(JSON.stringify({ ...decoded, host })).toString('base64');
}

async function text(response: Promise<GatewayResponse>): Promise<{ status: number; body: string }> {
  const answer = await response;
  const chunks: Buffer[] = [];
  for await (const chunk of answer.body) chunks.push(chunk as Buffer);
  return { status: answer.status, body: Buffer.concat(chunks).toString('utf8') };
}

describe('cluster: a request queued on a busy replica moves to a replica that frees a stream first', function () {
  this.timeout(30_000);
  let redis: RunningRedis;
  let vcsA: ClusterVcs;
  let vcsB: ClusterVcs;
  let a: Gateway;
  let b: Gateway;
  const agents: TunnelClient[] = [];
  const logOfA: Array<{ message: string; fields: LogFields | undefined }> = [];

  before(async function () {
    if (redisSkipReason() !== undefined) this.skip();
    redis = (await startRedisServer()) as RunningRedis;
    [vcsA, vcsB] = await Promise.all([startClusterVcs(), startClusterVcs()]);
    const token = 'peer-token-for-queued-move-spec';
    const replica = (id: string, logger?: Logger): Gateway => new Gateway({ cluster: { redisUrl: redis.url, replicaId: id, peer: { token } }, queueTimeoutMs: 20_000, ...(logger === undefined ? {} : { logger }) });
    a = replica('move-a', recordingLogger(logOfA));
    b = replica('move-b');
    const [atA, atB] = [await a.listen({ host: '127.0.0.1', port: 0 }), await b.listen({ host: '127.0.0.1', port: 0 })];
    await Promise.all([a.listenPeers({ host: '127.0.0.1', port: 0 }), b.listenPeers({ host: '127.0.0.1', port: 0 })]);
    const created = await createPool(a.cluster?.store as NonNullable<Gateway['cluster']>['store'], { name: POOL, gatewayUrl: `http://127.0.0.1:${atA.port}` });
    // One stream on each replica, each agent in front of its own VCS: which VCS holds a request tells which replica served it.
    for (const [poolToken, vcs] of [
      [created.token, vcsA],
      [tokenFor(created.token, `http://127.0.0.1:${atB.port}`), vcsB],
    ] as const) {
      const agent = new TunnelClient({ token: poolToken, target: vcs.url, policy: testPolicy, parallelism: 1, gatewayConnections: 1, reconnect: { initialDelayMs: 50, maxDelayMs: 500 } });
      agents.push(agent);
      await agent.start();
    }
    // Each replica learns from the live registry (written and read every 500 ms) that the other holds the pool.
    await waitFor(() => a.cluster?.registry.candidates(POOL).length === 1 && b.cluster?.registry.candidates(POOL).length === 1, 5_000, 'each replica to see the other');
  });

  after(async () => {
    for (const agent of agents) await agent.close({ timeoutMs: 1000 }).catch(() => agent.destroy());
    await Promise.all([a?.destroy(), b?.destroy()]);
    await Promise.all([vcsA?.close(), vcsB?.close()]);
    await redis?.stop();
  });

  it('serves the request on B once B frees its stream, while A\'s stream is still busy', async () => {
    const heldOnA = text(a.request(`private://${POOL}/allowed/hold/on-a`));
    await waitFor(() => vcsA.holding('on-a') === 1, 5_000, 'A\'s stream to be busy');
    const heldOnB = text(b.request(`private://${POOL}/allowed/hold/on-b`));
    await waitFor(() => vcsB.holding('on-b') === 1, 5_000, 'B\'s stream to be busy');
    // A must know B is busy too, or it would forward the next request to B at once (and B would queue it).
    await waitFor(() => a.cluster?.registry.candidates(POOL)[0]?.load.streamsIdle === 0, 5_000, 'A to see B busy');

    const moved = text(a.request(`private://${POOL}/allowed/hold/moved`));
    await waitFor(() => a.poolStats().find((pool) => pool.name === POOL)?.queued === 1, 5_000, 'the request to queue on A');

    vcsB.release('on-b');
    expect(await heldOnB).to.deep.equal({ status: 200, body: 'released on-b' });
    // B publishes its free stream, A reads it, and moves the queued request there: about 1 s at most.
    await waitFor(() => vcsB.holding('moved') === 1, 5_000, 'the queued request to reach B\'s agent');
    expect(vcsA.holding('on-a'), 'A\'s stream still busy').to.equal(1);
    expect(vcsA.holding('moved')).to.equal(0);
    expect(a.poolStats().find((pool) => pool.name === POOL)?.queued).to.equal(0);
    const line = logOfA.find((entry) => entry.message === 'queued request moved to a replica with a free stream');
    expect(line?.fields).to.include({ pool: POOL, replica: 'move-b' });

    vcsB.release('moved');
    expect(await moved).to.deep.equal({ status: 200, body: 'released moved' });
    vcsA.release('on-a');
    expect(await heldOnA).to.deep.equal({ status: 200, body: 'released on-a' });
  });
});
