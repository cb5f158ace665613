import { expect } from 'chai';
import { InvalidOptionError } from '../../lib/errors.js';
import type { PolicyDecision } from '../../lib/policy/request-policy.js';
import { defineVendor } from '../../lib/policy/define-vendor.js';
import { createVendorPolicy, type VendorRule } from '../../lib/vendors/index.js';

/* Regression specs for the allowlist gaps of issue 13: each of these reached the VCS before. */

const QUERY = 'query Reviews($owner: String!) { repository(owner: $owner, name: "x") { id } }';
const GRAPHQL_RULE: VendorRule = {
  method: 'POST',
  path: '/api/graphql',
  description: 'Read reviews',
  scope: 'cross-project',
  graphql: [{ operationName: 'Reviews', query: QUERY }],
};
const json = ['content-type', 'application/json'];

function decideBody(decision: PolicyDecision, body: string): PolicyDecision {
  if (decision.allow || decision.inspectBody === undefined) return decision;
  return decision.inspectBody.decide(Buffer.from(body));
}

describe('allowlist gaps (issue 13)', () => {
  describe('GraphQL', () => {
    const policy = createVendorPolicy('gitlab', { extraRules: [{ ...GRAPHQL_RULE, path: '/api/graphql' }] });
    const allowedBody = JSON.stringify({ query: QUERY, operationName: 'Reviews' });

    it('allows the exact operation without URL parameters', () => {
      expect(decideBody(policy.evaluate({ method: 'POST', path: '/api/graphql', rawHeaders: json, hasBody: true }), allowedBody).allow).to.equal(true);
    });

    it('denies URL parameters on a GraphQL POST (Rails runs the URL document)', () => {
      for (const path of ['/api/graphql?query=mutation%7BdestroyProject%7D', '/api/graphql?operationName=Reviews', '/api/graphql?variables=%7B%7D', '/api/graphql?x=1']) {
        const decision = decideBody(policy.evaluate({ method: 'POST', path, rawHeaders: json, hasBody: true }), allowedBody);
        expect(decision.allow, path).to.equal(false);
        if (!decision.allow) expect(decision.reason).to.match(/must not carry URL parameters/);
      }
    });

    it('denies a repeated query key in the JSON body, also when spelled with escapes', () => {
      const evil = 'mutation { destroyProject }';
      for (const body of [
        `{"query":${JSON.stringify(evil)},"query":${JSON.stringify(QUERY)},"operationName":"Reviews"}`,
        `{"query":${JSON.stringify(QUERY)},"\\u0071uery":${JSON.stringify(evil)},"operationName":"Reviews"}`,
        `{"query":${JSON.stringify(QUERY)},"operationName":"Reviews","operationName":"Reviews"}`,
      ]) {
        const decision = decideBody(policy.evaluate({ method: 'POST', path: '/api/graphql', rawHeaders: json, hasBody: true }), body);
        expect(decision.allow, body).to.equal(false);
        if (!decision.allow) expect(decision.reason).to.match(/repeats the key/);
      }
    });
  });

  describe('Azure DevOps', () => {
    const guid = '4c2b3f1e-9a0b-4c1d-8e2f-0123456789ab';
    const forms = [guid, guid.replace(/-/g, ''), guid.toUpperCase().replace(/-/g, ''), `%7B${guid}%7D`, `(${guid})`];

    it('treats every .NET GUID form of a repository or project as an id', () => {
      const policy = createVendorPolicy('azure_devops', { allowedProjects: 'acme/.*' });
      for (const form of forms) {
        for (const path of [`/DefaultCollection/acme/_apis/git/repositories/${form}?api-version=7.1`, `/DefaultCollection/${form}/_apis/git/repositories/infra?api-version=7.1`]) {
          const decision = policy.evaluate({ method: 'GET', path, rawHeaders: [] });
          expect(decision.allow, path).to.equal(false);
          if (!decision.allow) expect(decision.reason, path).to.match(/named by id|could not be determined|no azure_devops rule/);
        }
      }
      // With allowed-projects `.*` ids are fine.
      const open = createVendorPolicy('azure_devops');
      expect(open.evaluate({ method: 'GET', path: `/DefaultCollection/acme/_apis/git/repositories/${guid.replace(/-/g, '')}?api-version=7.1`, rawHeaders: [] }).allow).to.equal(true);
    });

    it('denies the X form and names with braces or commas (cannot be checked)', () => {
      const policy = createVendorPolicy('azure_devops', { allowedProjects: 'acme/.*' });
      for (const repo of ['%7B0x4c2b3f1e,0x9a0b,0x4c1d,%7B0x8e,0x2f,0x01,0x23,0x45,0x67,0x89,0xab%7D%7D', 'in%7Bfra', 'in,fra']) {
        expect(policy.evaluate({ method: 'GET', path: `/DefaultCollection/acme/_apis/git/repositories/${repo}?api-version=7.1`, rawHeaders: [] }).allow, repo).to.equal(false);
      }
      expect(policy.evaluate({ method: 'GET', path: '/DefaultCollection/acme/_apis/git/repositories/infra?api-version=7.1', rawHeaders: [] }).allow).to.equal(true);
    });

    it('checks the collection against allowed-collections (default DefaultCollection)', () => {
      const byDefault = createVendorPolicy('azure_devops');
      const path = (collection: string) => `/${collection}/acme/_apis/git/repositories/infra?api-version=7.1`;
      expect(byDefault.evaluate({ method: 'GET', path: path('DefaultCollection'), rawHeaders: [] }).allow).to.equal(true);
      expect(byDefault.evaluate({ method: 'GET', path: path('defaultcollection'), rawHeaders: [] }).allow).to.equal(true);
      const other = byDefault.evaluate({ method: 'GET', path: path('OtherCollection'), rawHeaders: [] });
      expect(other.allow).to.equal(false);
      if (!other.allow) expect(other.reason).to.match(/collection "OtherCollection" is not in allowed-collections/);
      // Global and cross-project rules name a collection too.
      expect(byDefault.evaluate({ method: 'GET', path: '/OtherCollection/_apis/connectionData', rawHeaders: [] }).allow).to.equal(false);

      const configured = createVendorPolicy('azure_devops', { allowedCollections: ['Platform', 'Data Team'] });
      expect(configured.evaluate({ method: 'GET', path: path('platform'), rawHeaders: [] }).allow).to.equal(true);
      expect(configured.evaluate({ method: 'GET', path: path('Data%20Team'), rawHeaders: [] }).allow).to.equal(true);
      expect(configured.evaluate({ method: 'GET', path: path('DefaultCollection'), rawHeaders: [] }).allow).to.equal(false);
    });

    it('rejects invalid allowed-collections naming the option', () => {
      for (const bad of [[], [''], ['a/b'], ['_apis']]) {
        expect(() => createVendorPolicy('azure_devops', { allowedCollections: bad }))
          .to.throw(InvalidOptionError, /allowed-collections/)
          .with.property('option', 'allowed-collections');
      }
    });
  });

  describe('GitHub Enterprise compares', () => {
    const policy = createVendorPolicy('github_enterprise', { allowedProjects: 'acme/infra' });
    it('checks every repository of a two-dot or three-dot compare', () => {
      for (const basehead of [
        'main..evil:secrets:main',
        'acme:infra:main..evil:secrets:main',
        'acme:infra:main...evil:secrets:main',
        'evil:secrets:main..main',
        'main...acme:infra:x...evil:secrets:y',
        'main..evil:main',
      ]) {
        const decision = policy.evaluate({ method: 'GET', path: `/api/v3/repos/acme/infra/compare/${basehead}`, rawHeaders: [] });
        expect(decision.allow, basehead).to.equal(false);
      }
      for (const basehead of ['main..feature', 'main...feature', 'acme:infra:main..acme:infra:feature']) {
        expect(policy.evaluate({ method: 'GET', path: `/api/v3/repos/acme/infra/compare/${basehead}`, rawHeaders: [] }).allow, basehead).to.equal(true);
      }
    });
  });

  describe('encoded slashes in global and cross-project rules', () => {
    it('are refused like in project rules, any case', () => {
      const cases: Array<[Parameters<typeof createVendorPolicy>[0], string]> = [
        ['bitbucket_datacenter', '/rest/api/1.0/users/a%2F..%2Fadmin'],
        ['bitbucket_datacenter', '/rest/api/1.0/users/a%2fb'],
        ['bitbucket_datacenter', '/rest/build-status/1.0/commits/abc%2Fdef'],
        ['azure_devops', '/DefaultCollection%2FOther/_apis/connectionData'],
        ['azure_devops', '/DefaultCollection/_apis/git%2Frepositories'],
        ['azure_devops', '/DefaultCollection/acme%2fteam/_apis/git/repositories?api-version=7.1'],
      ];
      for (const [vendor, path] of cases) {
        const decision = createVendorPolicy(vendor).evaluate({ method: 'GET', path, rawHeaders: [] });
        expect(decision.allow, path).to.equal(false);
      }
      expect(createVendorPolicy('bitbucket_datacenter').evaluate({ method: 'GET', path: '/rest/api/1.0/users/a%2Fb', rawHeaders: [] })).to.deep.include({
        allow: false,
        reason: "an encoded '/' or '\\' is not allowed in the path of a global rule",
      });
      expect(createVendorPolicy('bitbucket_datacenter').evaluate({ method: 'GET', path: '/rest/api/1.0/users/jdoe', rawHeaders: [] }).allow).to.equal(true);
    });

    it('let a trailing *name span real segments, and still refuse an encoded slash among them', () => {
      const vendor = defineVendor({ name: 'tails', rules: [{ method: 'GET', path: '/files/*rest', description: 'Get a file', scope: 'global' }] });
      const policy = createVendorPolicy(vendor);
      expect(policy.evaluate({ method: 'GET', path: '/files/a/b/c', rawHeaders: [] })).to.include({ allow: true });
      expect(policy.evaluate({ method: 'GET', path: '/files/a/b%2Fc', rawHeaders: [] })).to.deep.include({ allow: false, reason: "an encoded '/' or '\\' is not allowed in the path of a global rule" });
      expect(policy.evaluate({ method: 'GET', path: '/files/a/b%5cc', rawHeaders: [] }).allow).to.equal(false);
    });
  });

  describe('repeated singleton headers', () => {
    it('are refused, whichever value a check would read', () => {
      const policy = createVendorPolicy('gitlab');
      for (const name of ['Content-Type', 'content-length', 'Host', 'Authorization', 'Private-Token', 'Transfer-Encoding']) {
        const decision = policy.evaluate({ method: 'GET', path: '/api/v4/user', rawHeaders: [name, 'a', name.toLowerCase(), 'b'] });
        expect(decision.allow, name).to.equal(false);
        if (!decision.allow) expect(decision.reason).to.equal(`request repeats the header "${name.toLowerCase()}", which may appear only once`);
      }
      const post = policy.evaluate({
        method: 'POST',
        path: '/api/v4/projects/g%2Fr/hooks',
        rawHeaders: ['content-type', 'application/json', 'content-type', 'application/x-www-form-urlencoded'],
        hasBody: true,
      });
      expect(post.allow).to.equal(false);
      expect(post.allow === false && post.inspectBody).to.equal(undefined);
      // List-valued headers may repeat.
      expect(policy.evaluate({ method: 'GET', path: '/api/v4/user', rawHeaders: ['accept', 'a/b', 'accept', 'c/d'] }).allow).to.equal(true);
    });
  });

  describe('Bitbucket Data Center latest', () => {
    const policy = createVendorPolicy('bitbucket_datacenter', { allowedProjects: 'ACME/infra' });
    it('allows /rest/api/latest and /rest/build-status/latest like 1.0, and application-properties', () => {
      for (const version of ['1.0', 'latest']) {
        expect(policy.evaluate({ method: 'GET', path: `/rest/api/${version}/projects/ACME/repos/infra/browse/main.tf?at=main`, rawHeaders: [] })).to.deep.include({
          allow: true,
          description: 'Get file contents',
          project: 'ACME/infra',
        });
        expect(policy.evaluate({ method: 'GET', path: `/rest/api/${version}/application-properties`, rawHeaders: [] }).allow, version).to.equal(true);
        expect(policy.evaluate({ method: 'GET', path: `/rest/api/${version}/projects/EVIL/repos/x`, rawHeaders: [] }).allow).to.equal(false);
        const open = createVendorPolicy('bitbucket_datacenter');
        expect(open.evaluate({ method: 'POST', path: `/rest/build-status/${version}/commits/abc123`, rawHeaders: [] }).allow, version).to.equal(true);
      }
      expect(policy.evaluate({ method: 'GET', path: '/rest/api/2.0/projects/ACME/repos/infra', rawHeaders: [] }).allow).to.equal(false);
      expect(policy.evaluate({ method: 'GET', path: '/rest/api/Latest/projects/ACME/repos/infra', rawHeaders: [] }).allow).to.equal(false);
    });
  });
});
