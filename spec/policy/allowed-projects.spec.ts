import { expect } from 'chai';
import { InvalidOptionError } from '../../lib/errors.js';
import { compileAllowedProjects, MAX_PROJECT_LENGTH } from '../../lib/policy/allowed-projects.js';
import { createVendorPolicy } from '../../lib/vendors/index.js';

describe('compileAllowedProjects', function () {
  it('defaults to .* which matches everything', function () {
    const all = compileAllowedProjects();
    expect(all.matchesAll).to.equal(true);
    expect(all.test('anything/at-all')).to.equal(true);
  });

  it('matches whole names, case-insensitively', function () {
    const p = compileAllowedProjects('acme/(infra|network)|platform/.*');
    expect(p.test('ACME/Infra')).to.equal(true);
    expect(p.test('platform/sub/repo')).to.equal(true);
    expect(p.test('acme/infra2')).to.equal(false);
    expect(p.test('xacme/infra')).to.equal(false);
    expect(p.test('acme/infra\nplatform/x')).to.equal(false);
  });

  it('rejects invalid or costly patterns with InvalidOptionError naming allowed-projects', function () {
    for (const bad of ['', '   ', '(', '[a-', 'a{2,1}', '(a+)+', '(a*)*b', '(a|aa)*', '(x(a|b))+', '(a)\\1', '(?=a).*', '(?<!a)b', '.*.*.*.*x', 'x'.repeat(2000)]) {
      let error: unknown;
      try {
        compileAllowedProjects(bad);
      } catch (e) {
        error = e;
      }
      expect(error, bad).to.be.instanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).option).to.equal('allowed-projects');
      expect((error as InvalidOptionError).code).to.equal('VCS_INVALID_OPTION');
      expect((error as Error).message).to.match(/allowed-projects/);
    }
  });

  it('is validated when the policy is built', function () {
    expect(() => createVendorPolicy('gitlab', { allowedProjects: '(a+)+' })).to.throw(InvalidOptionError, /allowed-projects/);
  });

  it('bounds matching cost on long input', function () {
    const worst = compileAllowedProjects('.*.*.*x');
    const started = process.hrtime.bigint();
    for (let i = 0; i < 20; i++) worst.test('a'.repeat(MAX_PROJECT_LENGTH));
    const perCallMs = Number(process.hrtime.bigint() - started) / 1e6 / 20;
    expect(perCallMs).to.be.lessThan(50);
    expect(worst.test(`${'a'.repeat(100_000)}x`)).to.equal(false);
  });
});
