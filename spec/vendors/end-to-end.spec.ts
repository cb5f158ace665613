import { expect } from 'chai';
import fc from 'fast-check';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { createVendorPolicy, type VendorName } from '../../lib/vendors/index.js';

interface E2ECase {
  readonly vendor: VendorName;
  readonly allowed: { method: string; path: string; headers?: Record<string, string>; body?: string };
  readonly denied: ReadonlyArray<{ method: string; path: string; headers?: Record<string, string> }>;
}

const SHA = '0123456789abcdef0123456789abcdef01234567';

const CASES: readonly E2ECase[] = [
  {
    vendor: 'gitlab',
    allowed: { method: 'GET', path: '/api/v4/projects/acme%2Finfra/repository/files/stacks%2Fmain.tf/raw?ref=main' },
    denied: [
      { method: 'GET', path: '/api/v4/projects/acme%2Finfra/variables' },
      { method: 'GET', path: '/api/v4/projects/other%2Fsecrets/repository/tree' },
      { method: 'GET', path: '/api/v4/projects/acme%2Finfra/%2e%2e/%2e%2e/admin' },
      { method: 'GET', path: '/api/v4/projects/acme%2Finfra', headers: { Sudo: 'root' } },
    ],
  },
  {
    vendor: 'github_enterprise',
    allowed: {
      method: 'POST',
      path: `/api/v3/repos/acme/infra/statuses/${SHA}`,
      headers: { 'content-type': 'application/json' },
      body: '{"state":"success"}',
    },
    denied: [
      { method: 'POST', path: '/api/graphql' },
      { method: 'GET', path: '/api/v3/repos/acme/infra/contents/..%2F..%2Fetc' },
    ],
  },
  {
    vendor: 'azure_devops',
    allowed: { method: 'GET', path: '/DefaultCollection/acme/_apis/git/repositories/infra/items?path=%2Fmain.tf&api-version=7.1' },
    denied: [
      { method: 'GET', path: '/DefaultCollection/acme/_apis/build/builds?api-version=7.1' },
      { method: 'DELETE', path: '/DefaultCollection/acme/_apis/git/repositories/infra?api-version=7.1' },
    ],
  },
  {
    vendor: 'bitbucket_datacenter',
    allowed: { method: 'GET', path: '/rest/api/1.0/projects/ACME/repos/infra/browse/stacks/main.tf?at=main' },
    denied: [
      { method: 'GET', path: '/rest/api/1.0/admin/users' },
      { method: 'GET', path: '/rest/api/1.0/projects/ACME/repos/infra;x=y/browse' },
      { method: 'GET', path: '/rest/api/1.0/projects/ACME/repos/infra/browse?at=main', headers: { 'X-HTTP-Method-Override': 'DELETE' } },
    ],
  },
];

describe('vendor policies end to end (gateway → agent → VCS)', function () {
  this.timeout(20_000);

  for (const c of CASES) {
    describe(c.vendor, function () {
      let harness: Harness;

      before(async function () {
        harness = await startHarness({ policy: createVendorPolicy(c.vendor, { allowedProjects: 'acme/infra' }) });
      });
      after(async function () {
        await harness?.close();
      });

      it(`forwards an allowed request byte for byte: ${c.allowed.method} ${c.allowed.path}`, async function () {
        const response = await harness.request(c.allowed.path, {
          method: c.allowed.method,
          headers: { ...c.allowed.headers, 'X-Forwarded-For': '203.0.113.9', Cookie: 'session=1' },
          ...(c.allowed.body === undefined ? {} : { body: c.allowed.body }),
        });
        expect(response.status).to.equal(200);
        expect(harness.vcsRequests).to.have.length(1);
        const seen = harness.vcsRequests[0]!;
        expect(seen.method).to.equal(c.allowed.method);
        expect(seen.url).to.equal(c.allowed.path);
        expect(seen.headers).to.not.have.property('x-forwarded-for');
        expect(seen.headers).to.not.have.property('cookie');
        if (c.allowed.body !== undefined) expect(seen.body.toString()).to.equal(c.allowed.body);
      });

      for (const denied of c.denied) {
        it(`denies ${denied.method} ${denied.path}${denied.headers ? ` (with ${Object.keys(denied.headers).join(', ')})` : ''} without reaching the VCS`, async function () {
          const before = harness.vcsRequests.length;
          const response = await harness.request(denied.path, { method: denied.method, ...(denied.headers ? { headers: denied.headers } : {}) });
          expect(response.status).to.equal(403);
          expect(harness.vcsRequests.length).to.equal(before);
          expect(harness.vcsRequests.map((r) => r.url)).to.not.include(denied.path);
        });
      }
    });
  }
});

