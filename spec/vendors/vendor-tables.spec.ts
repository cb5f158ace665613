import { expect } from 'chai';
import { createVendorPolicy, type VendorName } from '../../lib/vendors/index.js';

type Row = readonly [method: string, path: string, expected: string | RegExp];
interface Table {
  readonly allowed: readonly Row[];
  readonly denied: readonly Row[];
}

const SHA = '0123456789abcdef0123456789abcdef01234567';

/* `expected`: the rule description for allowed rows, a pattern of the reason for denied rows. */
const TABLES: Record<VendorName, Table> = {
  gitlab: {
    allowed: [
      ['GET', '/api/v4/user', "Get the token's user"],
      ['GET', '/api/v4/projects/group%2Fsub%2Frepo', 'Get a project'],
      ['GET', '/api/v4/projects/Group%2fRepo', 'Get a project'],
      ['GET', '/api/v4/projects/g%2Fr/repository/files/src%2Fmain.tf/raw?ref=main', 'Get a raw file'],
      ['GET', '/api/v4/projects/g%2Fr/repository/files/docs%2Fmy%20file.md?ref=main', 'Get file contents'],
      ['GET', '/api/v4/projects/g%2Fr/repository/archive.zip?sha=main', 'Download a repository archive (zip)'],
      ['GET', '/api/v4/projects/g%2Fr/repository/compare?from=a&to=b', 'Compare branches, tags or commits'],
      ['POST', `/api/v4/projects/g%2Fr/statuses/${SHA}`, 'Create a commit status'],
      ['POST', '/api/v4/projects/g%2Fr/repository/commits', 'Create a commit'],
      ['PUT', '/api/v4/projects/g%2Fr/merge_requests/3/notes/9', 'Update a merge request comment'],
      ['DELETE', '/api/v4/projects/g%2Fr/hooks/12', 'Delete a project webhook'],
    ],
    denied: [
      ['GET', '/api/v4/projects/g%2Fr/repository/commits/abc/diff', /no gitlab rule/],
      ['GET', '/api/v4/projects/g%2Fr/variables', /no gitlab rule/],
      ['GET', '/api/v4/users', /no gitlab rule/],
      ['GET', '/api/v4/search?scope=projects&search=x', /no gitlab rule/],
      ['PUT', '/api/v4/projects/g%2Fr/repository/commits', /no gitlab rule/],
      ['DELETE', '/api/v4/projects/g%2Fr', /no gitlab rule/],
      ['GET', '/api/v4/projects/g%2Fr/merge_requests/abc', /no gitlab rule/],
      ['GET', '/api/v4/projects/justone', /no gitlab rule/],
      ['GET', '/api/v4/projects/g%2Fr?sudo=root', /sudo/],
      ['GET', '/api/v4/projects/g%2Fr/hooks?_method=DELETE', /_method/],
      ['POST', '/api/graphql', /no gitlab rule/],
      ['GET', '/API/V4/user', /no gitlab rule/],
    ],
  },
  github_enterprise: {
    allowed: [
      ['GET', '/api/v3/user', "Get the token's user"],
      ['GET', '/api/v3/repos/acme/infra', 'Get a repository'],
      ['GET', '/api/v3/repos/acme/infra/contents/stacks/prod/main.tf?ref=main', 'Get file contents'],
      ['GET', '/api/v3/repos/acme/infra/contents/stacks%2Fprod%2Fmain.tf', 'Get file contents'],
      ['GET', '/api/v3/repos/acme/infra/tarball/refs/heads/main', 'Download a repository archive (tar)'],
      ['GET', '/api/v3/repos/acme/infra/compare/main...feature', 'Compare two commits'],
      ['POST', '/api/v3/repos/acme/infra/check-runs', 'Create a check run'],
      ['PATCH', '/api/v3/repos/acme/infra/hooks/3', 'Update a repository webhook'],
    ],
    denied: [
      ['POST', '/api/graphql', /no github_enterprise rule/],
      ['GET', '/api/v3/search/code?q=password', /no github_enterprise rule/],
      ['GET', '/api/v3/repositories/1296269', /no github_enterprise rule/],
      ['GET', '/api/v3/repos/acme/infra/actions/secrets', /no github_enterprise rule/],
      ['PUT', '/api/v3/repos/acme/infra/contents/x.tf', /no github_enterprise rule/],
      ['DELETE', '/api/v3/repos/acme/infra', /no github_enterprise rule/],
      ['GET', '/api/v3/repos/acme/infra/collaborators', /no github_enterprise rule/],
      ['POST', '/api/v3/repos/acme/infra/statuses/main', /no github_enterprise rule/],
      ['GET', '/api/v3/repos/acme/infra/pulls/1x', /no github_enterprise rule/],
      ['GET', '/api/v3/user/keys', /no github_enterprise rule/],
    ],
  },
  bitbucket_datacenter: {
    allowed: [
      ['GET', '/plugins/servlet/applinks/whoami', "Get the token's user name"],
      ['GET', '/rest/api/1.0/projects/PRJ/repos/infra', 'Get a repository'],
      ['GET', '/rest/api/1.0/projects/~alice/repos/dotfiles/browse/README.md?at=main', 'Get file contents'],
      ['GET', '/rest/api/1.0/projects/PRJ/repos/infra/raw/stacks/prod/main.tf?at=refs%2Fheads%2Fmain', 'Get a raw file'],
      ['GET', '/rest/api/1.0/projects/PRJ/repos/infra/archive?format=tgz&at=main', 'Download a repository archive'],
      ['GET', '/rest/api/1.0/projects/PRJ/repos/infra/compare/changes?from=a&to=b', 'Compare changes'],
      ['POST', '/rest/api/1.0/projects/PRJ/repos/infra/pull-requests/4/comments', 'Create a pull request comment'],
      ['POST', `/rest/build-status/1.0/commits/${SHA}`, 'Create a build status (legacy, not repository-scoped)'],
      ['DELETE', '/rest/api/1.0/projects/PRJ/repos/infra/webhooks/8', 'Delete a repository webhook'],
    ],
    denied: [
      ['GET', '/rest/api/1.0/admin/users', /no bitbucket_datacenter rule/],
      ['GET', '/rest/api/1.0/projects/PRJ/repos/infra/permissions/users', /no bitbucket_datacenter rule/],
      ['POST', '/rest/api/1.0/projects/PRJ/repos', /no bitbucket_datacenter rule/],
      ['DELETE', '/rest/api/1.0/projects/PRJ/repos/infra', /no bitbucket_datacenter rule/],
      ['GET', '/rest/api/1.0/projects/PRJ/repos/infra/settings/hooks', /no bitbucket_datacenter rule/],
      ['POST', '/rest/api/1.0/projects/PRJ/repos/infra/pull-requests/4/merge', /no bitbucket_datacenter rule/],
      ['GET', '/rest/api/1.0/projects/PRJ/repos/infra;jsessionid=x/browse', /';'/],
    ],
  },
  azure_devops: {
    allowed: [
      ['GET', '/DefaultCollection/_apis/connectionData', "Get the token's user (connection data)"],
      ['OPTIONS', '/DefaultCollection/_apis/git', 'Discover API resource locations'],
      ['GET', '/DefaultCollection/Platform%20Team/_apis/git/repositories/infra?api-version=7.1', 'Get a repository'],
      [
        'GET',
        '/DefaultCollection/Platform%20Team/_apis/git/repositories/infra/items?path=%2Fmain.tf&api-version=7.1',
        'Get file contents or download an archive',
      ],
      ['GET', '/DefaultCollection/P/_apis/git/repositories/r/pullrequests/3/threads?api-version=7.1', 'List pull request comment threads'],
      ['GET', '/DefaultCollection/P/_apis/git/repositories/r/pullRequests/3/threads?api-version=7.1', 'List pull request comment threads'],
      ['POST', `/DefaultCollection/P/_apis/git/repositories/r/commits/${SHA}/statuses?api-version=7.1`, 'Create a commit status'],
      ['POST', '/DefaultCollection/_apis/hooks/subscriptions?api-version=7.1', 'Create a webhook (service hook subscription)'],
    ],
    denied: [
      ['GET', '/DefaultCollection/P/_apis/git/repositories/r', /api-version/],
      ['OPTIONS', '/DefaultCollection/_apis/build', /no azure_devops rule/],
      ['GET', '/DefaultCollection/P/_apis/build/builds?api-version=7.1', /no azure_devops rule/],
      ['GET', '/DefaultCollection/P/_apis/distributedtask/variablegroups?api-version=7.1', /no azure_devops rule/],
      ['DELETE', '/DefaultCollection/P/_apis/git/repositories/r?api-version=7.1', /no azure_devops rule/],
      ['POST', '/DefaultCollection/P/_apis/git/repositories/r/pushes?api-version=7.1', /no azure_devops rule/],
      ['GET', '/DefaultCollection/_apis/git/repositories/r?api-version=7.1', /no azure_devops rule/],
      ['GET', '/_apis/projects?api-version=7.1', /no azure_devops rule/],
    ],
  },
};

