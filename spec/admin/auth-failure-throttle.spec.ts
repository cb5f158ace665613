import { expect } from 'chai';
import { AdminServer } from '../../lib/gateway/admin/admin-server.js';
import { AuthFailureThrottle } from '../../lib/gateway/admin/auth-failure-throttle.js';
import { MemoryLogger } from '../helpers/memory-logger.js';
import { ADMIN_TOKEN, startAdminHarness, type AdminHarness } from './admin-harness.js';

describe('admin API: wrong-token throttle', function () {
  describe('AuthFailureThrottle (clock injected)', function () {
    let now = 0;
    const throttle = (): AuthFailureThrottle => new AuthFailureThrottle({ maxFailures: 3, windowMs: 10_000 }, () => now);
    beforeEach(function () {
      now = 1_000_000;
    });

    it('lets an address fail up to the limit, then refuses it until its window ends', function () {
      const t = throttle();
      expect([t.fail('a'), t.fail('a')]).to.deep.equal([false, false]);
      expect(t.retryAfterSeconds('a')).to.equal(0);
      expect(t.fail('a')).to.equal(true);
      expect(t.retryAfterSeconds('a')).to.equal(10);
      expect(t.retryAfterSeconds('b')).to.equal(0);
      now += 9_001;
      expect(t.retryAfterSeconds('a')).to.equal(1);
      now += 999;
      expect(t.retryAfterSeconds('a')).to.equal(0);
      expect(t.fail('a')).to.equal(false); // a new window
    });

    it('forgets an address on a right token', function () {
      const t = throttle();
      t.fail('a');
      t.fail('a');
      t.succeed('a');
      expect([t.fail('a'), t.fail('a')]).to.deep.equal([false, false]);
    });

    it('keeps at most 10 000 addresses: a spray of new ones evicts the oldest', function () {
      const t = throttle();
      for (let i = 0; i < 3; i++) t.fail('first');
      expect(t.retryAfterSeconds('first')).to.be.greaterThan(0);
      for (let i = 0; i < 10_000; i++) t.fail(`10.0.${i >> 8}.${i & 255}`);
      expect(t.retryAfterSeconds('first')).to.equal(0);
    });
  });

  describe('on a real admin listener', function () {
    this.timeout(20_000);
    let harness: AdminHarness;
    const logger = new MemoryLogger();
    beforeEach(async function () {
      logger.entries.length = 0;
      harness = await startAdminHarness({}, { authFailureLimit: { maxFailures: 3, windowMs: 60_000 }, logger });
    });
    afterEach(async function () {
      await harness.close();
    });

    it('answers 429 with Retry-After once an address sent too many wrong tokens, even with the right one', async function () {
      for (let i = 0; i < 3; i++) expect((await harness.call('GET', '/api/v1/pools', { token: `wrong-token-guess-${i}` })).status).to.equal(401);
      for (const token of ['wrong-token-guess-4', ADMIN_TOKEN]) {
        const refused = await harness.call('GET', '/api/v1/pools', { token });
        expect(refused.status).to.equal(429);
        expect(refused.body.error.code).to.equal('VCS_ADMIN_RATE_LIMITED');
        expect(Number(refused.headers.get('retry-after'))).to.be.within(1, 60);
      }
      expect((await harness.call('GET', '/metrics', { token: ADMIN_TOKEN })).status).to.equal(429);
      // Health checks never need a token and are never throttled.
      expect((await harness.call('GET', '/healthz', { token: null })).status).to.equal(200);
      const warnings = logger.entries.filter((entry) => entry.message === 'admin token refused too often; refusing the address for a while');
      expect(warnings).to.have.length(1);
      expect(warnings[0]?.level).to.equal('warn');
      expect(warnings[0]?.remoteAddress).to.match(/127\.0\.0\.1/);
      expect(JSON.stringify(logger.entries)).to.not.include('wrong-token-guess');
      expect(JSON.stringify(logger.entries)).to.not.include(ADMIN_TOKEN);
    });

    it('does not count requests without a token (the page before sign-in), and a right token resets the count', async function () {
      for (let i = 0; i < 5; i++) expect((await harness.call('GET', '/api/v1/pools', { token: null })).status).to.equal(401);
      expect((await harness.call('GET', '/api/v1/pools', { token: 'wrong-token-guess-a' })).status).to.equal(401);
      expect((await harness.call('GET', '/api/v1/pools', { token: 'wrong-token-guess-b' })).status).to.equal(401);
      expect((await harness.call('GET', '/api/v1/pools')).status).to.equal(200);
      expect((await harness.call('GET', '/api/v1/pools', { token: 'wrong-token-guess-c' })).status).to.equal(401);
      expect((await harness.call('GET', '/api/v1/pools', { token: 'wrong-token-guess-d' })).status).to.equal(401);
      expect((await harness.call('GET', '/api/v1/pools')).status).to.equal(200);
    });
  });

  it('rejects bad limits, naming the field', function () {
    const base = { gateway: undefined as never, store: undefined as never, token: ADMIN_TOKEN, gatewayUrl: 'http://127.0.0.1:8443' };
    expect(() => new AdminServer({ ...base, authFailureLimit: { maxFailures: 0 } })).to.throw(/authFailureLimit\.maxFailures: expected a positive integer/);
    expect(() => new AdminServer({ ...base, authFailureLimit: { windowMs: -5 } })).to.throw(/authFailureLimit\.windowMs: expected a positive integer/);
    expect(() => new AdminServer({ ...base, authFailureLimit: 3 as unknown as false })).to.throw(/authFailureLimit: expected \{ maxFailures, windowMs \} or false/);
  });
});
