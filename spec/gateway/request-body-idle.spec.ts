import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { BodyIdleTimeoutError, InvalidOptionError } from '../../lib/errors.js';
import { Gateway } from '../../lib/gateway/gateway.js';
import { MemoryPoolStore } from '../../lib/pools/memory-pool-store.js';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { waitFor } from '../helpers/wait-for.js';

/* Issue 13, bug 5, library path: a stalled `Gateway.request()` body must not hold a stream for good. */
describe('Gateway.request(): requestBodyIdleTimeoutMs', function () {
  this.timeout(30_000);
  let harness: Harness;

  before(async () => {
    harness = await startHarness({ policy: testPolicy, parallelism: 1, gateway: { requestBodyIdleTimeoutMs: 200 } });
  });
  after(() => harness.close());

  it('fails a body that stops sending with VCS_BODY_IDLE_TIMEOUT and frees the stream', async () => {
    const body = new PassThrough();
    body.write('first bytes, then nothing');
    const startedAt = Date.now();
    const error = await harness.stream('/allowed/upload', { method: 'POST', headers: { 'transfer-encoding': 'chunked' }, body, signal: AbortSignal.timeout(10_000) }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).to.be.instanceOf(BodyIdleTimeoutError);
    expect((error as BodyIdleTimeoutError).code).to.equal('VCS_BODY_IDLE_TIMEOUT');
    expect((error as BodyIdleTimeoutError).message).to.include('200 ms');
    expect(Date.now() - startedAt).to.be.below(5_000);
    await waitFor(
      () => harness.gatewayLogger.entries.some((entry) => entry.message === 'access' && entry.errorCode === 'VCS_BODY_IDLE_TIMEOUT'),
      5_000,
      'the access log line',
    );
    // The pool's only stream serves the next request.
    const next = await harness.request('/allowed/next');
    expect(next.status).to.equal(200);
    body.destroy();
  });

  it('lets a slow but steady body through', async () => {
    const body = new PassThrough();
    let sent = 0;
    const timer = setInterval(() => {
      body.write('x'.repeat(100));
      sent += 100;
      if (sent === 1000) {
        clearInterval(timer);
        body.end();
      }
    }, 50); // 500 ms in all, more than the bound, never silent for it
    const response = await harness.request('/allowed/steady', { method: 'POST', headers: { 'transfer-encoding': 'chunked' }, body });
    expect(response.status).to.equal(200);
    expect(JSON.parse(response.body.toString()).bodyBytes).to.equal(1000);
  });

  it('validates the option, naming it', () => {
    for (const value of [0, -1, 1.5]) {
      let caught: unknown;
      try {
        new Gateway({ store: new MemoryPoolStore(), requestBodyIdleTimeoutMs: value }).destroy();
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(InvalidOptionError);
      expect((caught as InvalidOptionError).option).to.equal('requestBodyIdleTimeoutMs');
    }
  });
});
