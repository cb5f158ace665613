import { expect } from 'chai';
import type { ServerResponse } from 'node:http';
import { TunnelClient } from '../../lib/agent/tunnel-client.js';
import { Gateway } from '../../lib/gateway/gateway.js';
import { MemoryPoolStore } from '../../lib/pools/memory-pool-store.js';
import type { PoolRecord } from '../../lib/pools/pool-store.js';
import { createPool } from '../../lib/pools/pool-service.js';
import { startHarness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { nextEvent, waitFor } from '../helpers/wait-for.js';

/** A store whose look-ups take a while, so a GOAWAY can overtake authentication. */
class SlowStore extends MemoryPoolStore {
  private started: () => void = () => {};
  /** Resolves when a look-up begins. */
  readonly lookupStarted = new Promise<void>((resolve) => {
    this.started = resolve;
  });
  override async get(idOrName: string): Promise<PoolRecord | undefined> {
    this.started();
    await new Promise((resolve) => setTimeout(resolve, 300)); // the slowness under test
    return super.get(idOrName);
  }
}

describe('TunnelClient and gateway GOAWAY', function () {
  this.timeout(20_000);

  it('redials when the GOAWAY arrives before authentication finished', async () => {
    const store = new SlowStore();
    const first = new Gateway({ store });
    const { port } = await first.listen({ host: '127.0.0.1', port: 0 });
    const { token } = await createPool(store, { name: 'slow', gatewayUrl: `http://127.0.0.1:${port}` });
    const client = new TunnelClient({ token, target: 'http://127.0.0.1:9', policy: testPolicy, parallelism: 1, gatewayConnections: 1, reconnect: { initialDelayMs: 50, maxDelayMs: 100 } });
    const started = client.start();
    await store.lookupStarted; // authentication is now under way
    await first.close({ timeoutMs: 1000 });
    const secondStore = new MemoryPoolStore();
    for (const pool of await store.list()) await secondStore.create(pool);
    const second = new Gateway({ store: secondStore });
    await second.listen({ host: '127.0.0.1', port });
    try {
      await started;
      expect(client.state).to.equal('connected');
      expect(second.connections('slow')).to.have.length(1);
    } finally {
      client.destroy();
      second.destroy();
    }
  });

  it('close() waits for a request still running on a session the gateway retired', async () => {
    const held: ServerResponse[] = [];
    const harness = await startHarness({ policy: testPolicy, parallelism: 2, vcs: (_req, res) => void held.push(res) });
    try {
      const inFlight = harness.request('/allowed/slow');
      await waitFor(() => held.length === 1, 5000, 'the request to reach the VCS');
      const goaway = nextEvent(harness.client, 'disconnected');
      const gatewayClosed = harness.gateway.close({ timeoutMs: 5000 });
      await goaway;
      expect(harness.client.streamCounts.busy).to.equal(1);
      let closed = false;
      const closing = harness.client.close({ timeoutMs: 5000 }).then(() => {
        closed = true;
      });
      await new Promise((resolve) => setImmediate(resolve));
      expect(closed, 'close() must wait for the in-flight request').to.equal(false);
      held[0]?.end('done');
      expect((await inFlight).body.toString()).to.equal('done');
      await closing;
      await gatewayClosed;
    } finally {
      await harness.close();
    }
  });
});
