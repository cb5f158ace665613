import { expect } from 'chai';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { generatedBody } from '../helpers/bodies.js';

describe('optional body caps', function () {
  this.timeout(30_000);
  let harness: Harness;
  before(async () => {
    harness = await startHarness({
      policy: testPolicy,
      client: { maxBodyBytes: { request: 1024 * 1024, response: 2 * 1024 * 1024 } },
      vcs(req, res) {
        const size = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('size') ?? 0);
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          generatedBody(size).pipe(res);
        });
      },
    });
  });
  after(() => harness.close());

  it('answers 413 before forwarding when the declared length is over the cap', async () => {
    const before = harness.vcsRequests.length;
    const response = await harness.request('/allowed/upload', { method: 'POST', headers: { 'content-length': String(2 * 1024 * 1024) }, body: generatedBody(2 * 1024 * 1024) });
    expect(response.status).to.equal(413);
    expect(JSON.parse(response.body.toString()).error.code).to.equal('VCS_BODY_TOO_LARGE');
    expect(harness.vcsRequests.length).to.equal(before);
  });

  it('answers 413 when an undeclared (chunked) body grows past the cap', async () => {
    const response = await harness.request('/allowed/upload', { method: 'POST', body: generatedBody(3 * 1024 * 1024) });
    expect(response.status).to.equal(413);
  });

  it('resets a response over the cap, so the caller gets an error rather than a cut body', async () => {
    const response = await harness.stream('/allowed/download?size=8388608');
    const error = await new Promise<Error & { code?: string }>((resolve, reject) => {
      response.body.on('data', () => {});
      response.body.once('end', () => reject(new Error('ended cleanly')));
      response.body.once('error', resolve);
    });
    expect(error.code).to.equal('VCS_STREAM_RESET');
  });

  it('lets bodies under the caps through, and the pool keeps serving', async () => {
    const response = await harness.request('/allowed/download?size=1000');
    expect(response.status).to.equal(200);
    expect(response.body.length).to.equal(1000);
  });
});
