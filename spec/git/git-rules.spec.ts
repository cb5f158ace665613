import { expect } from 'chai';
import { createVendorPolicy, defineVendor, gitlab, InvalidVendorError, type VendorName } from '../../lib/vendors/index.js';
import { GIT_INFO_REFS_DESCRIPTION, GIT_UPLOAD_PACK_DESCRIPTION, withGitSmartHttp } from '../../lib/vendors/git-smart-http.js';
import type { PolicyDecision } from '../../lib/policy/request-policy.js';

const UPLOAD = ['Content-Type', 'application/x-git-upload-pack-request'];

interface Shape {
  /** A repository URL of the vendor and the project it names. */
  readonly repo: string;
  readonly project: string;
  /** allowed-projects that does not include it. */
  readonly other: string;
  /** URLs that look close but name no repository git can use. */
  readonly wrong: readonly string[];
}

const SHAPES: Record<VendorName, Shape> = {
  gitlab: {
    repo: '/platform/infra/network.git',
    project: 'platform/infra/network',
    other: 'platform/other',
    wrong: ['/network.git', '/platform/network', '/platform%2Fnetwork.git', '/platform/-/network.git', '/platform/.hidden.git'],
  },
  github_enterprise: {
    repo: '/acme/infra.git',
    project: 'acme/infra',
    other: 'acme/other',
    wrong: ['/acme/infra', '/infra.git', '/acme/sub/infra.git', '/acme/in%2Ffra.git'],
  },
  bitbucket_datacenter: {
    repo: '/scm/PRJ/infra.git',
    project: 'PRJ/infra',
    other: 'PRJ/other',
    wrong: ['/scm/PRJ/infra', '/PRJ/infra.git', '/scm/PRJ/sub/infra.git', '/scm/P%52J/infra.git'],
  },
  azure_devops: {
    repo: '/DefaultCollection/Platform%20Team/_git/infra',
    project: 'Platform Team/infra',
    other: 'platform team/other',
    wrong: ['/DefaultCollection/_git/infra', '/DefaultCollection/P/_git/in%2Ffra', '/DefaultCollection/P/git/infra', '/_apis/P/_git/infra'],
  },
};

function evaluate(vendor: VendorName, method: string, path: string, rawHeaders: readonly string[] = [], options: { allowedProjects?: string; allowedCollections?: string[]; hasBody?: boolean } = {}): PolicyDecision {
  const policy = createVendorPolicy(vendor, {
    ...(options.allowedProjects === undefined ? {} : { allowedProjects: options.allowedProjects }),
    ...(options.allowedCollections === undefined ? {} : { allowedCollections: options.allowedCollections }),
  });
  return policy.evaluate({ method, path, rawHeaders, hasBody: options.hasBody ?? method === 'POST' });
}

function reason(decision: PolicyDecision): string {
  expect(decision.allow, JSON.stringify(decision)).to.equal(false);
  return decision.allow ? '' : decision.reason;
}

