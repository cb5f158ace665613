import { expect } from 'chai';
import { checkCanonicalTarget, MAX_PATH_SEGMENTS, MAX_TARGET_LENGTH } from '../../lib/policy/canonical-path.js';
import { VENDOR_NAMES, createVendorPolicy } from '../../lib/vendors/index.js';

/* Every ambiguity class of issue 3 item 3, each with plain and encoded variants. */
const BYPASSES: Record<string, readonly string[]> = {
  'dot segments': [
    '/api/v4/projects/g%2Fr/../../admin',
    '/api/v4/./user',
    '/api/v4/projects/g%2Fr/repository/files/..',
    '/api/v4/projects/g%2Fr/%2e%2e/hooks',
    '/api/v4/projects/g%2Fr/%2E%2E/hooks',
    '/api/v4/projects/g%2Fr/.%2e/hooks',
    '/api/v4/%2e/user',
    '/api/v4/projects/g%2F..%2Fother',
    '/api/v4/projects/g%2F%2e%2e%2Fother',
    '/api/v4/projects/g%2Fr/repository/files/a%2F..%2F..%2Fsecret/raw',
    '/api/v4/projects/g%2Fr/repository/files/%2E/raw',
  ],
  'empty segments': [
    '/api/v4//user',
    '/api/v4/user/',
    '/api/v4/projects/g%2F%2Fr',
    '/api/v4/projects/%2Fg%2Fr',
    '/api/v4/projects/g%2Fr%2F',
  ],
  backslashes: ['/api/v4\\user', '/api/v4/projects/g%5Cr', '/api/v4/projects/g%5c..%5cadmin', '/api/v4/projects/g%2Fr/repository/files/a%5C..%5Cb'],
  semicolons: ['/api/v4/user;x=y', '/rest/api/1.0/projects/P/repos/r;jsessionid=1/browse', '/api/v4/projects/g%3Br', '/api/v4/user?a=1;b=2'],
  fragments: ['/api/v4/user#x', '/api/v4/user?x=1#frag', '/api/v4/user%23/../x'],
  'control characters and NUL': [
    '/api/v4/user\u0000',
    '/api/v4/us\ter',
    '/api/v4/user\r\nX-Injected: 1',
    '/api/v4/user%00',
    '/api/v4/user%0d%0aX-Injected:%201',
    '/api/v4/user%0A',
    '/api/v4/user%7F',
    '/api/v4/user?x=%00',
    '/api/v4/user?x=\u0001',
    '/api/v4/projects/g%2Fr%C2%85',
    '/api/v4/projects/g%2Fr%E2%80%8B',
    '/api/v4/projects/g%2Fr%E2%80%AE',
  ],
  'invalid percent-encoding': ['/api/v4/user%', '/api/v4/user%2', '/api/v4/user%zz', '/api/v4/user%u002e', '/api/v4/user?x=%G0', '/api/v4/user%%32%65'],
  'double percent-encoding': ['/api/v4/projects/g%252Fr', '/api/v4/projects/g%2Fr/%252e%252e/hooks', '/api/v4/%25'],
  'overlong or invalid UTF-8': [
    '/api/v4/projects/g%C0%AE%C0%AE',
    '/api/v4/projects/g%C0%AF',
    '/api/v4/projects/g%E0%80%AE',
    '/api/v4/projects/g%F0%80%80%AE',
    '/api/v4/projects/g%C1%9C',
    '/api/v4/projects/g%FF',
    '/api/v4/projects/g%ED%A0%80',
    '/api/v4/projects/g%C3',
  ],
  'Unicode look-alikes of delimiters': ['/api/v4/projects/g%EF%BC%8E%EF%BC%8E', '/api/v4/projects/g%EF%BC%8Fr', '/api/v4/projects/g%EF%BC%BCr', '/api/v4/projects/g%E2%80%A4r'],
  whitespace: [
    '/api/v4/user ',
    '/api/v4/ user',
    '/api/v4/projects/g%2Fr%20',
    '/api/v4/projects/%20g%2Fr',
    '/api/v4/projects/g%2F%20r',
    '/api/v4/projects/g%09r',
    '/api/v4/projects/g%C2%A0r',
    '/api/v4/projects/g%E3%80%80r',
    '/api/v4/user?x=a b',
  ],
  'not origin form': [
    'http://evil.example/api/v4/user',
    'https://vcs/api/v4/user',
    '//evil.example/api/v4/user',
    '///api/v4/user',
    '@evil.example/api/v4/user',
    '/@evil.example/api/v4/user',
    '/http:%2F%2Fevil/x',
    'api/v4/user',
    '*',
    '',
    '\\\\evil\\api',
    '/api/v4/user/\u00e9',
    '/api/v4/us<er>',
    '/api/v4/"user"',
    '/api/v4/{user}',
  ],
  'over-long paths': [`/api/v4/${'a'.repeat(MAX_TARGET_LENGTH)}`, `/api${'/a'.repeat(MAX_PATH_SEGMENTS + 1)}`, `/api/v4/user?${'x'.repeat(MAX_TARGET_LENGTH)}`],
};

describe('checkCanonicalTarget', function () {
  for (const [name, targets] of Object.entries(BYPASSES)) {
    describe(`rejects ${name}`, function () {
      for (const target of targets) {
        it(JSON.stringify(target.length > 80 ? `${target.slice(0, 60)}…(${target.length})` : target), function () {
          const result = checkCanonicalTarget(target);
          expect(result.ok).to.equal(false);
          if (!result.ok) expect(result.reason).to.be.a('string').and.have.length.greaterThan(5);
          // …and so does every vendor policy, whatever the rules.
          for (const vendor of VENDOR_NAMES) {
            for (const method of ['GET', 'POST', 'OPTIONS']) {
              expect(createVendorPolicy(vendor).evaluate({ method, path: target, rawHeaders: [] }).allow).to.equal(false);
            }
          }
        });
      }
    });
  }

  it('accepts clean targets and splits them', function () {
    const result = checkCanonicalTarget('/api/v4/projects/g%2Fsub%2Frepo/repository/files/docs%2Fmy%20file.md?ref=main&x=%25');
    expect(result.ok).to.equal(true);
    if (!result.ok) return;
    expect(result.target.path).to.equal('/api/v4/projects/g%2Fsub%2Frepo/repository/files/docs%2Fmy%20file.md');
    expect(result.target.query).to.equal('ref=main&x=%25');
    expect(result.target.segments).to.deep.equal(['api', 'v4', 'projects', 'g%2Fsub%2Frepo', 'repository', 'files', 'docs%2Fmy%20file.md']);
    expect(result.target.decodedSegments[3]).to.equal('g/sub/repo');
    expect(result.target.decodedSegments[6]).to.equal('docs/my file.md');
  });

  it('accepts dotfiles, UTF-8 names and sub-delimiters that are not ambiguous', function () {
    for (const target of [
      '/repos/o/r/contents/.github%2Fworkflows',
      '/repos/o/r/contents/.terraform.lock.hcl',
      '/repos/o/r/contents/caf%C3%A9.md',
      "/x/a!$&'()*+,=:@~-_.b",
      '/x?a=b/c?d',
      '/',
    ]) {
      expect(checkCanonicalTarget(target).ok, target).to.equal(true);
    }
  });
});
