import { expect } from 'chai';
import { defineVendor, createVendorPolicy, gitlab, InvalidVendorError, type VendorDefinition, type VendorRule } from '../../lib/vendors/index.js';

const base = defineVendor({
  name: 'forge',
  rules: [
    { method: 'GET', path: '/api/repos/:owner/:repo', description: 'Get a repository' },
    { method: 'GET', path: '/api/repos/:owner/:repo/raw/*path', description: 'Get a raw file' },
    { method: 'GET', path: '/api/me', description: 'Get the user', scope: 'global' },
  ],
  params: { owner: '[a-z0-9-]+' },
  project: (p) => (p.owner && p.repo ? { path: `${p.owner}/${p.repo}` } : undefined),
});

function invalid(make: () => unknown): InvalidVendorError {
  try {
    make();
  } catch (error) {
    expect(error).to.be.instanceOf(InvalidVendorError);
    expect((error as InvalidVendorError).code).to.equal('VCS_INVALID_VENDOR');
    return error as InvalidVendorError;
  }
  throw new Error('expected an InvalidVendorError');
}

describe('defineVendor', function () {
  it('builds a vendor whose policy matches params, tails and constraints', function () {
    const policy = createVendorPolicy(base);
    expect(policy.name).to.equal('forge');
    expect(policy.evaluate({ method: 'GET', path: '/api/repos/acme/infra', rawHeaders: [] })).to.deep.equal({
      allow: true,
      description: 'Get a repository',
      rule: 'GET /api/repos/:owner/:repo',
      project: 'acme/infra',
    });
    expect(policy.evaluate({ method: 'GET', path: '/api/repos/acme/infra/raw/a/b/c.tf', rawHeaders: [] })).to.include({ allow: true, description: 'Get a raw file' });
    expect(policy.evaluate({ method: 'GET', path: '/api/repos/acme/infra/raw', rawHeaders: [] }).allow).to.equal(false);
    expect(policy.evaluate({ method: 'GET', path: '/api/repos/ACME/infra', rawHeaders: [] }).allow).to.equal(false);
    expect(policy.evaluate({ method: 'GET', path: '/api/me', rawHeaders: [] })).to.include({ allow: true });
  });

  it('extends a built-in: adds rules, drops rules, keeps hooks and params', function () {
    const custom = defineVendor({
      name: 'gitlab-custom',
      extends: gitlab,
      without: ['DELETE /api/v4/projects/:project/hooks/:hook_id'],
      rules: [{ method: 'GET', path: '/api/v4/projects/:project/pipelines', description: 'List pipelines' }],
    });
    const policy = createVendorPolicy(custom, { allowedProjects: 'acme/.*' });
    expect(policy.evaluate({ method: 'GET', path: '/api/v4/projects/acme%2Finfra/pipelines', rawHeaders: [] })).to.include({
      allow: true,
      project: 'acme/infra',
    });
    expect(policy.evaluate({ method: 'GET', path: '/api/v4/projects/evil%2Finfra/pipelines', rawHeaders: [] }).allow).to.equal(false);
    expect(policy.evaluate({ method: 'GET', path: '/api/v4/projects/42/pipelines', rawHeaders: [] }).allow).to.equal(false);
    expect(policy.evaluate({ method: 'DELETE', path: '/api/v4/projects/acme%2Finfra/hooks/1', rawHeaders: [] }).allow).to.equal(false);
    expect(Object.isFrozen(custom)).to.equal(true);
  });

  it('accepts extra rules through createVendorPolicy', function () {
    const extraRules: VendorRule[] = [{ method: 'GET', path: '/api/v4/projects/:project/pipelines', description: 'List pipelines' }];
    const policy = createVendorPolicy('gitlab', { extraRules });
    expect(policy.evaluate({ method: 'GET', path: '/api/v4/projects/a%2Fb/pipelines', rawHeaders: [] })).to.include({ allow: true });
  });

  it('rejects malformed definitions naming the field at fault', function () {
    const rule = (r: Partial<VendorRule>) => ({ method: 'GET', path: '/api/x', description: 'x', ...r }) as VendorRule;
    const cases: ReadonlyArray<readonly [string, () => unknown]> = [
      ['name', () => defineVendor({ name: 'Bad Name', rules: [] })],
      ['rules[0].method', () => defineVendor({ name: 'v', rules: [rule({ method: 'get' as 'GET' })] })],
      ['rules[0].method', () => defineVendor({ name: 'v', rules: [rule({ method: 'TRACE' as 'GET' })] })],
      ['rules[0].description', () => defineVendor({ name: 'v', rules: [rule({ description: '' })] })],
      ['rules[0].description', () => defineVendor({ name: 'v', rules: [rule({ description: 'a\nb' })] })],
      ['rules[0].scope', () => defineVendor({ name: 'v', rules: [rule({ scope: 'everything' as 'global' })] })],
      ['rules[0].path', () => defineVendor({ name: 'v', rules: [rule({ path: 'api/x' })] })],
      ['rules[0].path', () => defineVendor({ name: 'v', rules: [rule({ path: '/api//x' })] })],
      ['rules[0].path', () => defineVendor({ name: 'v', rules: [rule({ path: '/api/../x' })] })],
      ['rules[0].path', () => defineVendor({ name: 'v', rules: [rule({ path: '/api/x;y' })] })],
      ['rules[0].path', () => defineVendor({ name: 'v', rules: [rule({ path: '/api/%2e' })] })],
      ['rules[0].path', () => defineVendor({ name: 'v', rules: [rule({ path: '/:a/*b' })] })],
      ['rules[0].path', () => defineVendor({ name: 'v', rules: [rule({ path: '/api/*rest/x/*more' })] })],
      ['rules[0].path', () => defineVendor({ name: 'v', rules: [rule({ path: '/api/:a/:a' })] })],
      ['rules[0].path', () => defineVendor({ name: 'v', rules: [rule({ path: '/api/:' })] })],
      ['rules[1]', () => defineVendor({ name: 'v', rules: [rule({}), rule({})] })],
      ['params.x', () => defineVendor({ name: 'v', rules: [rule({})], params: { x: '(' } })],
      ['without[0]', () => defineVendor({ name: 'v', extends: base, without: ['GET /nope'] })],
      ['project', () => defineVendor({ name: 'v', rules: [], project: 'x' as unknown as VendorDefinition['project'] })],
    ];
    for (const [field, make] of cases) {
      const error = invalid(make);
      expect(error.field, field).to.equal(field);
      expect(error.message).to.include(field.split('.')[0]!.replace(/\[.*/, ''));
    }
  });

  it('createVendorPolicy rejects unknown vendor names', function () {
    const error = invalid(() => createVendorPolicy('gitea' as 'gitlab'));
    expect(error.message).to.match(/gitlab, github_enterprise, azure_devops, bitbucket_datacenter/);
  });

  it('denies, never throws, when a vendor hook fails or the request is malformed', function () {
    const throwing = defineVendor({
      name: 'broken',
      extends: base,
      check: () => {
        throw new Error('boom');
      },
    });
    const policy = createVendorPolicy(throwing);
    expect(policy.evaluate({ method: 'GET', path: '/api/repos/a/b', rawHeaders: [] })).to.deep.equal({
      allow: false,
      reason: 'the request could not be evaluated',
    });
    const weird = { method: 'GET', path: 42, rawHeaders: null } as unknown as Parameters<typeof policy.evaluate>[0];
    expect(createVendorPolicy(base).evaluate(weird).allow).to.equal(false);
  });

  it('a project-scoped rule without a project hook denies (fail closed)', function () {
    const v = defineVendor({ name: 'noproj', rules: [{ method: 'GET', path: '/api/:thing', description: 'Thing' }] });
    const decision = createVendorPolicy(v).evaluate({ method: 'GET', path: '/api/x', rawHeaders: [] });
    expect(decision.allow).to.equal(false);
  });
});
