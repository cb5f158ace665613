import { expect } from 'chai';
import { assertNoLeak, leakBaseline } from './helpers/leak-check.js';
import { startFaultStack } from './helpers/fault-stack.js';
import { startLoad } from './helpers/load.js';
import { expectOutcomes } from './helpers/outcome.js';
import { waitFor } from '../helpers/wait-for.js';

describe('fault: the pool is deleted while 8 callers keep requesting', function () {
  this.timeout(60_000);

  it('requests in flight complete, later ones fail VCS_POOL_NOT_FOUND, and the agent is refused from then on', async () => {
    const baseline = await leakBaseline();
    const stack = await startFaultStack({ parallelism: 4 });
    try {
      const { harness } = stack;
      const load = startLoad(stack, 8);
      await waitFor(() => load.completed >= 100, 20_000, '100 requests before the deletion');
      await harness.store.delete(harness.pool);
      expect(harness.gateway.disconnectPool(harness.pool)).to.equal(1);
      await waitFor(() => (load.errors().VCS_POOL_NOT_FOUND ?? 0) >= 20, 10_000, 'requests refused for the deleted pool');
      await load.stop();
      expectOutcomes(load.outcomes, load.verdicts, ['VCS_POOL_NOT_FOUND']);
      await waitFor(() => harness.gateway.connections().length === 0, 10_000, 'the evicted connection to close');
      await waitFor(() => harness.gatewayLogger.entries.some((e) => e.message === 'agent refused' && e.reason === 'unknown_pool'), 10_000, 'the agent to be refused on redial');
    } finally {
      await stack.close();
    }
    await assertNoLeak(baseline);
  });
});