for (const [vendor, shape] of Object.entries(SHAPES) as Array<[VendorName, Shape]>) {
  describe(`git smart HTTP rules: ${vendor}`, function () {
    const refs = `${shape.repo}/info/refs?service=git-upload-pack`;
    const pack = `${shape.repo}/git-upload-pack`;

    it('allows info/refs and git-upload-pack for an allowed repository, naming the project', function () {
      expect(evaluate(vendor, 'GET', refs, [], { allowedProjects: shape.project })).to.include({ allow: true, project: shape.project, description: GIT_INFO_REFS_DESCRIPTION });
      expect(evaluate(vendor, 'POST', pack, UPLOAD, { allowedProjects: shape.project })).to.include({ allow: true, project: shape.project, description: GIT_UPLOAD_PACK_DESCRIPTION });
    });

    it('passes protocol v2 and gzip bodies', function () {
      expect(evaluate(vendor, 'GET', refs, ['Git-Protocol', 'version=2'])).to.include({ allow: true });
      expect(evaluate(vendor, 'POST', pack, [...UPLOAD, 'Content-Encoding', 'gzip', 'Git-Protocol', 'version=2'])).to.include({ allow: true });
    });

    it('denies a repository outside allowed-projects', function () {
      expect(reason(evaluate(vendor, 'GET', refs, [], { allowedProjects: shape.other }))).to.match(/not in allowed-projects/);
      expect(reason(evaluate(vendor, 'POST', pack, UPLOAD, { allowedProjects: shape.other }))).to.match(/not in allowed-projects/);
    });

    it('denies pushes with a reason, both requests', function () {
      expect(reason(evaluate(vendor, 'GET', `${shape.repo}/info/refs?service=git-receive-pack`))).to.match(/git push .* never allowed/);
      expect(reason(evaluate(vendor, 'POST', `${shape.repo}/git-receive-pack`, ['Content-Type', 'application/x-git-receive-pack-request']))).to.match(/git push .* never allowed/);
    });

    it('requires service=git-upload-pack exactly, once and alone', function () {
      for (const query of ['', '?service=git-upload-pack&service=git-receive-pack', '?service=git-upload-pack&service=git-upload-pack', '?Service=git-upload-pack', '?service=git-upload-pack+', '?service=git-upload-pack&x=1', '?service=upload-pack']) {
        expect(reason(evaluate(vendor, 'GET', `${shape.repo}/info/refs${query}`)), query).to.match(/service=git-upload-pack/);
      }
    });

    it('denies upload-pack bodies git does not send', function () {
      expect(reason(evaluate(vendor, 'POST', pack, []))).to.match(/Content-Type application\/x-git-upload-pack-request/);
      expect(reason(evaluate(vendor, 'POST', pack, ['Content-Type', 'application/json']))).to.match(/Content-Type/);
      expect(reason(evaluate(vendor, 'POST', pack, [...UPLOAD, ...UPLOAD]))).to.match(/content-type/i);
      expect(reason(evaluate(vendor, 'POST', pack, [...UPLOAD, 'Content-Encoding', 'br']))).to.match(/gzip/);
      expect(reason(evaluate(vendor, 'POST', `${pack}?x=1`, UPLOAD))).to.match(/no query/);
      expect(reason(evaluate(vendor, 'POST', pack, [...UPLOAD, 'Git-Protocol', 'version=2', 'Git-Protocol', 'version=1']))).to.match(/one Git-Protocol/);
      expect(reason(evaluate(vendor, 'GET', refs, ['Git-Protocol', 'version=2 x']))).to.match(/malformed/);
      expect(reason(evaluate(vendor, 'GET', refs, [], { hasBody: true }))).to.match(/no body/);
    });

    it('allows no other git request (dumb HTTP, other methods, other paths)', function () {
      for (const [method, path] of [
        ['GET', `${shape.repo}/HEAD`],
        ['GET', `${shape.repo}/objects/info/packs`],
        ['POST', `${shape.repo}/info/refs?service=git-upload-pack`],
        ['GET', `${shape.repo}/git-upload-pack`],
        ['PUT', pack],
        ['POST', `${shape.repo}/info/lfs/objects/batch`],
      ] as const) {
        expect(reason(evaluate(vendor, method, path, UPLOAD)), `${method} ${path}`).to.match(/no \w+ rule allows/);
      }
    });

    it('denies URLs that do not name a repository the way the vendor does', function () {
      for (const repo of shape.wrong) {
        expect(evaluate(vendor, 'GET', `${repo}/info/refs?service=git-upload-pack`).allow, repo).to.equal(false);
      }
    });
  });
}

