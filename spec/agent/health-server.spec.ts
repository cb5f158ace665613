import { expect } from 'chai';
import type { AddressInfo } from 'node:net';
import { AgentMetrics } from '../../lib/agent/agent-metrics.js';
import { HealthServer } from '../../lib/agent/health-server.js';
import { TunnelClient } from '../../lib/agent/tunnel-client.js';
import { Gateway } from '../../lib/gateway/gateway.js';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { nextEvent, waitFor } from '../helpers/wait-for.js';

async function get(address: AddressInfo, path: string, method = 'GET'): Promise<{ status: number; body: string; type: string | null }> {
  const response = await fetch(`http://127.0.0.1:${address.port}${path}`, { method, signal: AbortSignal.timeout(5_000) });
  return { status: response.status, body: await response.text(), type: response.headers.get('content-type') };
}

/** The value of one sample in Prometheus text format, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (match[2] ?? '').split(',').filter(Boolean)) {
      const eq = pair.indexOf('=');
      found[pair.slice(0, eq)] = JSON.parse(pair.slice(eq + 1)) as string;
    }
    if (Object.entries(labels).every(([key, value]) => found[key] === value) && Object.keys(found).length === Object.keys(labels).length) return Number(match[3]);
  }
  return undefined;
}

describe('HealthServer and AgentMetrics (real gateway and agent)', function () {
  this.timeout(30_000);
  let harness: Harness;
  let client: TunnelClient;
  let health: HealthServer;
  let metrics: AgentMetrics;
  let address: AddressInfo;
  const extraGateways: Gateway[] = [];

  beforeEach(async function () {
    harness = await startHarness({ policy: testPolicy, parallelism: 2 });
    // Only our client serves the pool: the harness's own agent leaves.
    harness.client.destroy();
    client = new TunnelClient({
      token: harness.token,
      target: harness.vcsUrl,
      policy: testPolicy,
      parallelism: 3,
      reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
    });
    metrics = new AgentMetrics(client, { vendor: 'test' });
    health = new HealthServer({ source: client, registry: metrics.registry });
    address = await health.listen({ host: '127.0.0.1', port: 0 });
  });
  afterEach(async function () {
    client.destroy();
    metrics.detach();
    await health.close();
    for (const gateway of extraGateways.splice(0)) gateway.destroy();
    await harness.close();
  });

  it('/readyz flips 503 → 200 → 503 → 200 as the agent connects, the gateway goes away and comes back; /healthz stays 200', async function () {
    expect((await get(address, '/readyz')).status, 'before start').to.equal(503);
    expect((await get(address, '/healthz')).status).to.equal(200);

    await client.start();
    // start() resolves with the first of the two connections; ready already.
    expect((await get(address, '/readyz')).status).to.equal(200);
    await waitFor(() => client.connections.every((c) => c.state === 'connected' && c.streams.open === 3), 5_000, 'both connections');
    const ready = await get(address, '/readyz');
    expect(ready.status).to.equal(200);
    expect(ready.body).to.equal('ready: state=connected streams=6 busy=0 connections=2/2\n');

    const port = new URL(harness.gatewayUrl).port;
    harness.gateway.destroy();
    await waitFor(() => client.state === 'connecting', 5_000, 'both connections lost');
    const during = await get(address, '/readyz');
    expect(during.status).to.equal(503);
    expect(during.body).to.match(/^not ready: state=connecting streams=0 busy=0 connections=0\/2/);
    // Liveness must not restart agents during a gateway outage.
    expect((await get(address, '/healthz')).status).to.equal(200);

    const again = new Gateway({ store: harness.store });
    extraGateways.push(again);
    const back = nextEvent(client, 'connected', 10_000);
    await again.listen({ host: '127.0.0.1', port: Number(port) });
    await back;
    expect((await get(address, '/readyz')).status).to.equal(200);

    const closing = client.close({ timeoutMs: 1_000 });
    expect((await get(address, '/readyz')).status, 'while draining').to.equal(503);
    await closing;
    expect((await get(address, '/readyz')).status, 'closed').to.equal(503);
    expect((await get(address, '/healthz')).status).to.equal(200);
  });

  it('/metrics counts requests by vendor, decision and status, bytes and durations, streams, connections and reconnects', async function () {
    await client.start();
    await waitFor(() => client.streamCounts.open === 6, 5_000, 'both connections\' streams');
    for (let i = 0; i < 3; i++) expect((await harness.request(`/allowed/${i}`)).status).to.equal(200);
    expect((await harness.request('/allowed/upload', { method: 'POST', body: 'x'.repeat(1000) })).status).to.equal(200);
    for (let i = 0; i < 2; i++) expect((await harness.request('/secret/admin')).status).to.equal(403);

    const scrape = await get(address, '/metrics');
    expect(scrape.status).to.equal(200);
    expect(scrape.type).to.match(/^text\/plain; version=0\.0\.4/);
    const text = scrape.body;
    expect(sample(text, 'vcs_agent_requests_total', { vendor: 'test', decision: 'allow', status: '200' })).to.equal(4);
    expect(sample(text, 'vcs_agent_requests_total', { vendor: 'test', decision: 'deny', status: '403' })).to.equal(2);
    expect(sample(text, 'vcs_agent_request_duration_seconds_count', { vendor: 'test', decision: 'allow' })).to.equal(4);
    expect(sample(text, 'vcs_agent_request_duration_seconds_count', { vendor: 'test', decision: 'deny' })).to.equal(2);
    expect(sample(text, 'vcs_agent_request_bytes_total', { direction: 'in' })).to.be.at.least(1000);
    expect(sample(text, 'vcs_agent_request_bytes_total', { direction: 'out' })).to.be.greaterThan(0);
    expect(sample(text, 'vcs_agent_requests_in_flight')).to.equal(0);
    expect(sample(text, 'vcs_agent_streams_open')).to.equal(6);
    expect(sample(text, 'vcs_agent_connected')).to.equal(1);
    expect(sample(text, 'vcs_agent_gateway_connections')).to.equal(2);
    expect(sample(text, 'vcs_agent_gateway_connections_connected')).to.equal(2);
    expect(sample(text, 'vcs_agent_connection_state', { state: 'connected' })).to.equal(1);
    expect(sample(text, 'vcs_agent_connection_state', { state: 'connecting' })).to.equal(0);
    expect(sample(text, 'vcs_agent_reconnects_total')).to.equal(0);

    const port = new URL(harness.gatewayUrl).port;
    let reconnected = 0;
    client.on('connected', () => reconnected++);
    harness.gateway.destroy();
    await waitFor(() => client.state === 'connecting', 5_000, 'both connections lost');
    const down = (await get(address, '/metrics')).body;
    expect(sample(down, 'vcs_agent_connected')).to.equal(0);
    expect(sample(down, 'vcs_agent_gateway_connections_connected')).to.equal(0);
    expect(sample(down, 'vcs_agent_disconnects_total', { reason: 'network' })).to.be.at.least(1);
    const again = new Gateway({ store: harness.store });
    extraGateways.push(again);
    await again.listen({ host: '127.0.0.1', port: Number(port) });
    // 'connected' comes once the gateway accepted every stream of a connection.
    await waitFor(() => reconnected === 2, 10_000, 'both connections back with their streams');
    const after = (await get(address, '/metrics')).body;
    // One reconnect per connection: each connection's first connect is not one.
    expect(sample(after, 'vcs_agent_reconnects_total')).to.equal(2);
    expect(sample(after, 'vcs_agent_connected')).to.equal(1);
    expect(sample(after, 'vcs_agent_gateway_connections_connected')).to.equal(2);
  });

  it('counts requests in flight while they run', async function () {
    await harness.close();
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    harness = await startHarness({
      policy: testPolicy,
      vcs: (req, res) => {
        req.resume();
        void held.then(() => res.end('done'));
      },
    });
    harness.client.destroy();
    client.destroy();
    metrics.detach();
    await health.close();
    client = new TunnelClient({ token: harness.token, target: harness.vcsUrl, policy: testPolicy, parallelism: 3 });
    metrics = new AgentMetrics(client, { vendor: 'test' });
    health = new HealthServer({ source: client, registry: metrics.registry });
    address = await health.listen({ host: '127.0.0.1', port: 0 });
    await client.start();
    const pending = [harness.request('/allowed/a'), harness.request('/allowed/b')];
    await waitFor(() => client.streamCounts.busy === 2, 5_000, 'two busy streams');
    expect(sample((await get(address, '/metrics')).body, 'vcs_agent_requests_in_flight')).to.equal(2);
    release();
    await Promise.all(pending);
    await waitFor(() => client.streamCounts.busy === 0, 5_000, 'idle streams');
    expect(sample((await get(address, '/metrics')).body, 'vcs_agent_requests_in_flight')).to.equal(0);
  });

  it('answers 404 for other paths, 405 for other methods, and HEAD without a body', async function () {
    expect((await get(address, '/')).status).to.equal(404);
    expect((await get(address, '/healthz', 'POST')).status).to.equal(405);
    const head = await get(address, '/healthz', 'HEAD');
    expect(head.status).to.equal(200);
    expect(head.body).to.equal('');
    const bare = new HealthServer({ source: client });
    const bareAddress = await bare.listen({ host: '127.0.0.1', port: 0 });
    try {
      expect((await get(bareAddress, '/metrics')).status).to.equal(404);
    } finally {
      await bare.close();
    }
  });
});
