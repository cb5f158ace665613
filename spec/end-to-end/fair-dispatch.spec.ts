import { expect } from 'chai';
import type { ServerResponse } from 'node:http';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { waitFor } from '../helpers/wait-for.js';

// Requests go to the least-busy connection with an idle stream, so a burst spreads over
// every agent of the pool instead of filling the first one's streams.
describe('dispatch spreads requests across agents', function () {
  this.timeout(20_000);
  let harness: Harness;
  const held: ServerResponse[] = [];
  before(async () => {
    harness = await startHarness({
      policy: testPolicy,
      parallelism: 4,
      vcs(_req, res) {
        held.push(res);
      },
    });
    await harness.addAgent();
  });
  after(() => harness.close());

  it('a burst of 4 requests over two agents with 4 streams each keeps 2 busy on each', async () => {
    const requests = Array.from({ length: 4 }, (_, i) => harness.request(`/allowed/${i}`));
    await waitFor(() => held.length === 4, 5000, 'all four requests to reach the VCS');
    const busy = harness.gateway.connections(harness.pool).map((connection) => connection.streamsBusy);
    expect(busy.sort()).to.deep.equal([2, 2]);
    for (const res of held.splice(0)) res.end('ok');
    const responses = await Promise.all(requests);
    expect(responses.every((response) => response.status === 200)).to.equal(true);
    const served = harness.gateway.connections(harness.pool).map((connection) => connection.requestsServed);
    expect(served.sort()).to.deep.equal([2, 2]);
  });
});
