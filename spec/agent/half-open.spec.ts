import { expect } from 'chai';
import * as net from 'node:net';
import { TunnelClient } from '../../lib/agent/tunnel-client.js';
import { createPool } from '../../lib/pools/pool-service.js';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { nextEvent, waitFor } from '../helpers/wait-for.js';

/**
 * A TCP relay on 127.0.0.1:0 in front of the gateway. `freeze()` stops forwarding in both
 * directions on every open connection without closing anything: what a dropped NAT entry
 * or a dead route looks like to both ends (a half-open connection). New connections are
 * forwarded unless `blackHole` is set, in which case they are accepted and ignored.
 */
class FreezableRelay {
  readonly server: net.Server;
  private readonly pairs: Array<{ client: net.Socket; upstream: net.Socket; frozen: boolean }> = [];
  blackHole = false;
  accepted = 0;

  constructor(private readonly targetPort: number) {
    this.server = net.createServer((client) => {
      this.accepted++;
      client.on('error', () => {});
      if (this.blackHole) {
        // Accept and never answer; keep the socket so nothing closes it.
        this.pairs.push({ client, upstream: new net.Socket(), frozen: true });
        return;
      }
      const upstream = net.connect(this.targetPort, '127.0.0.1');
      upstream.on('error', () => client.destroy());
      const pair = { client, upstream, frozen: false };
      this.pairs.push(pair);
      client.on('data', (chunk: Buffer) => {
        if (!pair.frozen) upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        if (!pair.frozen) client.write(chunk);
      });
      client.on('close', () => {
        if (!pair.frozen) upstream.destroy();
      });
      upstream.on('close', () => {
        if (!pair.frozen) client.destroy();
      });
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Silently drops everything on the connections open now; nothing is closed. */
  freeze(): void {
    for (const pair of this.pairs) pair.frozen = true;
  }

  close(): void {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.server.close();
  }
}

describe('TunnelClient: half-open connection detection (frozen TCP relay)', function () {
  this.timeout(30_000);
  let harness: Harness;
  let relay: FreezableRelay;
  let client: TunnelClient | undefined;
  let token: string;
  const pool = 'relay-pool';

  beforeEach(async function () {
    harness = await startHarness({ policy: testPolicy, parallelism: 1 });
    harness.client.destroy();
    relay = new FreezableRelay(Number(new URL(harness.gatewayUrl).port));
    const relayPort = await relay.listen();
    ({ token } = await createPool(harness.store, { name: pool, description: 'through the relay', gatewayUrl: `http://127.0.0.1:${relayPort}` }));
  });
  afterEach(async function () {
    client?.destroy();
    relay.close();
    await harness.close();
  });

  it('reports the connection lost within intervalMs + timeoutMs, then reconnects through the relay', async function () {
    const intervalMs = 300;
    const timeoutMs = 400;
    client = new TunnelClient({
      token,
      target: harness.vcsUrl,
      policy: testPolicy,
      parallelism: 2,
      keepalive: { intervalMs, timeoutMs },
      reconnect: { initialDelayMs: 50, maxDelayMs: 100 },
    });
    await client.start();
    const first = client.connectionId;

    const frozenAt = Date.now();
    relay.freeze();
    const lost = await nextEvent<{ error?: { code: string; message: string } }>(client, 'disconnected', 5_000);
    const detectedMs = Date.now() - frozenAt;
    const back = await nextEvent(client, 'connected', 5_000);
    const reconnectedMs = Date.now() - frozenAt;
    console.log(`      half-open detected ${detectedMs} ms after the freeze (bound ${intervalMs + timeoutMs} ms + timer slack); reconnected after ${reconnectedMs} ms`);
    expect(lost.error?.code).to.equal('VCS_GATEWAY_UNREACHABLE');
    expect(lost.error?.message).to.match(/keepalive/);
    // One interval until the next ping, then the timeout; slack for timers on a busy machine
    // (CI shares two cores with the whole suite). Without detection this would be never.
    expect(detectedMs).to.be.below(intervalMs + timeoutMs + 1000);
    expect(back).to.have.property('connectionId').that.is.a('string').and.not.equal(first);
    // The gateway registered the new connection. (It may still list the frozen one until
    // its own liveness check drops it; requests routed there would hang: see the report.)
    const connectionId = (back as { connectionId: string }).connectionId;
    expect(harness.gateway.connections(pool).map((c) => c.id)).to.include(connectionId);
    // Both gateway connections (the default 2) went half-open and both come back.
    const tunnel = client;
    await waitFor(() => tunnel.connections.every((c) => c.state === 'connected'), 5_000, 'both connections back');
    expect(client.streamCounts.open).to.equal(4);
  });

  // connectTimeoutMs bounds the dial and the wait for the connect stream's answer, so a
  // black hole (TCP accepted, HTTP/2 never answered) is abandoned and redialled.
  it('abandons a dial whose HTTP/2 handshake is never answered (black hole), and redials', async function () {
    relay.blackHole = true;
    client = new TunnelClient({
      token,
      target: harness.vcsUrl,
      policy: testPolicy,
      parallelism: 1,
      connectTimeoutMs: 500,
      keepalive: { intervalMs: 300, timeoutMs: 300 },
      reconnect: { initialDelayMs: 50, maxDelayMs: 100 },
    });
    const started = client.start();
    started.catch(() => {});
    const lost = await nextEvent<{ error?: { code: string } }>(client, 'disconnected', 3_000);
    expect(lost.error?.code).to.equal('VCS_GATEWAY_UNREACHABLE');
    relay.blackHole = false;
    await nextEvent(client, 'connected', 5_000);
    expect(relay.accepted).to.be.at.least(2);
  });
});