describe('git smart HTTP rules: vendor specifics', function () {
  it('gitlab: git bodies skip the JSON-only check, API bodies still get it', function () {
    expect(evaluate('gitlab', 'POST', '/g/r.git/git-upload-pack', UPLOAD)).to.include({ allow: true });
    expect(reason(evaluate('gitlab', 'POST', '/api/v4/projects/g%2Fr/hooks', ['Content-Type', 'application/x-www-form-urlencoded']))).to.match(/application\/json/);
  });

  it('gitlab: a personal project (user/repo) and deep groups are projects', function () {
    expect(evaluate('gitlab', 'GET', '/alice/dotfiles.git/info/refs?service=git-upload-pack', [], { allowedProjects: 'alice/dotfiles' })).to.include({ allow: true, project: 'alice/dotfiles' });
    expect(evaluate('gitlab', 'GET', '/a/b/c/d/e.git/info/refs?service=git-upload-pack', [], { allowedProjects: 'a/.*' })).to.include({ allow: true, project: 'a/b/c/d/e' });
  });

  it('bitbucket_datacenter: personal projects (~user) and case-insensitive keys', function () {
    expect(evaluate('bitbucket_datacenter', 'GET', '/scm/~alice/dotfiles.git/info/refs?service=git-upload-pack', [], { allowedProjects: '~alice/dotfiles' })).to.include({ allow: true });
    expect(evaluate('bitbucket_datacenter', 'GET', '/scm/prj/infra.git/info/refs?service=git-upload-pack', [], { allowedProjects: 'PRJ/infra' })).to.include({ allow: true, project: 'prj/infra' });
  });

  it('azure_devops: no api-version needed, paths case-insensitive, id-named repositories denied when restricted', function () {
    expect(evaluate('azure_devops', 'GET', '/DefaultCollection/P/_GIT/r/INFO/refs?service=git-upload-pack')).to.include({ allow: true, project: 'P/r' });
    const guid = '4c2b3f1e-9a0b-4c1d-8e2f-0123456789ab';
    expect(evaluate('azure_devops', 'GET', `/DefaultCollection/P/_git/${guid}/info/refs?service=git-upload-pack`).allow).to.equal(true);
    expect(reason(evaluate('azure_devops', 'GET', `/DefaultCollection/P/_git/${guid}/info/refs?service=git-upload-pack`, [], { allowedProjects: 'p/.*' }))).to.match(/by id/);
  });

  it('azure_devops: git URLs are held to allowed-collections like API paths', function () {
    expect(reason(evaluate('azure_devops', 'GET', '/Other/P/_git/r/info/refs?service=git-upload-pack'))).to.match(/collection "Other" is not in allowed-collections/);
    expect(reason(evaluate('azure_devops', 'POST', '/Other/P/_git/r/git-upload-pack', ['Content-Type', 'application/x-git-upload-pack-request']))).to.match(/allowed-collections/);
    expect(evaluate('azure_devops', 'GET', '/Other/P/_git/r/info/refs?service=git-upload-pack', [], { allowedCollections: ['other'] })).to.include({ allow: true });
  });

  it('API rules keep their own project hooks and checks', function () {
    expect(evaluate('gitlab', 'GET', '/api/v4/projects/g%2Fr', [], { allowedProjects: 'g/r' })).to.include({ allow: true, project: 'g/r' });
    expect(reason(evaluate('azure_devops', 'GET', '/DefaultCollection/P/_apis/git/repositories/r'))).to.match(/api-version/);
    expect(reason(evaluate('github_enterprise', 'GET', '/api/v3/repos/acme/infra/compare/main...evil:secrets:main', [], { allowedProjects: 'acme/infra' }))).to.match(/evil\/secrets/);
  });

  it('defineVendor({ extends }) of a built-in keeps the git rules, and `without` can drop them', function () {
    const readOnly = defineVendor({ name: 'gitlab-no-git', extends: gitlab, without: ['GET /*git_repository/info/refs', 'POST /*git_repository/git-upload-pack'] });
    expect(createVendorPolicy(readOnly).evaluate({ method: 'GET', path: '/g/r.git/info/refs?service=git-upload-pack', rawHeaders: [] }).allow).to.equal(false);
    expect(createVendorPolicy(defineVendor({ name: 'gitlab-copy', extends: gitlab })).evaluate({ method: 'GET', path: '/g/r.git/info/refs?service=git-upload-pack', rawHeaders: [] }).allow).to.equal(true);
  });

  it('withGitSmartHttp refuses parameter names that could meet the API ones', function () {
    const base = defineVendor({ name: 'forge', rules: [{ method: 'GET', path: '/api/me', description: 'Me', scope: 'global' }] });
    expect(() => withGitSmartHttp(base, { repository: '/:owner/:repo', params: {}, project: () => undefined })).to.throw(InvalidVendorError, /must start with "git_"/);
  });
});
