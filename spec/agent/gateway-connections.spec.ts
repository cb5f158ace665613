import { expect } from 'chai';
import type { ServerResponse } from 'node:http';
import { AgentMetrics } from '../../lib/agent/agent-metrics.js';
import { HealthServer } from '../../lib/agent/health-server.js';
import { TunnelClient, type TunnelClientEvents, type TunnelClientOptions } from '../../lib/agent/tunnel-client.js';
import { AuthenticationError } from '../../lib/errors.js';
import { Gateway } from '../../lib/gateway/gateway.js';
import { decodePoolToken, encodePoolToken } from '../../lib/protocol/token.js';
import { MemoryLogger } from '../helpers/memory-logger.js';
import { FakeSpaceliftGateway } from '../helpers/spacelift-gateway.js';
import { startTcpBalancer, type BalancerBackend, type TcpBalancer } from '../helpers/tcp-balancer.js';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { nextEvent, waitFor } from '../helpers/wait-for.js';

type Disconnected = TunnelClientEvents['disconnected'][0];

/** `private://<pool><path>` through one gateway, body collected. */
async function fetchVia(gateway: Gateway, pool: string, path: string): Promise<{ status: number; body: string }> {
  const response = await gateway.request(`private://${pool}${path}`);
  const chunks: Buffer[] = [];
  for await (const chunk of response.body) chunks.push(chunk as Buffer);
  return { status: response.status, body: Buffer.concat(chunks).toString() };
}