for (const [vendor, table] of Object.entries(TABLES) as Array<[VendorName, Table]>) {
  describe(`${vendor} rule table`, function () {
    const policy = createVendorPolicy(vendor);
    for (const [method, path, description] of table.allowed) {
      it(`allows ${method} ${path}`, function () {
        const decision = policy.evaluate({ method, path, rawHeaders: [], hasBody: false });
        expect(decision, JSON.stringify(decision)).to.include({ allow: true, description });
      });
    }
    for (const [method, path, reason] of table.denied) {
      it(`denies ${method} ${path}`, function () {
        const decision = policy.evaluate({ method, path, rawHeaders: [] });
        expect(decision.allow).to.equal(false);
        if (!decision.allow) expect(decision.reason).to.match(reason as RegExp);
      });
    }
  });
}

describe('allowed-projects per vendor', function () {
  const cases: ReadonlyArray<readonly [VendorName, string, string, string | undefined]> = [
    ['gitlab', 'acme/.*', '/api/v4/projects/ACME%2Fsub%2Frepo', 'ACME/sub/repo'],
    ['github_enterprise', 'acme/infra', '/api/v3/repos/Acme/Infra/pulls', 'Acme/Infra'],
    ['bitbucket_datacenter', 'prj/infra', '/rest/api/1.0/projects/PRJ/repos/infra/commits', 'PRJ/infra'],
    ['azure_devops', 'platform team/infra', '/DefaultCollection/Platform%20Team/_apis/git/repositories/infra/refs?api-version=7.1', 'Platform Team/infra'],
  ];
  for (const [vendor, pattern, path, project] of cases) {
    it(`${vendor}: matches the canonical project case-insensitively and reports it`, function () {
      const decision = createVendorPolicy(vendor, { allowedProjects: pattern }).evaluate({ method: 'GET', path, rawHeaders: [] });
      expect(decision).to.include({ allow: true, project });
    });
    it(`${vendor}: denies other projects and reports the project`, function () {
      const decision = createVendorPolicy(vendor, { allowedProjects: 'nothing/here' }).evaluate({ method: 'GET', path, rawHeaders: [] });
      expect(decision).to.include({ allow: false, project });
    });
  }

  it('whole-match: a prefix or suffix of the pattern is not enough', function () {
    const policy = createVendorPolicy('github_enterprise', { allowedProjects: 'acme/infra' });
    for (const path of ['/api/v3/repos/acme/infra2', '/api/v3/repos/xacme/infra', '/api/v3/repos/acme/infra.git']) {
      expect(policy.evaluate({ method: 'GET', path, rawHeaders: [] }).allow, path).to.equal(false);
    }
  });

  it('denies id-named and unscoped requests only when allowed-projects is set', function () {
    const requests: ReadonlyArray<readonly [VendorName, string, string]> = [
      ['gitlab', 'GET', '/api/v4/projects/42'],
      ['gitlab', 'GET', '/api/v4/projects'],
      ['github_enterprise', 'GET', '/api/v3/user/repos'],
      ['bitbucket_datacenter', 'GET', '/rest/api/1.0/repos'],
      ['bitbucket_datacenter', 'GET', `/rest/build-status/1.0/commits/${SHA}`],
      ['azure_devops', 'GET', '/DefaultCollection/_apis/projects?api-version=7.1'],
      ['azure_devops', 'GET', '/DefaultCollection/4c2b3f1e-9a0b-4c1d-8e2f-0123456789ab/_apis/git/repositories/infra?api-version=7.1'],
      ['azure_devops', 'GET', '/DefaultCollection/P/_apis/git/repositories/4c2b3f1e-9a0b-4c1d-8e2f-0123456789ab?api-version=7.1'],
      ['azure_devops', 'DELETE', '/DefaultCollection/_apis/hooks/subscriptions/4c2b3f1e-9a0b-4c1d-8e2f-0123456789ab?api-version=7.1'],
    ];
    for (const [vendor, method, path] of requests) {
      expect(createVendorPolicy(vendor).evaluate({ method, path, rawHeaders: [] }).allow, `${vendor} ${path} with .*`).to.equal(true);
      const decision = createVendorPolicy(vendor, { allowedProjects: '.+/.+' }).evaluate({ method, path, rawHeaders: [] });
      expect(decision.allow, `${vendor} ${path} restricted`).to.equal(false);
      if (!decision.allow) expect(decision.reason).to.match(/allowed-projects/);
    }
  });

  it("keeps requests about no project (the token's user) allowed when restricted", function () {
    const decision = createVendorPolicy('gitlab', { allowedProjects: 'a/b' }).evaluate({ method: 'GET', path: '/api/v4/user', rawHeaders: [] });
    expect(decision).to.include({ allow: true });
  });

  it('checks query parameters and path parts that name another project', function () {
    const restricted: ReadonlyArray<readonly [VendorName, string]> = [
      ['gitlab', '/api/v4/projects/acme%2Finfra/repository/compare?from=a&to=b&from_project_id=99'],
      ['bitbucket_datacenter', '/rest/api/1.0/projects/ACME/repos/infra/compare/commits?from=a&to=b&fromRepo=EVIL/secrets'],
      ['bitbucket_datacenter', '/rest/api/1.0/projects/ACME/repos/infra/compare/commits?from=a&to=b&fromRepo=77'],
      ['github_enterprise', '/api/v3/repos/acme/infra/compare/main...evil:secrets:main'],
      ['github_enterprise', '/api/v3/repos/acme/infra/compare/main...evil:main'],
      ['azure_devops', '/DefaultCollection/acme/_apis/git/repositories/infra/pullrequests?searchCriteria.sourceRepositoryId=5f0c&api-version=7.1'],
      ['azure_devops', `/DefaultCollection/acme/_apis/git/repositories/infra/trees/${SHA}?projectId=5f0c&api-version=7.1`],
    ];
    for (const [vendor, path] of restricted) {
      const policy = createVendorPolicy(vendor, { allowedProjects: 'acme/infra' });
      const decision = policy.evaluate({ method: 'GET', path, rawHeaders: [] });
      expect(decision.allow, `${vendor} ${path}`).to.equal(false);
      const same = path.replace(/EVIL\/secrets/, 'ACME/infra').replace('evil:secrets:main', 'acme:infra:main');
      if (same !== path) expect(policy.evaluate({ method: 'GET', path: same, rawHeaders: [] }).allow, same).to.equal(true);
    }
  });
});

