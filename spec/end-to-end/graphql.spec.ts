import { expect } from 'chai';
import { createVendorPolicy } from '../../lib/vendors/index.js';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';

const QUERY = 'query Viewer { viewer { login } }';

describe('GraphQL operations through gateway and agent', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({
      policy: createVendorPolicy('github_enterprise', {
        extraRules: [{ method: 'POST', path: '/api/graphql', description: 'Identify the token user', scope: 'global', graphql: [{ operationName: 'Viewer', query: QUERY }] }],
      }),
    });
  });
  after(() => harness.close());

  it('forwards the allowed operation with its body byte for byte', async () => {
    const body = JSON.stringify({ query: QUERY, operationName: 'Viewer', variables: {} });
    const response = await harness.request('/api/graphql', { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }, body });
    expect(response.status).to.equal(200);
    const seen = harness.vcsRequests.at(-1);
    expect(seen?.url).to.equal('/api/graphql');
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen?.body.toString()).to.equal(body);
    const line = harness.agentLog.find((entry) => entry.path === '/api/graphql' && entry.decision === 'allow');
    expect(line?.description).to.equal('Identify the token user: Viewer');
  });

  it('denies any other operation without reaching the VCS', async () => {
    const before = harness.vcsRequests.length;
    const body = JSON.stringify({ query: 'mutation { deleteRepository(input: {repositoryId: "1"}) { clientMutationId } }', operationName: 'Viewer' });
    const response = await harness.request('/api/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(response.status).to.equal(403);
    expect(JSON.parse(response.body.toString()).error.message).to.match(/not allowed/);
    expect(harness.vcsRequests.length).to.equal(before);
  });

  it('denies a body larger than the inspection bound with 413, and the pool keeps serving', async () => {
    const body = JSON.stringify({ query: QUERY, operationName: 'Viewer', variables: { pad: 'x'.repeat(100_000) } });
    const response = await harness.request('/api/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(response.status).to.equal(413);
    const next = await harness.request('/api/v3/user');
    expect(next.status).to.equal(200);
  });
});
