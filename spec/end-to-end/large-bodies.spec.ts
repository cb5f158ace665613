import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { digestStream, generatedBody as generated, generatedDigest as expectedDigest } from '../helpers/bodies.js';

const MiB = 1024 * 1024;

describe('large bodies stream through without buffering', function () {
  this.timeout(120_000);
  let harness: Harness;
  let uploadDigest = '';
  let uploadBytes = 0;

  before(async () => {
    harness = await startHarness({
      policy: testPolicy,
      vcs(req, res) {
        if (req.method === 'GET') {
          const size = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('size'));
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
          generated(size).pipe(res);
          return;
        }
        const hash = createHash('sha256');
        let bytes = 0;
        req.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          bytes += chunk.length;
        });
        req.on('end', () => {
          uploadDigest = hash.digest('hex');
          uploadBytes = bytes;
          res.writeHead(201, { 'content-type': 'text/plain' });
          res.end('stored');
        });
      },
    });
  });
  after(() => harness.close());

  it('streams 1 GiB down with an equal checksum and bounded memory', async () => {
    const size = 1024 * MiB;
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    try {
      const response = await harness.stream(`/allowed/blob?size=${size}`);
      expect(response.status).to.equal(200);
      const { bytes, digest } = await digestStream(response.body);
      expect(bytes).to.equal(size);
      expect(digest).to.equal(expectedDigest(size));
    } finally {
      clearInterval(sampler);
    }
    // Gateway, agent, VCS and client share this process: a body held whole would add 1 GiB.
    expect(peak - baseline, 'RSS growth while streaming 1 GiB').to.be.below(256 * MiB);
  });

  it('streams 256 MiB up with an equal checksum', async () => {
    const size = 256 * MiB;
    const response = await harness.request('/allowed/upload', {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body: generated(size),
    });
    expect(response.status).to.equal(201);
    expect(uploadBytes).to.equal(size);
    expect(uploadDigest).to.equal(expectedDigest(size));
  });
});
