import { expect } from 'chai';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';

// A redirect must reach the caller as is: following it inside the private network would
// let the VCS (or anyone who controls a response) steer the agent to another host.
describe('VCS redirects are passed back, never followed', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({
      policy: testPolicy,
      vcs(req, res) {
        if (req.url === '/allowed/moved') {
          res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/', 'content-length': 0 });
          res.end();
          return;
        }
        res.end('target');
      },
    });
  });
  after(() => harness.close());

  it('returns the 302 with its Location and sends nothing else to the VCS', async () => {
    const before = harness.vcsRequests.length;
    const response = await harness.request('/allowed/moved');
    expect(response.status).to.equal(302);
    expect(response.headers.location).to.equal('http://169.254.169.254/latest/meta-data/');
    expect(harness.vcsRequests.length - before).to.equal(1);
  });
});
