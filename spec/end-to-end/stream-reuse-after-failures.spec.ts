import { expect } from 'chai';
import { createServer as createNetServer, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { waitFor } from '../helpers/wait-for.js';

// Regressions from the core review: each case left a tunnel stream held or paused, so the
// next request on a parallelism-1 pool hung. With one stream, "the next request works"
// proves the stream came back.
describe('a tunnel stream comes back after every way an exchange can end early', function () {
  this.timeout(30_000);

  it('an early VCS answer while the upload is under backpressure', async () => {
    // A raw VCS that never reads the body and answers 401 after a moment, then closes.
    const sockets: Socket[] = [];
    const vcs = createNetServer((socket) => {
      sockets.push(socket);
      socket.pause();
      setTimeout(() => socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-length: 2\r\nconnection: close\r\n\r\nno'), 200);
    });
    await new Promise<void>((resolve) => vcs.listen(0, '127.0.0.1', resolve));
    const port = (vcs.address() as { port: number }).port;
    const harness = await startHarness({ policy: testPolicy, parallelism: 1, client: { target: `http://127.0.0.1:${port}` } });
    try {
      const early = await harness.request('/allowed/early', { method: 'POST', body: Buffer.alloc(8_000_000) });
      expect(early.status).to.equal(401);
      const next = harness.request('/allowed/next');
      const answer = await Promise.race([next.then((r) => r.status), new Promise((resolve) => setTimeout(() => resolve('hung'), 5000))]);
      // The raw VCS closes after one answer, so the next request may see 502 — but it must answer.
      expect(answer).to.not.equal('hung');
    } finally {
      await harness.close();
      for (const socket of sockets) socket.destroy();
      vcs.close();
    }
  });

  describe('with a normal VCS', () => {
    let harness: Harness;
    before(async () => {
      harness = await startHarness({
        policy: testPolicy,
        parallelism: 1,
        vcs(req, res) {
          const size = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('size') ?? '2');
          req.resume();
          // Answer once the whole request arrived (an upload that never ends gets no answer).
          req.on('end', () => {
            res.writeHead(200, { 'content-length': size });
            res.end(Buffer.alloc(size, 'x'));
          });
        },
      });
    });
    after(() => harness.close());

    it('a caller that destroys or abandons the response body', async () => {
      for (const size of [200_000, 8_000_000]) {
        const response = await harness.stream(`/allowed/big?size=${size}`);
        for await (const _chunk of response.body) break; // abandon after the first chunk
      }
      await waitFor(() => harness.gateway.connections(harness.pool)[0]?.streamsIdle === 1, 5000, 'the stream to be idle again');
      expect((await harness.request('/allowed/next')).status).to.equal(200);
    });

    it('a request body stream destroyed without an error', async () => {
      const body = new PassThrough();
      body.write('partial');
      setTimeout(() => body.destroy(), 50);
      const started = Date.now();
      const error = await harness.request('/allowed/upload', { method: 'POST', body }).then(
        () => undefined,
        (e: unknown) => e as { code?: string },
      );
      expect(error?.code).to.equal('VCS_ABORTED');
      expect(Date.now() - started).to.be.below(5000);
      expect((await harness.request('/allowed/next')).status).to.equal(200);
    });
  });
});
