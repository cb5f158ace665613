import { expect } from 'chai';
import type { ServerResponse } from 'node:http';
import { NoAgentError, PoolBusyError } from '../../lib/errors.js';
import { createPool } from '../../lib/pools/pool-service.js';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { waitFor } from '../helpers/wait-for.js';

describe('pool capacity: queueing, busy and no agent', () => {
  let harness: Harness;
  const held: ServerResponse[] = [];
  before(async () => {
    harness = await startHarness({
      policy: testPolicy,
      parallelism: 2,
      gateway: { queueTimeoutMs: 300, maxQueue: 1 },
      vcs(req, res) {
        if (req.url === '/allowed/hold') {
          held.push(res);
          return;
        }
        res.end('ok');
      },
    });
  });
  after(() => harness.close());

  it('queues while streams are busy, then serves the waiter when one frees up', async () => {
    const first = harness.request('/allowed/hold');
    const second = harness.request('/allowed/hold');
    await waitFor(() => held.length === 2, 5000, 'both streams to be busy');
    const queued = harness.request('/allowed/quick');
    // Free one stream: the queued request must take it.
    held.shift()?.end('released');
    expect((await queued).body.toString()).to.equal('ok');
    held.shift()?.end('released');
    expect((await first).status).to.equal(200);
    expect((await second).status).to.equal(200);
  });

  it('fails with VCS_POOL_BUSY (and a Retry-After hint) after the queue timeout', async () => {
    const blockers = [harness.request('/allowed/hold'), harness.request('/allowed/hold')];
    await waitFor(() => held.length === 2, 5000, 'both streams to be busy');
    const error = await harness.request('/allowed/quick').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(PoolBusyError);
    expect((error as PoolBusyError).retryAfterSeconds).to.be.greaterThan(0);
    expect((error as Error).message).to.match(/stayed busy for 300 ms/);
    for (const res of held.splice(0)) res.end('released');
    await Promise.all(blockers);
  });

  it('fails at once with VCS_POOL_BUSY when the queue is full', async () => {
    const blockers = [harness.request('/allowed/hold'), harness.request('/allowed/hold')];
    await waitFor(() => held.length === 2, 5000, 'both streams to be busy');
    const waiting = harness.request('/allowed/quick'); // takes the only queue slot
    const error = await harness.request('/allowed/quick').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as PoolBusyError).code).to.equal('VCS_POOL_BUSY');
    expect((error as Error).message).to.match(/already waiting/);
    for (const res of held.splice(0)) res.end('released');
    await Promise.all([...blockers, waiting]);
  });

  it('says so clearly when the pool has no agent connected', async () => {
    await createPool(harness.store, { name: 'empty-pool', gatewayUrl: harness.gatewayUrl });
    const error = await harness.gateway.request('private://empty-pool/allowed/x').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(NoAgentError);
    expect((error as Error).message).to.equal('No agent is connected to pool "empty-pool"');
  });
});
