import { expect } from 'chai';
import { InvalidVendorError } from '../../lib/policy/invalid-vendor-error.js';
import type { PolicyDecision, RedirectPolicy } from '../../lib/policy/request-policy.js';
import { createVendorPolicy, defineVendor, githubEnterprise } from '../../lib/vendors/index.js';

function redirectsOf(decision: PolicyDecision): RedirectPolicy {
  if (!decision.allow || decision.redirects === undefined) throw new Error(`expected an allow with redirects, got ${JSON.stringify(decision)}`);
  return decision.redirects;
}

describe('redirect policy of archive rules', () => {
  const policy = createVendorPolicy('github_enterprise', { allowedProjects: 'acme/infra' });
  const tarball = policy.evaluate({ method: 'GET', path: '/api/v3/repos/acme/infra/tarball/main', rawHeaders: [] });
  const vcs = new URL('https://ghe.example.com/');

  it('is offered for tarball and zipball only', () => {
    expect(redirectsOf(tarball).maxHops).to.equal(3);
    expect(redirectsOf(policy.evaluate({ method: 'GET', path: '/api/v3/repos/acme/infra/zipball/v1', rawHeaders: [] })).maxHops).to.equal(3);
    const repo = policy.evaluate({ method: 'GET', path: '/api/v3/repos/acme/infra', rawHeaders: [] });
    expect(repo.allow && repo.redirects).to.equal(undefined);
  });

  it('follows codeload.<host> and /_codeload/… of the same instance, same repository', () => {
    const follow = redirectsOf(tarball).follow;
    const sub = follow(new URL('https://codeload.ghe.example.com/acme/infra/legacy.tar.gz/refs/heads/main?token=t'), vcs);
    expect(sub).to.deep.include({ follow: true, sameOrigin: false });
    const path = follow(new URL('https://ghe.example.com/_codeload/acme/infra/legacy.tar.gz/refs/heads/main?token=t'), vcs);
    expect(path).to.deep.include({ follow: true, sameOrigin: true });
    expect(path?.follow === true && path.decision.project).to.equal('acme/infra');
  });

  it('leaves everything else to the caller (undefined), or refuses same-VCS targets the rules deny', () => {
    const follow = redirectsOf(tarball).follow;
    for (const target of [
      'https://evil.example/acme/infra/legacy.tar.gz/main',
      'http://codeload.ghe.example.com/acme/infra/legacy.tar.gz/main',
      'https://codeload.ghe.example.com:8443/acme/infra/legacy.tar.gz/main',
      'https://codeload.evil.ghe.example.com/acme/infra/legacy.tar.gz/main',
      'https://user:pw@ghe.example.com/_codeload/acme/infra/legacy.tar.gz/main',
      'http://ghe.example.com/_codeload/acme/infra/legacy.tar.gz/main',
    ]) {
      expect(follow(new URL(target), vcs), target).to.equal(undefined);
    }
    expect(follow(new URL('https://ghe.example.com/_codeload/evil/secrets/legacy.tar.gz/main'), vcs)).to.deep.include({ follow: false });
    expect(follow(new URL('https://ghe.example.com/api/v3/repos/acme/other'), vcs)).to.deep.include({ follow: false });
    expect(follow(new URL('https://ghe.example.com/_codeload/acme/infra/%2e%2e/x/legacy.tar.gz/main'), vcs)?.follow).to.equal(false);
    // Under a base path, targets outside it are not this VCS.
    expect(follow(new URL('https://ghe.example.com/other/_codeload/acme/infra/legacy.tar.gz/main'), new URL('https://ghe.example.com/ghe/'))).to.equal(undefined);
  });

  it('denies redirect-only rules requested directly', () => {
    expect(policy.evaluate({ method: 'GET', path: '/_codeload/acme/infra/legacy.tar.gz/refs/heads/main', rawHeaders: [] }).allow).to.equal(false);
  });

  it('validates followRedirects and redirectOnly (GET only, booleans) and the new hooks', () => {
    expect(() => defineVendor({ name: 'x', extends: githubEnterprise, rules: [{ method: 'POST', path: '/api/v3/x', description: 'x', followRedirects: true }] }))
      .to.throw(InvalidVendorError, /followRedirects is only allowed on GET rules/);
    expect(() => defineVendor({ name: 'x', extends: githubEnterprise, rules: [{ method: 'GET', path: '/api/v3/x', description: 'x', redirectOnly: 'yes' as unknown as boolean }] }))
      .to.throw(InvalidVendorError, /redirectOnly must be true or false/);
    expect(() => defineVendor({ name: 'x', extends: githubEnterprise, body: 'no' as never })).to.throw(InvalidVendorError, /body must be a function/);
  });
});
