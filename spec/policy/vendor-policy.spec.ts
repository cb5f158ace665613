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

});
