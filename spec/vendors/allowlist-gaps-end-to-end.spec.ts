import { expect } from 'chai';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { createVendorPolicy, type VendorName } from '../../lib/vendors/index.js';
import type { VendorRule } from '../../lib/policy/vendor-definition.js';

/*
 * Issue 13 end to end (real gateway → real agent → recording VCS): the real-client paths that
 * were denied now reach the VCS byte for byte, and the allowlist gaps that reached it are
 * answered by the agent without any byte reaching it.
 */

const QUERY = 'query Reviews { viewer { login } }';
const GRAPHQL: VendorRule = { method: 'POST', path: '/api/graphql', description: 'Read the viewer', scope: 'global', graphql: [{ operationName: 'Reviews', query: QUERY }] };

interface Case {
  readonly name: string;
  readonly method?: string;
  readonly path: string;
  readonly headers?: Record<string, string> | Array<[string, string]>;
  readonly body?: string;
  /** The status the caller gets; 200 means it reached the VCS unchanged. */
  readonly status: number;
  readonly reason?: RegExp;
}

const CASES: Record<VendorName, readonly Case[]> = {
  bitbucket_datacenter: [
    { name: 'latest REST API (OpenAPI clients)', path: '/rest/api/latest/projects/ACME/repos/infra/browse/stacks/main.tf?at=main', status: 200 },
    { name: 'latest build status', method: 'POST', path: '/rest/api/latest/projects/ACME/repos/infra/commits/0123abcd/builds', headers: { 'content-type': 'application/json' }, body: '{"state":"SUCCESSFUL","key":"ci"}', status: 200 },
    { name: 'application-properties under latest', path: '/rest/api/latest/application-properties', status: 200 },
    { name: 'application-properties under 1.0', path: '/rest/api/1.0/application-properties', status: 200 },
    { name: 'latest for another project', path: '/rest/api/latest/projects/EVIL/repos/secrets/browse', status: 403, reason: /allowed-projects/ },
    { name: 'an encoded slash in a global rule', path: '/rest/api/latest/users/jdoe%2Fadmin', status: 403, reason: /encoded/ },
  ],
  gitlab: [
    { name: 'a JSON commit', method: 'POST', path: '/api/v4/projects/acme%2Finfra/repository/commits', headers: { 'content-type': 'application/json' }, body: '{"branch":"main","commit_message":"m","actions":[]}', status: 200 },
    { name: 'sudo in a JSON body', method: 'POST', path: '/api/v4/projects/acme%2Finfra/repository/commits', headers: { 'content-type': 'application/json' }, body: '{"branch":"main","sudo":"root"}', status: 403, reason: /sudo/ },
    { name: 'start_project of another project in a JSON body', method: 'POST', path: '/api/v4/projects/acme%2Finfra/repository/commits', headers: { 'content-type': 'application/json' }, body: '{"branch":"x","start_project":"evil/secrets"}', status: 403, reason: /allowed-projects/ },
    { name: 'a form body on GET', path: '/api/v4/projects/acme%2Finfra/repository/compare?from=a&to=b', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '32' }, body: 'from_project_id=9&sudo=root&x=12', status: 403, reason: /application\/json/ },
    { name: 'a form body on DELETE', method: 'DELETE', path: '/api/v4/projects/acme%2Finfra/hooks/3', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '9' }, body: 'sudo=root', status: 403, reason: /application\/json/ },
    { name: 'two Content-Types', method: 'POST', path: '/api/v4/projects/acme%2Finfra/hooks', headers: [['content-type', 'application/json'], ['content-type', 'application/x-www-form-urlencoded']], body: '{"url":"https://x.test/"}', status: 403, reason: /repeats the header "content-type"/ },
    { name: 'a GraphQL document in the URL', method: 'POST', path: '/api/graphql?query=mutation%7BdestroyProject%7D', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: QUERY, operationName: 'Reviews' }), status: 403, reason: /URL parameters/ },
    { name: 'a repeated GraphQL query key', method: 'POST', path: '/api/graphql', headers: { 'content-type': 'application/json' }, body: `{"query":"mutation { destroyProject }","query":${JSON.stringify(QUERY)},"operationName":"Reviews"}`, status: 403, reason: /repeats the key/ },
    { name: 'the exact GraphQL operation', method: 'POST', path: '/api/graphql', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: QUERY, operationName: 'Reviews' }), status: 200 },
  ],
  azure_devops: [
    { name: 'the allowed collection', path: '/DefaultCollection/acme/_apis/git/repositories/infra?api-version=7.1', status: 200 },
    { name: 'another collection', path: '/OtherCollection/acme/_apis/git/repositories/infra?api-version=7.1', status: 403, reason: /allowed-collections/ },
    { name: 'a dashless repository GUID', path: '/DefaultCollection/acme/_apis/git/repositories/4c2b3f1e9a0b4c1d8e2f0123456789ab?api-version=7.1', status: 403, reason: /by id/ },
  ],
  github_enterprise: [
    { name: 'a two-dot compare with another repository', path: '/api/v3/repos/acme/infra/compare/acme:infra:main..evil:secrets:main', status: 403, reason: /evil\/secrets/ },
    { name: 'a two-dot compare in the repository', path: '/api/v3/repos/acme/infra/compare/main..feature', status: 200 },
  ],
};