describe('vendor-specific request checks', function () {
  it('gitlab: denies form-encoded writes (Rack method override) and accepts JSON', function () {
    const policy = createVendorPolicy('gitlab');
    const path = '/api/v4/projects/g%2Fr/hooks';
    expect(policy.evaluate({ method: 'POST', path, rawHeaders: ['Content-Type', 'application/x-www-form-urlencoded'] }).allow).to.equal(false);
    expect(policy.evaluate({ method: 'POST', path, rawHeaders: ['content-type', 'multipart/form-data; boundary=x'] }).allow).to.equal(false);
    const json = policy.evaluate({ method: 'POST', path, rawHeaders: ['content-type', 'application/json'] });
    expect(json.allow === false && json.inspectBody?.decide(Buffer.from('{"url":"https://example.test/"}')).allow).to.equal(true);
  });

  it('denies method-override and Sudo headers for every vendor', function () {
    for (const header of ['X-HTTP-Method-Override', 'x-http-method', 'X-Method-Override', 'Sudo']) {
      const decision = createVendorPolicy('gitlab').evaluate({ method: 'GET', path: '/api/v4/user', rawHeaders: [header, 'DELETE'] });
      expect(decision.allow, header).to.equal(false);
    }
  });

  it('azure_devops: accepts api-version from the Accept header', function () {
    const decision = createVendorPolicy('azure_devops').evaluate({
      method: 'GET',
      path: '/DefaultCollection/P/_apis/git/repositories/r',
      rawHeaders: ['Accept', 'application/json;api-version=7.1'],
    });
    expect(decision).to.include({ allow: true });
  });
});
