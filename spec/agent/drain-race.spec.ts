import { expect } from 'chai';
import { startHarness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { waitFor } from '../helpers/wait-for.js';

/*
 * close() under full load: the gateway may be dispatching to an idle stream of the agent at
 * the very moment the agent says "drain". Such a request must still be served (or never
 * have been sent), never lost.
 */
describe('TunnelClient.close() under load: no request is lost while one of two agents drains', function () {
  this.timeout(60_000);

  // close() counts in-flight requests only after the gateway's drain-ack: a request the
  // gateway dispatched just before it read "drain" is still served, not cancelled.
  it('serves every request while agents drain one after the other under a burst of fast requests', async function () {
    const harness = await startHarness({ policy: testPolicy, parallelism: 4 });
    try {
      let stop = false;
      const failures: string[] = [];
      let done = 0;
      const worker = async (n: number): Promise<void> => {
        for (let i = 0; !stop; i++) {
          try {
            const response = await harness.request(`/allowed/${n}/${i}`);
            if (response.status !== 200) failures.push(`status ${response.status}`);
          } catch (error) {
            failures.push((error as Error).message);
          }
          done++;
        }
      };
      let current = harness.client;
      await harness.addAgent();
      const load = Array.from({ length: 12 }, (_, n) => worker(n));
      for (let round = 0; round < 5; round++) {
        const next = await harness.addAgent();
        const before = done;
        await waitFor(() => done >= before + 100, 10_000, 'traffic');
        await current.close({ timeoutMs: 5_000 });
        current = next;
      }
      stop = true;
      await Promise.all(load);
      console.log(`      ${done} requests while 5 agents drained under load; ${failures.length} failed${failures.length > 0 ? `: ${[...new Set(failures)].join('; ')}` : ''}`);
      expect(failures).to.deep.equal([]);
    } finally {
      await harness.close();
    }
  });
});