describe('issue 13 allowlist fixes end to end (gateway → agent → VCS)', function () {
  this.timeout(20_000);

  for (const [vendor, cases] of Object.entries(CASES) as Array<[VendorName, readonly Case[]]>) {
    describe(vendor, function () {
      let harness: Harness;
      before(async function () {
        const allowedProjects = vendor === 'bitbucket_datacenter' ? 'ACME/infra' : 'acme/infra';
        harness = await startHarness({ policy: createVendorPolicy(vendor, { allowedProjects, ...(vendor === 'gitlab' ? { extraRules: [GRAPHQL] } : {}) }) });
      });
      after(async function () {
        await harness?.close();
      });

      for (const c of cases) {
        it(`${c.status === 200 ? 'forwards' : `answers ${c.status} to`} ${c.name}`, async function () {
          const before = harness.vcsRequests.length;
          const headers = Array.isArray(c.headers) ? c.headers.flat() : c.headers;
          const response = await harness.request(c.path, {
            method: c.method ?? 'GET',
            ...(headers === undefined ? {} : { headers: headers as unknown as Record<string, string> }),
            ...(c.body === undefined ? {} : { body: c.body }),
          });
          expect(response.status, response.body.toString()).to.equal(c.status);
          if (c.status === 200) {
            expect(harness.vcsRequests.length).to.equal(before + 1);
            const seen = harness.vcsRequests.at(-1)!;
            expect(seen.method).to.equal(c.method ?? 'GET');
            expect(seen.url).to.equal(c.path);
            if (c.body !== undefined) expect(seen.body.toString()).to.equal(c.body);
          } else {
            expect(harness.vcsRequests.length).to.equal(before);
            if (c.reason !== undefined) expect(JSON.parse(response.body.toString()).error.message).to.match(c.reason);
          }
        });
      }
    });
  }
});

describe('issue 13: repeated singleton headers through the HTTP/1.1 front door', function () {
  this.timeout(20_000);
  let harness: Harness;
  before(async function () {
    harness = await startHarness({ policy: createVendorPolicy('gitlab'), frontDoor: true });
  });
  after(async function () {
    await harness?.close();
  });

  /** Sends raw bytes to the front door and returns the raw answer (bounded wait). */
  async function raw(bytes: string): Promise<string> {
    const { connect } = await import('node:net');
    const { hostname, port } = new URL(harness.frontDoorUrl as string);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => socket.write(bytes));
      let text = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
      socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
    });
  }

  it('refuses two Content-Types and forwards nothing', async function () {
    const before = harness.vcsRequests.length;
    const body = '{"url":"https://x.test/"}';
    const answer = await raw(
      `POST /${harness.pool}/api/v4/projects/g%2Fr/hooks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    expect(answer).to.match(/^HTTP\/1\.1 403 /);
    expect(answer).to.include('repeats the header \\"content-type\\"');
    expect(harness.vcsRequests.length).to.equal(before);
  });

  it('refuses two Private-Tokens and forwards nothing', async function () {
    const before = harness.vcsRequests.length;
    const answer = await raw(`GET /${harness.pool}/api/v4/user HTTP/1.1\r\nHost: x\r\nPrivate-Token: a\r\nPrivate-Token: b\r\nConnection: close\r\n\r\n`);
    expect(answer).to.match(/^HTTP\/1\.1 403 /);
    expect(harness.vcsRequests.length).to.equal(before);
  });
});
