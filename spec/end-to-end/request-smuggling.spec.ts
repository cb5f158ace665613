import { expect } from 'chai';
import { connect } from 'node:net';
import { createVendorPolicy } from '../../lib/vendors/index.js';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { waitFor } from '../helpers/wait-for.js';

/** Sends raw bytes to the front door and returns the raw answer (connection closed after). */
function raw(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    let text = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer')));
  });
}

// A body whose framing the VCS would read differently from the agent could carry a second,
// never-checked request (DELETE, Sudo…) past the allowlist. The agent forwards only bodies
// whose framing is unambiguous, and never lets a body outgrow its Content-Length.
describe('request smuggling through the tunnel', function () {
  this.timeout(20_000);
  let harness: Harness;
  const smuggled = 'DELETE /api/v4/projects/g%2Fr HTTP/1.1\r\nHost: x\r\nPrivate-Token: t\r\n\r\n';
  before(async () => {
    harness = await startHarness({ policy: createVendorPolicy('gitlab'), frontDoor: true });
  });
  after(() => harness.close());

  it('refuses a GET with a chunked body (no Content-Length) with 411, and nothing reaches the VCS', async () => {
    const before = harness.vcsRequests.length;
    const chunk = smuggled.length.toString(16);
    const answer = await raw(
      harness.frontDoorUrl as string,
      // JSON, so GitLab's body rule (bodies must be JSON) lets it on to the framing check.
      `GET /${harness.pool}/api/v4/projects/g%2Fr HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunk}\r\n${smuggled}\r\n0\r\n\r\n`,
    );
    expect(answer).to.match(/^HTTP\/1\.1 411 /);
    expect(harness.vcsRequests.length).to.equal(before);
  });

  it('fails a body longer than its Content-Length instead of sending the excess as a request', async () => {
    const before = harness.vcsRequests.length;
    const body = `{}${smuggled}`;
    const error = await harness
      .request('/api/v4/projects/g%2Fr/hooks', { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '2' }, body })
      .then(
        (response) => response.status,
        (e: unknown) => (e as { code?: string }).code,
      );
    // 403: GitLab bodies are read and checked before forwarding, and this one is not JSON.
    expect([403, 502, 'VCS_STREAM_RESET']).to.include(error);
    await waitFor(() => harness.vcsRequests.length >= before, 2000, 'the VCS to settle');
    expect(harness.vcsRequests.slice(before).map((r) => r.method)).to.not.include('DELETE');
  });

  it('refuses a request that says it has no body but a non-zero Content-Length', async () => {
    const response = await harness.request('/api/v4/projects/g%2Fr', { headers: { 'content-length': '40' } });
    expect(response.status).to.equal(400);
    expect(JSON.parse(response.body.toString()).error.code).to.equal('VCS_BAD_FRAMING');
  });

  it('still forwards a normal JSON POST and a chunked POST', async () => {
    const ok = await harness.request('/api/v4/projects/g%2Fr/hooks', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"url":"https://ci.example/hook"}' });
    expect(ok.status).to.equal(200);
    const seen = harness.vcsRequests.at(-1);
    expect(seen?.method).to.equal('POST');
  });
});