describe('TunnelClient with several gateway connections (gatewayConnections)', function () {
  this.timeout(30_000);
  let harness: Harness;
  let client: TunnelClient | undefined;
  let logger: MemoryLogger;
  /** Responses the VCS holds back; it answers once `holdUntil` requests are waiting. */
  const held: ServerResponse[] = [];
  let holdUntil = 0;
  const releaseAll = (): void => {
    for (const res of held.splice(0)) res.end('done');
  };
  const cleanups: Array<() => unknown> = [];

  beforeEach(async function () {
    holdUntil = 0;
    harness = await startHarness({
      policy: testPolicy,
      parallelism: 2,
      vcs: (req, res) => {
        req.resume();
        req.on('end', () => {
          held.push(res);
          if (held.length >= holdUntil) releaseAll();
        });
      },
    });
    // Only the clients of these specs serve the pool.
    harness.client.destroy();
    logger = new MemoryLogger();
  });
  afterEach(async function () {
    client?.destroy();
    client = undefined;
    releaseAll();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await harness.close();
  });

  const startClient = async (options: Partial<TunnelClientOptions> = {}): Promise<TunnelClient> => {
    client = new TunnelClient({ token: harness.token, target: harness.vcsUrl, policy: testPolicy, parallelism: 2, logger, reconnect: { initialDelayMs: 20, maxDelayMs: 200 }, ...options });
    await client.start();
    return client;
  };
  const allConnected = (tunnel: TunnelClient, streams = 2): boolean => tunnel.connections.every((connection) => connection.state === 'connected' && connection.streams.open === streams);
  const recordDisconnects = (tunnel: TunnelClient): Disconnected[] => {
    const events: Disconnected[] = [];
    tunnel.on('disconnected', (event) => events.push(event));
    return events;
  };

  /** A second gateway replica on the same store and a TCP balancer over both: the agent's two dials land one on each. */
  const twoReplicas = async (): Promise<{ a: Gateway; b: Gateway; balancer: TcpBalancer; bBackend: BalancerBackend; token: string }> => {
    const b = new Gateway({ store: harness.store });
    cleanups.push(() => b.destroy());
    const bAddress = await b.listen({ host: '127.0.0.1', port: 0 });
    const aPort = Number(new URL(harness.gatewayUrl).port);
    const bBackend = { host: '127.0.0.1', port: bAddress.port };
    const balancer = await startTcpBalancer([{ host: '127.0.0.1', port: aPort }, bBackend]);
    cleanups.push(() => balancer.close());
    const token = encodePoolToken({ ...decodePoolToken(harness.token), host: `http://127.0.0.1:${balancer.port}` });
    return { a: harness.gateway, b, balancer, bBackend, token };
  };

  it('keeps two connections by default, each with parallelism streams and its own TCP connection, both on the gateway, and spreads requests over both', async function () {
    const tunnel = await startClient();
    // The 'connected to gateway' line comes once the gateway accepted every stream of that connection.
    const connectedLines = (): Array<Record<string, unknown>> => logger.entries.filter((entry) => entry.message === 'connected to gateway');
    await waitFor(() => connectedLines().length === 2 && allConnected(tunnel), 5_000, 'two connections ready');
    const onGateway = harness.gateway.connections(harness.pool);
    expect(onGateway.map((connection) => connection.streamsIdle)).to.deep.equal([2, 2]);
    expect(new Set(onGateway.map((connection) => connection.agentId))).to.deep.equal(new Set([tunnel.agentId]));
    // Two TCP connections: two client ports.
    expect(new Set(onGateway.map((connection) => connection.remoteAddress)).size).to.equal(2);
    expect(tunnel.connections.map((connection) => connection.slot)).to.deep.equal([0, 1]);
    expect(new Set(tunnel.connections.map((connection) => connection.connectionId))).to.deep.equal(new Set(onGateway.map((connection) => connection.id)));
    expect(tunnel.connectionId).to.equal(tunnel.connections[0]?.connectionId);
    expect(tunnel.streamCounts).to.deep.equal({ open: 4, busy: 0 });
    expect(tunnel.state).to.equal('connected');

    // Four requests held at the VCS at once occupy all four streams: two on each connection.
    holdUntil = 4;
    const responses = await Promise.all(Array.from({ length: 4 }, (_, i) => harness.request(`/allowed/spread/${i}`)));
    expect(responses.map((response) => response.status)).to.deep.equal([200, 200, 200, 200]);
    expect(harness.gateway.connections(harness.pool).map((connection) => connection.requestsServed)).to.deep.equal([2, 2]);
    // Each connection's log lines name it.
    expect(connectedLines().map((entry) => entry.slot).sort()).to.deep.equal([0, 1]);
  });

  it('loses one connection (its gateway replica crashes): the other keeps serving with no failed request, and the lost one redials on its own backoff', async function () {
    const { a, b, balancer, bBackend, token } = await twoReplicas();
    // random 0.5: a first redial after 0.5 x 400 ms, so the outage of one connection is observable.
    const tunnel = await startClient({ token, reconnect: { initialDelayMs: 400, maxDelayMs: 5_000, random: () => 0.5 } });
    await waitFor(() => allConnected(tunnel) && a.connections(harness.pool).length === 1 && b.connections(harness.pool).length === 1, 5_000, 'one connection on each replica');
    const onB = b.connections(harness.pool)[0]?.id;
    const lostSlot = tunnel.connections.find((connection) => connection.connectionId === onB)?.slot as number;
    const keptSlot = 1 - lostSlot;
    const keptId = tunnel.connections[keptSlot]?.connectionId;
    const metrics = new AgentMetrics(tunnel, { vendor: 'test' });
    cleanups.push(() => metrics.detach());
    const health = new HealthServer({ source: tunnel });
    const events = recordDisconnects(tunnel);

    let stop = false;
    cleanups.push(() => {
      stop = true;
    });
    let done = 0;
    const failures: string[] = [];
    const worker = async (n: number): Promise<void> => {
      // Bounded: a failing run must not spin for ever.
      for (let i = 0; !stop && failures.length < 100; i++) {
        try {
          const response = await fetchVia(a, harness.pool, `/allowed/${n}/${i}`);
          if (response.status !== 200) failures.push(`status ${response.status}`);
        } catch (error) {
          failures.push((error as Error).message);
        }
        done++;
      }
    };
    const load = Array.from({ length: 3 }, (_, n) => worker(n));
    await waitFor(() => done >= 30, 10_000, 'traffic before the outage');

    const lost = nextEvent<Disconnected>(tunnel, 'disconnected');
    // Replica B crashes: its connections drop without GOAWAY, and the balancer stops sending it dials.
    balancer.setBackends([{ host: '127.0.0.1', port: Number(new URL(harness.gatewayUrl).port) }]);
    balancer.cut(bBackend);
    const event = await lost;
    expect(event.slot).to.equal(lostSlot);
    expect(event.error?.code).to.equal('VCS_GATEWAY_UNREACHABLE');
    expect(event.retryInMs, 'the first delay of this connection\'s own backoff').to.equal(200);
    // One of two connections lost: still connected, ready, and the gauges say so.
    expect(tunnel.state).to.equal('connected');
    expect(tunnel.connections[keptSlot]).to.deep.include({ state: 'connected', connectionId: keptId });
    expect(tunnel.connections[lostSlot]?.state).to.equal('connecting');
    expect(health.ready()).to.equal(true);
    expect((await metrics.registry.getSingleMetric('vcs_agent_gateway_connections_connected')?.get())?.values[0]?.value).to.equal(1);
    expect(tunnel.connectionId).to.equal(keptId);

    // The lost connection comes back, through the balancer, on the surviving replica.
    await waitFor(() => a.connections(harness.pool).length === 2 && allConnected(tunnel), 5_000, 'the lost connection redialled');
    const before = done;
    await waitFor(() => done >= before + 30, 10_000, 'traffic after the redial');
    stop = true;
    await Promise.all(load);
    expect(failures).to.deep.equal([]);
    expect(events.map((e) => e.slot), 'only the lost connection disconnected').to.deep.equal([lostSlot]);
    expect(tunnel.connections[keptSlot]?.connectionId).to.equal(keptId);
    expect(logger.entries.filter((entry) => entry.message === 'gateway connection lost').map((entry) => entry.slot)).to.deep.equal([lostSlot]);
  });

  it('redials each connection with its own backoff sequence', async function () {
    // random 0.5: each delay is half its ceiling, 100 ms doubling; a shared sequence would interleave.
    const tunnel = await startClient({ reconnect: { initialDelayMs: 100, maxDelayMs: 100_000, random: () => 0.5 } });
    await waitFor(() => allConnected(tunnel), 5_000, 'both connections');
    const events = recordDisconnects(tunnel);
    harness.gateway.destroy();
    const failuresOf = (slot: number): number[] => events.filter((e) => e.slot === slot && e.error !== undefined).map((e) => e.retryInMs as number);
    await waitFor(() => failuresOf(0).length >= 3 && failuresOf(1).length >= 3, 10_000, 'three failed dials on each connection');
    expect(failuresOf(0).slice(0, 3)).to.deep.equal([50, 100, 200]);
    expect(failuresOf(1).slice(0, 3)).to.deep.equal([50, 100, 200]);
    expect(tunnel.state).to.equal('connecting');
  });

  it('hands over only the connection that got GOAWAY; its in-flight request finishes there', async function () {
    const { a, b, token } = await twoReplicas();
    const tunnel = await startClient({ token });
    await waitFor(() => allConnected(tunnel) && a.connections(harness.pool).length === 1 && b.connections(harness.pool).length === 1, 5_000, 'one connection on each replica');
    const onB = b.connections(harness.pool)[0]?.id;
    const goneSlot = tunnel.connections.find((connection) => connection.connectionId === onB)?.slot as number;
    const keptSlot = 1 - goneSlot;
    const keptId = tunnel.connections[keptSlot]?.connectionId;
    const events = recordDisconnects(tunnel);

    holdUntil = 1_000;
    const inFlight = fetchVia(b, harness.pool, '/allowed/slow');
    await waitFor(() => held.length === 1, 5_000, 'the request to reach the VCS');
    const goaway = nextEvent<Disconnected>(tunnel, 'disconnected');
    const bClosed = b.close({ timeoutMs: 5_000 });
    const event = await goaway;
    expect(event).to.deep.equal({ slot: goneSlot, retryInMs: event.retryInMs });
    expect(event.retryInMs).to.be.below(20);
    // The retired connection still counts its busy stream.
    expect(tunnel.streamCounts.busy).to.equal(1);
    await waitFor(() => a.connections(harness.pool).length === 2 && allConnected(tunnel), 5_000, 'the handed-over connection on the other replica');
    holdUntil = 0;
    expect((await fetchVia(a, harness.pool, '/allowed/meanwhile')).status).to.equal(200);
    releaseAll();
    expect(await inFlight).to.deep.equal({ status: 200, body: 'done' });
    await bClosed;
    expect(events.map((e) => e.slot)).to.deep.equal([goneSlot]);
    expect(tunnel.connections[keptSlot]?.connectionId).to.equal(keptId);
    expect(tunnel.connections[goneSlot]?.connectionId).to.not.equal(onB);
  });

  it('close() drains every connection: in-flight requests on both finish first', async function () {
    const tunnel = await startClient({ parallelism: 1 });
    await waitFor(() => allConnected(tunnel, 1), 5_000, 'both connections');
    holdUntil = 1_000;
    const inFlight = [harness.request('/allowed/one'), harness.request('/allowed/two')];
    await waitFor(() => held.length === 2, 5_000, 'both requests at the VCS');
    // One stream per connection: one request on each.
    expect(harness.gateway.connections(harness.pool).map((connection) => connection.streamsBusy)).to.deep.equal([1, 1]);
    let closed = false;
    const closing = tunnel.close({ timeoutMs: 10_000 }).then(() => {
      closed = true;
    });
    await waitFor(() => harness.gateway.connections(harness.pool).every((connection) => connection.draining), 5_000, 'both connections draining on the gateway');
    expect(closed, 'close() waits for both in-flight requests').to.equal(false);
    expect(tunnel.state).to.equal('draining');
    releaseAll();
    for (const response of await Promise.all(inFlight)) expect(response.body.toString()).to.equal('done');
    await closing;
    expect(tunnel.state).to.equal('closed');
    expect(tunnel.connections.map((connection) => connection.state)).to.deep.equal(['closed', 'closed']);
    await waitFor(() => harness.gateway.connections(harness.pool).length === 0, 5_000, 'both connections gone from the gateway');
  });

  it('destroy() closes every connection at once', async function () {
    const tunnel = await startClient({ parallelism: 1 });
    await waitFor(() => allConnected(tunnel, 1), 5_000, 'both connections');
    holdUntil = 1_000;
    const inFlight = [harness.request('/allowed/one'), harness.request('/allowed/two')].map((request) => request.then(() => 'answered', () => 'failed'));
    await waitFor(() => held.length === 2, 5_000, 'both requests at the VCS');
    tunnel.destroy();
    expect(tunnel.state).to.equal('closed');
    expect(tunnel.streamCounts).to.deep.equal({ open: 0, busy: 0 });
    expect(await Promise.all(inFlight)).to.deep.equal(['failed', 'failed']);
    await waitFor(() => harness.gateway.connections(harness.pool).length === 0, 5_000, 'both connections gone from the gateway');
  });

  it('rejects start() once with AuthenticationError for bad credentials, and no connection keeps retrying', async function () {
    const refusals: string[] = [];
    harness.gateway.on('agent-refused', ({ reason }) => refusals.push(reason));
    const badToken = encodePoolToken({ ...decodePoolToken(harness.token), key: 'not-the-pool-key-0123456789abcdef' });
    client = new TunnelClient({ token: badToken, target: harness.vcsUrl, policy: testPolicy, parallelism: 2, logger, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
    const events = recordDisconnects(client);
    const failure = await client.start().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).to.be.instanceOf(AuthenticationError);
    // Every connection stopped: no timer is left to redial, nothing was reported as a disconnect.
    expect(client.state).to.equal('closed');
    expect(client.connections.map((connection) => connection.state)).to.deep.equal(['closed', 'closed']);
    expect(events).to.deep.equal([]);
    expect(refusals.length).to.be.within(1, 2);
    expect(logger.entries.filter((entry) => entry.level === 'warn' || entry.message === 'connected to gateway')).to.deep.equal([]);
    await client.close();
  });

  it('with protocol: spacelift, keeps two grpc channels on two TCP connections, each with parallelism calls serving requests', async function () {
    const token = decodePoolToken(harness.token);
    const spacelift = await new FakeSpaceliftGateway({ poolUlid: token.pool_ulid, key: token.key }).start();
    cleanups.push(() => spacelift.close());
    client = new TunnelClient({
      protocol: 'spacelift',
      spacelift: { dialInsecure: true, acceptAfterMs: 50 },
      token: encodePoolToken({ ...token, host: `127.0.0.1:${spacelift.port}` }),
      target: harness.vcsUrl,
      policy: testPolicy,
      parallelism: 2,
      logger,
    });
    await client.start();
    const tunnel = client;
    await waitFor(() => allConnected(tunnel) && spacelift.live().length === 4, 5_000, 'two connections of two calls');
    const peers = new Map<string, number>();
    for (const call of spacelift.live()) peers.set(call.peer, (peers.get(call.peer) ?? 0) + 1);
    // grpc-js shares a subchannel between equal channels unless told not to: two peers prove two TCP connections.
    expect([...peers.values()]).to.deep.equal([2, 2]);
    expect(new Set(tunnel.connections.map((connection) => connection.connectionId)).size).to.equal(2);
    holdUntil = 4;
    const answers = await Promise.all(Array.from({ length: 4 }, (_, i) => spacelift.request({ path: `/allowed/grpc/${i}` })));
    expect(answers.map((answer) => answer.httpResponse?.status)).to.deep.equal([200, 200, 200, 200]);
  });
});
