import { expect } from 'chai';
import fc from 'fast-check';
import { checkCanonicalTarget } from '../../lib/policy/canonical-path.js';
import { VENDOR_NAMES, VENDORS, createVendorPolicy, type VendorName } from '../../lib/vendors/index.js';

/*
 * An independent, deliberately naive oracle: a rule pattern as a regular expression over the
 * raw path. If the policy ever allows something this oracle does not, the engine has a bug.
 */
function oracle(vendor: VendorName): (method: string, path: string) => boolean {
  const def = VENDORS[vendor];
  const flags = def.caseInsensitivePaths === true ? 'i' : '';
  const compiled = def.rules.map((rule) => ({
    method: rule.method,
    regex: new RegExp(
      `^${rule.path
        .split('/')
        .map((seg) => (seg.startsWith(':') ? '[^/?#]+' : seg.startsWith('*') ? '[^?#]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('/')}$`,
      flags,
    ),
  }));
  return (method, path) => compiled.some((c) => c.method === method && c.regex.test(path));
}

const SEEDS: Record<VendorName, readonly string[]> = {
  gitlab: [
    '/api/v4/projects/acme%2Finfra/repository/files/stacks%2Fprod%2Fmain.tf/raw?ref=main',
    '/api/v4/projects/acme%2Finfra/merge_requests/7/notes/3',
    '/api/v4/user',
  ],
  github_enterprise: ['/api/v3/repos/acme/infra/contents/stacks/prod/main.tf?ref=main', '/api/v3/repos/acme/infra/hooks/9', '/api/v3/user'],
  bitbucket_datacenter: ['/rest/api/1.0/projects/PRJ/repos/infra/browse/stacks/main.tf?at=main', '/rest/api/1.0/projects/PRJ/repos/infra/webhooks/2'],
  azure_devops: [
    '/DefaultCollection/Proj/_apis/git/repositories/infra/items?path=%2Fmain.tf&api-version=7.1',
    '/DefaultCollection/Proj/_apis/git/repositories/infra/pullRequests/7/threads/3/comments/4?api-version=7.1',
  ],
};

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'get', 'TRACE', 'CONNECT'];

// Pieces an attacker would splice into a path.
const NASTY = [
  '..', '.', '%2e', '%2E%2e', '%2f', '%2F', '%5c', '\\', ';', '#', '?', '//', '%00', '\u0000', '\r\n', ' ', '%20', '%252e', '%25',
  '%c0%ae', '%ef%bc%8e', '@', ':', 'http://x', '/..', '/../', '%2F..%2F', '\u202e', '\t', '%', '%zz', '~', '*', 'api', 'v3', 'v4',
];

function mutate(path: string, ops: ReadonlyArray<{ at: number; piece: string; kind: number }>): string {
  let out = path;
  for (const { at, piece, kind } of ops) {
    const i = at % (out.length + 1);
    if (kind === 0) out = out.slice(0, i) + piece + out.slice(i);
    else if (kind === 1) out = out.slice(0, i) + piece + out.slice(i + 1);
    else if (kind === 2) out = out.slice(0, i);
    else out = out.slice(0, i) + out.slice(i).toUpperCase();
  }
  return out;
}

describe('policy properties (fast-check)', function () {
  this.timeout(60_000);

  for (const vendor of VENDOR_NAMES) {
    describe(vendor, function () {
      const policy = createVendorPolicy(vendor);
      const restricted = createVendorPolicy(vendor, { allowedProjects: 'acme/infra' });
      const matchesRule = oracle(vendor);

      const check = (method: string, target: string): void => {
        for (const p of [policy, restricted]) {
          const decision = p.evaluate({ method, path: target, rawHeaders: [] });
          expect(decision.allow === true || decision.allow === false).to.equal(true);
          if (decision.allow) {
            const canonical = checkCanonicalTarget(target);
            expect(canonical.ok, `allowed a non-canonical target ${JSON.stringify(target)}`).to.equal(true);
            if (!canonical.ok) return;
            expect(matchesRule(method, canonical.target.path), `allowed ${method} ${JSON.stringify(target)} outside the rules`).to.equal(true);
            if (p === restricted && decision.project !== undefined) expect(decision.project.toLowerCase()).to.equal('acme/infra');
          } else {
            expect(decision.reason).to.be.a('string').and.not.equal('');
          }
        }
      };

      it('never throws and never allows a random target outside the rules', function () {
        fc.assert(
          fc.property(fc.constantFrom(...METHODS), fc.string({ unit: 'binary', maxLength: 200 }), (method, s) => check(method, `/${s}`)),
          { numRuns: 2000 },
        );
        fc.assert(
          fc.property(fc.constantFrom(...METHODS), fc.string({ maxLength: 300 }), (method, s) => check(method, s)),
          { numRuns: 1000 },
        );
      });

      it('never allows a mutated client path outside the rules', function () {
        const op = fc.record({ at: fc.nat(400), piece: fc.oneof(fc.constantFrom(...NASTY), fc.string({ maxLength: 3 })), kind: fc.nat(3) });
        fc.assert(
          fc.property(fc.constantFrom(...METHODS), fc.constantFrom(...SEEDS[vendor]), fc.array(op, { minLength: 1, maxLength: 4 }), (method, seed, ops) =>
            check(method, mutate(seed, ops)),
          ),
          { numRuns: 3000 },
        );
      });

      it('never allows a target with a dot, empty or backslash segment once decoded', function () {
        const traversal = fc.constantFrom('..', '.', '%2e%2e', '%2E', '.%2e', '', '%5c', '..%2F', '%2F..', '%2F%2F');
        fc.assert(
          fc.property(fc.constantFrom(...SEEDS[vendor]), fc.nat(20), traversal, (seed, n, piece) => {
            const [path, query] = seed.split('?') as [string, string | undefined];
            const segments = path.split('/');
            const at = 1 + (n % (segments.length - 1));
            segments.splice(at, 0, piece);
            const target = segments.join('/') + (query === undefined ? '' : `?${query}`);
            for (const method of ['GET', 'POST', 'PUT', 'DELETE']) {
              expect(policy.evaluate({ method, path: target, rawHeaders: [] }).allow, target).to.equal(false);
            }
          }),
          { numRuns: 1000 },
        );
      });
    });
  }

  it('checkCanonicalTarget: any accepted target decodes to segments without dot, empty or control parts', function () {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 120 }), (s) => {
        const result = checkCanonicalTarget(`/${s}`);
        if (!result.ok) return;
        for (const segment of result.target.decodedSegments) {
          for (const part of segment.split('/')) {
            expect(part).to.not.be.oneOf(['', '.', '..']);
            expect(part).to.not.match(/[\u0000-\u001f\u007f\\]/);
          }
        }
      }),
      { numRuns: 5000 },
    );
  });
});
