import { expect } from 'chai';
import { connect } from 'node:net';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';

// An HTTP/1.0 response without Content-Length ends where the connection ends, so when the
// VCS fails mid-body the front door must reset the connection: a clean close would hand the
// client a shorter body that looks complete.
describe('front door: HTTP/1.0 client and a VCS failing mid-body', function () {
  this.timeout(20_000);
  let harness: Harness;
  before(async () => {
    harness = await startHarness({
      policy: testPolicy,
      frontDoor: true,
      vcs(req, res) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' }); // chunked, no length
        res.write(Buffer.alloc(300_000, 1), () => req.socket.destroy());
      },
    });
  });
  after(() => harness.close());

  it('the client sees a connection reset, not a clean end', async () => {
    const { hostname, port } = new URL(harness.frontDoorUrl as string);
    const outcome = await new Promise<{ reset: boolean; bytes: number }>((resolve) => {
      const socket = connect(Number(port), hostname, () => socket.write(`GET /${harness.pool}/allowed/x HTTP/1.0\r\nHost: x\r\n\r\n`));
      let bytes = 0;
      socket.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      socket.on('error', () => resolve({ reset: true, bytes }));
      socket.on('end', () => resolve({ reset: false, bytes }));
      socket.setTimeout(10_000, () => socket.destroy());
    });
    expect(outcome.bytes).to.be.greaterThan(0);
    expect(outcome.reset, 'connection reset').to.equal(true);
  });
});
