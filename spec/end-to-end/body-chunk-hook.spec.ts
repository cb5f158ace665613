import { expect } from 'chai';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { digestStream, generatedBody } from '../helpers/bodies.js';

const MiB = 1024 * 1024;

describe('onBodyChunk: both roles report every relayed body byte (the CLIs pace minor GCs with it)', function () {
  this.timeout(30_000);
  let harness: Harness;
  const seen = { gateway: 0, agent: 0, gatewayCalls: 0, agentCalls: 0 };

  before(async () => {
    harness = await startHarness({
      policy: testPolicy,
      gateway: {
        onBodyChunk: (bytes) => {
          seen.gateway += bytes;
          seen.gatewayCalls++;
        },
      },
      client: {
        onBodyChunk: (bytes) => {
          seen.agent += bytes;
          seen.agentCalls++;
        },
      },
      vcs(req, res) {
        if (req.method === 'GET') {
          const size = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('size'));
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
          generatedBody(size).pipe(res);
          return;
        }
        req.resume();
        req.on('end', () => res.writeHead(201, { 'content-length': 0 }).end());
      },
    });
  });
  after(() => harness.close());

  it('counts a 3 MiB download and a 2 MiB upload once in each process, chunk by chunk', async () => {
    const download = await harness.stream(`/allowed/blob?size=${3 * MiB}`);
    expect((await digestStream(download.body)).bytes).to.equal(3 * MiB);
    const upload = await harness.request('/allowed/upload', { method: 'POST', headers: { 'content-length': String(2 * MiB) }, body: generatedBody(2 * MiB) });
    expect(upload.status).to.equal(201);
    expect(seen.gateway).to.equal(5 * MiB);
    expect(seen.agent).to.equal(5 * MiB);
    // Per chunk, not per request: a pacer needs to hear about a long body while it flows.
    expect(seen.gatewayCalls).to.be.above(10);
    expect(seen.agentCalls).to.be.above(10);
  });

  it('refuses a hook that is not a function, naming the option', async () => {
    const { Gateway } = await import('../../lib/gateway/gateway.js');
    const { MemoryPoolStore } = await import('../../lib/pools/memory-pool-store.js');
    expect(() => new Gateway({ store: new MemoryPoolStore(), onBodyChunk: 42 as unknown as () => void })).to.throw(/onBodyChunk must be a function/);
    const { TunnelClient } = await import('../../lib/agent/tunnel-client.js');
    expect(() => new TunnelClient({ token: harness.token, target: harness.vcsUrl, policy: testPolicy, onBodyChunk: 'x' as unknown as () => void })).to.throw(/onBodyChunk must be a function/);
  });
});
