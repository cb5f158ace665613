import { expect } from 'chai';
import { createVendorPolicy, VENDOR_NAMES, isVendorName } from '../../lib/vendors/index.js';

describe('createVendorPolicy', function () {
  it('exposes the vendor name and the four built-ins', function () {
    expect(VENDOR_NAMES).to.deep.equal(['gitlab', 'github_enterprise', 'azure_devops', 'bitbucket_datacenter']);
    for (const name of VENDOR_NAMES) {
      expect(isVendorName(name)).to.equal(true);
      expect(createVendorPolicy(name).name).to.equal(name);
    }
    expect(isVendorName('GitLab')).to.equal(false);
    expect(isVendorName(undefined)).to.equal(false);
  });

  it('returns a frozen, side-effect-free policy: same request, same decision', function () {
    const policy = createVendorPolicy('gitlab');
    expect(Object.isFrozen(policy)).to.equal(true);
    const request = { method: 'GET', path: '/api/v4/projects/a%2Fb/repository/tree?ref=main', rawHeaders: ['accept', '*/*'] };
    expect(policy.evaluate(request)).to.deep.equal(policy.evaluate(request));
  });

  it('denies methods case-sensitively and unknown methods', function () {
    const policy = createVendorPolicy('gitlab');
    for (const method of ['get', 'Get', 'TRACE', 'CONNECT', '', 'GET ', 'G\u0000ET']) {
      const decision = policy.evaluate({ method, path: '/api/v4/user', rawHeaders: [] });
      expect(decision.allow, JSON.stringify(method)).to.equal(false);
      if (!decision.allow) expect(decision.reason).to.not.match(/[\u0000-\u001f]/);
    }
  });

  it('decides in microseconds (compiled at build time)', function () {
    const policy = createVendorPolicy('github_enterprise', { allowedProjects: 'acme/.*' });
    const requests = [
      { method: 'GET', path: '/api/v3/repos/acme/infra/contents/stacks%2Fprod%2Fmain.tf?ref=main', rawHeaders: ['accept', 'application/json'] },
      { method: 'POST', path: '/api/v3/repos/acme/infra/issues/7/comments', rawHeaders: ['content-type', 'application/json'] },
      { method: 'GET', path: '/api/v3/repos/acme/infra/actions/secrets', rawHeaders: [] },
    ];
    const n = 30_000;
    const started = process.hrtime.bigint();
    for (let i = 0; i < n; i++) policy.evaluate(requests[i % requests.length]!);
    const microseconds = Number(process.hrtime.bigint() - started) / 1000 / n;
    // 20k requests/s need < 50 µs each to stay under 100% of one core; we want far less.
    expect(microseconds).to.be.lessThan(25);
  });
});
