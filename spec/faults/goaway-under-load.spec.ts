import { expect } from 'chai';
import { Gateway } from '../../lib/gateway/gateway.js';
import { MemoryPoolStore } from '../../lib/pools/memory-pool-store.js';
import { assertNoLeak, leakBaseline } from './helpers/leak-check.js';
import { startFaultStack } from './helpers/fault-stack.js';
import { startLoad } from './helpers/load.js';
import { expectOutcomes } from './helpers/outcome.js';
import { nextEvent, waitFor } from '../helpers/wait-for.js';

describe('fault: the gateway sends GOAWAY while 8 callers keep requesting', function () {
  this.timeout(60_000);

  it('in-flight requests complete, the rest fail VCS_CLOSED, and the agent carries on with the next gateway on that port', async () => {
    const baseline = await leakBaseline();
    const stack = await startFaultStack({ parallelism: 4 });
    let second: Gateway | undefined;
    try {
      const { harness } = stack;
      const load = startLoad(stack, 8);
      await waitFor(() => load.completed >= 100, 20_000, '100 requests before the GOAWAY');
      const port = Number(new URL(harness.gatewayUrl).port);
      const disconnected = nextEvent(harness.client, 'disconnected', 10_000);
      await harness.gateway.close({ timeoutMs: 10_000 });
      await disconnected;
      await waitFor(() => (load.errors().VCS_CLOSED ?? 0) > 0, 10_000, 'a request refused by the closed gateway');
      const store = new MemoryPoolStore();
      for (const pool of await harness.store.list()) await store.create(pool);
      second = new Gateway({ store });
      const reconnected = nextEvent(harness.client, 'connected', 15_000);
      await second.listen({ host: '127.0.0.1', port });
      await reconnected;
      await load.stop();
      expectOutcomes(load.outcomes, load.verdicts, ['VCS_CLOSED']);
      // The first gateway answered some requests to the end while it was closing.
      expect(load.completed).to.be.at.least(100);

      const response = await second.request(`private://${harness.pool}/allowed/dl/5000/after-goaway`);
      expect(response.status).to.equal(200);
      response.body.resume();
      await new Promise((resolve) => response.body.once('end', resolve));
    } finally {
      second?.destroy();
      await stack.close();
    }
    await assertNoLeak(baseline);
  });
});
