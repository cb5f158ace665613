import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';

/** Deterministic per-request body: size and bytes derive from the request number. */
function bodyFor(n: number): Buffer {
  const size = (n * 7919) % (300 * 1024);
  const seed = createHash('sha256').update(String(n)).digest();
  const body = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) body[i] = (seed[i % seed.length] as number) ^ (i & 0xff);
  return body;
}

describe('many concurrent requests over few streams', function () {
  this.timeout(60_000);
  let harness: Harness;
  before(async () => {
    harness = await startHarness({
      policy: testPolicy,
      parallelism: 4,
      vcs(req, res) {
        const n = Number(req.url?.split('/').pop());
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          const body = bodyFor(n);
          const echoed = createHash('sha256').update(Buffer.concat(chunks)).digest('hex');
          res.writeHead(200, { 'x-request-number': String(n), 'x-upload-sha256': echoed, 'content-length': body.length });
          // Write in pieces with a pause, so exchanges interleave on the tunnel.
          res.write(body.subarray(0, body.length >> 1));
          setImmediate(() => res.end(body.subarray(body.length >> 1)));
        });
      },
    });
  });
  after(() => harness.close());

  it('64 concurrent requests over parallelism 4 all get their own, intact bodies', async () => {
    const results = await Promise.all(
      Array.from({ length: 64 }, async (_, n) => {
        const upload = bodyFor(n + 1000);
        const response = await harness.request(`/allowed/item/${n}`, { method: 'POST', body: upload });
        return { n, upload, response };
      }),
    );
    for (const { n, upload, response } of results) {
      expect(response.status).to.equal(200);
      expect(response.headers['x-request-number']).to.equal(String(n));
      expect(response.body.equals(bodyFor(n)), `body of request ${n}`).to.equal(true);
      expect(response.headers['x-upload-sha256']).to.equal(createHash('sha256').update(upload).digest('hex'));
    }
    expect(harness.vcsRequests.length).to.equal(64);
  });
});