describe('vendor policies end to end: logging', function () {
  this.timeout(20_000);
  let harness: Harness;

  before(async function () {
    harness = await startHarness({ policy: createVendorPolicy('gitlab', { allowedProjects: 'acme/infra' }) });
  });
  after(async function () {
    await harness?.close();
  });

  it('logs the decision, description and project of each request, and never a credential', async function () {
    const allowed = await harness.request('/api/v4/projects/acme%2Finfra?private_token=glpat-SECRET1', {
      headers: { 'PRIVATE-TOKEN': 'glpat-SECRET2', Authorization: 'Bearer SECRET3' },
    });
    const denied = await harness.request('/api/v4/projects/acme%2Finfra/variables?access_token=SECRET4&x=%0a', {
      headers: { Cookie: 'SECRET5' },
    });
    expect([allowed.status, denied.status]).to.deep.equal([200, 403]);
    const entries = harness.agentLog.filter((e) => e.decision !== undefined);
    expect(entries).to.have.length(2);
    expect(entries[0]).to.include({ decision: 'allow', description: 'Get a project', project: 'acme/infra', status: 200 });
    expect(entries[1]).to.include({ decision: 'deny', status: 403 });
    const everything = JSON.stringify([harness.agentLog, harness.gatewayLogger.entries]);
    for (const secret of ['SECRET1', 'SECRET2', 'SECRET3', 'SECRET4', 'SECRET5']) expect(everything).to.not.include(secret);
  });
});

describe('vendor policies end to end: mutated paths never crash the agent', function () {
  this.timeout(60_000);

  it('answers every mutated request, forwards only what the policy allows, and keeps serving', async function () {
    const policy = createVendorPolicy('gitlab', { allowedProjects: 'acme/infra' });
    const harness = await startHarness({ policy });
    try {
      const seed = '/api/v4/projects/acme%2Finfra/repository/files/stacks%2Fmain.tf/raw?ref=main';
      const pieces = ['..', '%2e%2e', '//', '\\', ';', '%00', '%0d%0a', '%252e', '%c0%ae', '%ef%bc%8e', '@', '%2F..%2F', ' ', '#', '%', '~'];
      const samples = fc.sample(fc.array(fc.record({ at: fc.nat(200), piece: fc.constantFrom(...pieces) }), { minLength: 1, maxLength: 3 }), {
        numRuns: 150,
        seed: 42,
      });
      let sent = 0;
      for (const ops of samples) {
        let path = seed;
        for (const { at, piece } of ops) {
          const i = 1 + (at % path.length);
          path = path.slice(0, i) + piece + path.slice(i);
        }
        const allowed = policy.evaluate({ method: 'GET', path, rawHeaders: [] }).allow;
        let status: number | undefined;
        try {
          status = (await harness.request(path)).status;
          sent++;
        } catch {
          // The gateway may refuse a target it cannot even put in a URL; the agent never sees it.
          continue;
        }
        expect(status, path).to.equal(allowed ? 200 : 403);
      }
      expect(sent).to.be.greaterThan(50);
      for (const seen of harness.vcsRequests) {
        expect(policy.evaluate({ method: seen.method, path: seen.url, rawHeaders: [] }).allow, seen.url).to.equal(true);
      }
      const after = await harness.request(seed);
      expect(after.status).to.equal(200);
    } finally {
      await harness.close();
    }
  });
});
