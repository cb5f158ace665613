import { expect } from 'chai';
import { decodePoolToken } from '../../lib/protocol/token.js';
import { FakeSpaceliftAgent } from '../helpers/spacelift-agent.js';
import { testPolicy } from '../helpers/test-policy.js';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { waitFor } from '../helpers/wait-for.js';

describe('end to end: one pool served by our agent and a Spacelift agent at once', function () {
  this.timeout(20_000);
  let harness: Harness;
  let spacelift: FakeSpaceliftAgent;

  before(async () => {
    harness = await startHarness({ policy: testPolicy, parallelism: 1 });
    const bound = await harness.gateway.listenSpacelift({ host: '127.0.0.1', port: 0 });
    const token = decodePoolToken(harness.token);
    spacelift = new FakeSpaceliftAgent({ address: `127.0.0.1:${bound.port}`, poolId: token.pool_ulid, key: token.key, target: harness.vcsUrl }).start();
    await waitFor(() => harness.gateway.connections().length === 2 && harness.gateway.connections().every((c) => c.streamsIdle === 1), 5000, 'both agents');
  });

  after(async () => {
    spacelift?.stop();
    await harness?.close();
  });

  it('lists both connections with their protocol and spreads requests over them, each logged with its connection', async () => {
    const protocols = harness.gateway.connections().map((c) => c.protocol).sort();
    expect(protocols).to.deep.equal(['spacelift', 'vcs-agent']);
    const records: Array<{ connectionId?: string; status: number }> = [];
    harness.gateway.on('access', (record) => records.push(record));
    for (let i = 0; i < 6; i++) {
      const response = await harness.request(`/allowed/item-${i}`, { method: 'POST', body: `body ${i}` });
      expect(response.status).to.equal(200);
      expect(JSON.parse(response.body.toString()) as { url: string; bodyBytes: number }).to.include({ url: `/allowed/item-${i}`, bodyBytes: `body ${i}`.length });
    }
    await waitFor(() => records.length === 6, 2000, 'six access records');
    const served = harness.gateway.connections().map((c) => c.requestsServed);
    expect(served.every((count) => count > 0)).to.equal(true);
    const ids = new Set(harness.gateway.connections().map((c) => c.id));
    expect(records.every((record) => record.connectionId !== undefined && ids.has(record.connectionId))).to.equal(true);
  });
});
