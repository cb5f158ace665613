import { expect } from 'chai';
import { rotatePoolKey } from '../../lib/pools/pool-service.js';
import { assertNoLeak, leakBaseline } from './helpers/leak-check.js';
import { startFaultStack } from './helpers/fault-stack.js';
import { startLoad } from './helpers/load.js';
import { expectOutcomes } from './helpers/outcome.js';
import { waitFor } from '../helpers/wait-for.js';

describe('fault: the pool key is rotated (no grace) while 8 callers keep requesting', function () {
  this.timeout(60_000);

  it('the old-key connection drains (its requests complete), the new-key agent takes over, nothing is lost', async () => {
    const baseline = await leakBaseline();
    const stack = await startFaultStack({ parallelism: 4 });
    try {
      const { harness } = stack;
      const load = startLoad(stack, 8);
      await waitFor(() => load.completed >= 100, 20_000, '100 requests before the rotation');
      const rotated = await rotatePoolKey(harness.store, harness.pool, { graceMs: 0, gatewayUrl: harness.gatewayUrl });
      const fresh = await harness.addAgent({ token: rotated.token, agentId: 'new-key' });
      expect(fresh.state).to.equal('connected');
      harness.gateway.schedulePreviousKeyExpiry(rotated.pool);
      await waitFor(() => harness.gateway.connections(harness.pool).every((c) => c.agentId === 'new-key'), 10_000, 'the old-key connection to be closed');
      const atSwitch = load.completed;
      await waitFor(() => load.completed >= atSwitch + 100, 20_000, '100 requests on the new key');
      await load.stop();
      // The old agent keeps being refused (bad_key) and never comes back.
      expect(harness.gateway.connections(harness.pool).map((c) => c.agentId)).to.deep.equal(['new-key']);
      expectOutcomes(load.outcomes, load.verdicts, []);
      expect(harness.gatewayLogger.entries.some((e) => e.message === 'agent evicted' && e.reason === 'key_expired')).to.equal(true);
    } finally {
      await stack.close();
    }
    await assertNoLeak(baseline);
  });
});
