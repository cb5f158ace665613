import { expect } from 'chai';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';

describe('tunnel smoke', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ policy: testPolicy });
  });
  after(() => harness.close());

  it('proxies an allowed GET to the VCS', async () => {
    const response = await harness.request('/allowed/x?y=1');
    expect(response.status).to.equal(200);
    expect(JSON.parse(response.body.toString())).to.deep.equal({ method: 'GET', url: '/allowed/x?y=1', bodyBytes: 0 });
  });

  it('denies with 403 and never reaches the VCS', async () => {
    const before = harness.vcsRequests.length;
    const response = await harness.request('/denied');
    expect(response.status).to.equal(403);
    expect(harness.vcsRequests.length).to.equal(before);
  });

  it('proxies a POST body', async () => {
    const response = await harness.request('/allowed/post', { method: 'POST', body: 'hello world' });
    expect(JSON.parse(response.body.toString())).to.deep.include({ method: 'POST', bodyBytes: 11 });
  });
});
