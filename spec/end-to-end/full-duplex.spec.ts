import { expect } from 'chai';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { digestStream, generatedBody, generatedDigest } from '../helpers/bodies.js';

const MiB = 1024 * 1024;

// Node stops reading a socket while a write is pending; with windows too large for the
// socket buffers, bulk traffic in both directions at once deadlocks. This proves the
// chosen windows (docs/protocol.md § Settings) do not.
describe('full-duplex echo on every stream at once', function () {
  this.timeout(120_000);
  let harness: Harness;
  before(async () => {
    harness = await startHarness({
      policy: testPolicy,
      parallelism: 4,
      vcs(req, res) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        req.pipe(res); // echo while still receiving
      },
    });
  });
  after(() => harness.close());

  it('4 streams each echoing 64 MiB concurrently complete with equal checksums', async () => {
    const size = 64 * MiB;
    const expected = generatedDigest(size);
    const results = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const response = await harness.stream(`/allowed/echo/${i}`, { method: 'POST', body: generatedBody(size), headers: { 'content-length': String(size) } });
        expect(response.status).to.equal(200);
        return digestStream(response.body);
      }),
    );
    for (const result of results) {
      expect(result.bytes).to.equal(size);
      expect(result.digest).to.equal(expected);
    }
    expect(harness.client.streamCounts.open).to.equal(4);
  });
});
