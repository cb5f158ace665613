import { expect } from 'chai';
import { checkCanonicalTarget, type CanonicalTarget } from '../../lib/policy/canonical-path.js';
import { compileRules } from '../../lib/policy/rule-engine.js';
import { InvalidVendorError } from '../../lib/policy/invalid-vendor-error.js';
import type { VendorDefinition } from '../../lib/policy/vendor-definition.js';

function target(path: string): CanonicalTarget {
  const result = checkCanonicalTarget(path);
  if (!result.ok) throw new Error(result.reason);
  return result.target;
}

/* A `*name` that is not the last segment: GitLab repositories in nested groups (`/a/b/c.git/info/refs`). */
describe('rule engine: *name before fixed segments', function () {
  const vendor: VendorDefinition = {
    name: 'forge',
    rules: [
      { method: 'GET', path: '/api/*rest', description: 'API tail' },
      { method: 'GET', path: '/*repository/info/refs', description: 'Refs' },
      { method: 'POST', path: '/*repository/git-upload-pack', description: 'Upload pack' },
      { method: 'GET', path: '/mirror/*repository/:kind/refs', description: 'Mirror refs' },
    ],
    params: { repository: '[a-z]+(?:/[a-z]+)*\\.git', kind: 'info|meta' },
  };
  const rules = compileRules(vendor);

  it('takes every segment between the fixed ones as the parameter', function () {
    expect(rules.match('GET', target('/a/b/c.git/info/refs'))).to.deep.include({ key: 'GET /*repository/info/refs', params: { repository: 'a/b/c.git' } });
    expect(rules.match('GET', target('/c.git/info/refs'))?.params).to.deep.equal({ repository: 'c.git' });
    expect(rules.match('POST', target('/a/c.git/git-upload-pack'))?.params).to.deep.equal({ repository: 'a/c.git' });
    expect(rules.match('GET', target('/mirror/a/b.git/meta/refs'))?.params).to.deep.equal({ repository: 'a/b.git', kind: 'meta' });
  });

  it('needs at least one segment for the parameter and every fixed segment after it', function () {
    expect(rules.match('GET', target('/info/refs'))).to.equal(undefined);
    expect(rules.match('GET', target('/a.git/info'))).to.equal(undefined);
    expect(rules.match('GET', target('/a.git/info/refs/x'))).to.equal(undefined);
    expect(rules.match('GET', target('/a.git/info/REFS'))).to.equal(undefined);
    expect(rules.match('GET', target('/mirror/a.git/other/refs'))).to.equal(undefined);
    expect(rules.match('GET', target('/mirror/info/refs'))).to.equal(undefined);
  });

  it('applies the parameter pattern to the raw segments joined with "/"', function () {
    expect(rules.match('GET', target('/a/B.git/info/refs'))).to.equal(undefined);
    expect(rules.match('GET', target('/a/b/info/refs'))).to.equal(undefined);
    expect(rules.match('GET', target('/a%2Fb.git/info/refs'))).to.equal(undefined);
  });

  it('keeps earlier rules first (a trailing *name still matches the rest)', function () {
    expect(rules.match('GET', target('/api/x.git/info/refs'))?.key).to.equal('GET /api/*rest');
  });

  it('rejects two *name parameters in one pattern, naming the field', function () {
    const bad: VendorDefinition = { name: 'bad', rules: [{ method: 'GET', path: '/x/*a/y/*b', description: 'Two globs' }] };
    expect(() => compileRules(bad)).to.throw(InvalidVendorError, /only one \*name/).with.property('field', 'rules[0].path');
  });

  it('still needs a literal segment somewhere', function () {
    const bad: VendorDefinition = { name: 'bad', rules: [{ method: 'GET', path: '/*a/:b', description: 'No literal' }] };
    expect(() => compileRules(bad)).to.throw(InvalidVendorError, /literal/);
  });
});
