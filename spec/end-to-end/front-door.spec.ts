import { expect } from 'chai';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { PolicyRequest, RequestPolicy } from '../../lib/policy/request-policy.js';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';

/** Records what the agent was asked, and allows everything under /allowed/. */
const seen: PolicyRequest[] = [];
const recordingPolicy: RequestPolicy = {
  name: 'recording',
  evaluate(request) {
    seen.push(request);
    return request.path.startsWith('/allowed/') ? { allow: true, description: 'Test route' } : { allow: false, reason: 'Not under /allowed/' };
  },
};

function frontDoor(base: string, path: string, init: { method?: string; headers?: Array<[string, string]>; body?: string } = {}): Promise<{ status: number; headers: IncomingHttpHeaders; rawHeaders: string[]; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method: init.method ?? 'GET', path, headers: [['Host', url.host], ...(init.headers ?? [])].flat() }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('front door', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({
      policy: recordingPolicy,
      frontDoor: true,
      vcs(req, res) {
        res.writeHead(200, ['Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'X-Seen-Url', req.url ?? '', 'X-Seen-Rep', req.rawHeaders.filter((_, i, all) => all[i - 1]?.toLowerCase() === 'accept').join('|'), 'Content-Length', '2']);
        res.end('ok');
      },
    });
  });
  after(() => harness.close());

  it('maps /<pool>/<path> to private://<pool>/<path> and passes the path through byte for byte', async () => {
    const raw = '/allowed/a%2Fb/%2e%2e/c//d?x=%00&y=a+b#';
    seen.length = 0;
    const response = await frontDoor(harness.frontDoorUrl as string, `/${harness.pool}${raw.replace('#', '')}`);
    expect(response.status).to.equal(200);
    expect(seen[0]?.path).to.equal(raw.replace('#', ''));
    expect(response.headers['x-seen-url']).to.equal(raw.replace('#', ''));
  });

  it('keeps repeated headers in both directions', async () => {
    const response = await frontDoor(harness.frontDoorUrl as string, `/${harness.pool}/allowed/headers`, {
      headers: [
        ['Accept', 'application/json'],
        ['Accept', 'text/plain'],
      ],
    });
    expect(response.headers['set-cookie']).to.deep.equal(['a=1', 'b=2']);
    expect(response.headers['x-seen-rep']).to.equal('application/json|text/plain');
  });

  it('answers a denied request with 403 and the reason', async () => {
    const response = await frontDoor(harness.frontDoorUrl as string, `/${harness.pool}/other`);
    expect(response.status).to.equal(403);
    expect(JSON.parse(response.body).error).to.deep.include({ code: 'VCS_DENIED', message: 'Not under /allowed/' });
  });

  it('answers an unknown pool with 404 and a path without a pool with 400', async () => {
    const unknown = await frontDoor(harness.frontDoorUrl as string, '/no-such-pool/allowed/x');
    expect(unknown.status).to.equal(404);
    expect(unknown.headers['vcs-gateway-error']).to.equal('VCS_POOL_NOT_FOUND');
    const bad = await frontDoor(harness.frontDoorUrl as string, '/UPPER/x');
    expect(bad.status).to.equal(400);
  });
});
