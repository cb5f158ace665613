import { expect } from 'chai';
import { startHarness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { digestStream } from '../helpers/bodies.js';

// upstreamTimeoutMs bounds how long the VCS may stay silent; a caller that reads slowly
// (so the agent holds the VCS response back) is not the VCS being silent.
describe('upstream timeout and a slow caller', function () {
  this.timeout(20_000);
  it('a 16 MiB download survives a caller pausing longer than upstreamTimeoutMs', async () => {
    const size = 16 * 1024 * 1024;
    const harness = await startHarness({
      policy: testPolicy,
      client: { upstreamTimeoutMs: 500 },
      vcs(_req, res) {
        res.writeHead(200, { 'content-length': size });
        res.end(Buffer.alloc(size, 'y'));
      },
    });
    try {
      const response = await harness.stream('/allowed/download');
      const first = await new Promise<Buffer>((resolve) => response.body.once('data', resolve));
      response.body.pause();
      await new Promise((resolve) => setTimeout(resolve, 1200)); // the pause under test, not a wait for an event
      response.body.resume();
      const rest = await digestStream(response.body);
      expect(first.length + rest.bytes).to.equal(size);
    } finally {
      await harness.close();
    }
  });
});
