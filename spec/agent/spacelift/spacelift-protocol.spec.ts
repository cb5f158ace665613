import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { TunnelClient } from '../../../lib/agent/tunnel-client.js';
import { AuthenticationError, InvalidOptionError, InvalidTokenError } from '../../../lib/errors.js';
import { encodePoolToken } from '../../../lib/protocol/token.js';
import { createVendorPolicy } from '../../../lib/vendors/index.js';
import { startVcs, type VcsFixture } from '../../cli/cli-harness.js';
import { MemoryLogger } from '../../helpers/memory-logger.js';
import { FakeSpaceliftGateway } from '../../helpers/spacelift-gateway.js';
import { nextEvent, waitFor } from '../../helpers/wait-for.js';

const POOL = '01HZX3J5Y8W8Q6ZK4M3T2V1B0C';
const KEY = 'spacelift-pool-key-0123456789abcdef';
const BIG = 5 * 1024 * 1024;

function bodyOf(size: number, seed: string): Buffer {
  const block = createHash('sha256').update(seed).digest();
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = (block[i % 32] as number) ^ (i & 0xff);
  return out;
}

describe('TunnelClient with protocol: spacelift (Spacelift\'s privatevcs.Gateway/Connect)', function () {
  this.timeout(30_000);
  let vcs: VcsFixture;
  let gateway: FakeSpaceliftGateway;
  let client: TunnelClient | undefined;
  let logger: MemoryLogger;
  const uploads: Buffer[] = [];
  let releaseSlow: (() => void) | undefined;

  before(async () => {
    vcs = await startVcs((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const url = req.url ?? '';
        if (url.includes('git-upload-pack')) {
          uploads.push(Buffer.concat(chunks));
          const body = Buffer.from(`0008NAK\n${createHash('sha256').update(Buffer.concat(chunks)).digest('hex')}`);
          res.writeHead(200, { 'content-type': 'application/x-git-upload-pack-result', 'content-length': body.length });
          return res.end(body);
        }
        if (url.includes('/repository/archive')) {
          const body = bodyOf(BIG, 'archive');
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
          return res.end(body);
        }
        if (url.includes('slow') && releaseSlow === undefined) {
          releaseSlow = () => res.end('{"slow":true}');
          return res.writeHead(200, { 'content-type': 'application/json', 'content-length': 13 });
        }
        const body = JSON.stringify({ url, auth: req.headers['private-token'] ?? null });
        res.setHeader('set-cookie', ['a=1', 'b=2']);
        res.setHeader('vary', ['Accept', 'Accept-Encoding']);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-total': '3' });
        res.end(body);
      });
    });
  });
  after(async () => {
    await vcs.close();
  });

  beforeEach(async () => {
    gateway = await new FakeSpaceliftGateway({ poolUlid: POOL, key: KEY }).start();
    logger = new MemoryLogger();
  });
  afterEach(async () => {
    client?.destroy();
    client = undefined;
    await gateway.close();
  });

  function startClient(overrides: { key?: string; parallelism?: number; host?: string } = {}): TunnelClient {
    client = new TunnelClient({
      protocol: 'spacelift',
      spacelift: { dialInsecure: true, acceptAfterMs: 200 },
      token: encodePoolToken({ host: overrides.host ?? `127.0.0.1:${gateway.port}`, key: overrides.key ?? KEY, pool_ulid: POOL }),
      target: vcs.url,
      policy: createVendorPolicy('gitlab', { allowedProjects: '^group/(repo|other)$' }),
      parallelism: overrides.parallelism ?? 3,
      // One channel: these specs count its calls (two: spec/agent/gateway-connections.spec.ts).
      gatewayConnections: 1,
      metadata: { zone: 'eu-1', team: 'platform' },
      logger,
      reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
    });
    return client;
  }

  it('opens --parallelism Connect calls on one HTTP/2 connection, authenticated by gRPC metadata', async () => {
    await startClient().start();
    await waitFor(() => gateway.live().length === 3, 5_000, 'three Connect calls');
    const calls = gateway.live();
    expect(new Set(calls.map((call) => call.peer)).size, 'one connection (one peer address) for all calls').to.equal(1);
    for (const call of calls) {
      expect(call.poolUlid).to.equal(POOL);
      expect(call.metadata).to.deep.equal({ zone: 'eu-1', team: 'platform' });
    }
    expect(client?.state).to.equal('connected');
    expect(client?.streamCounts.open).to.equal(3);
  });

  it('serves an allowed request from the VCS and sends the whole response back, headers reduced to one value each', async () => {
    await startClient().start();
    await waitFor(() => gateway.live().length === 3, 5_000, 'calls');
    const response = await gateway.request({ path: '/api/v4/projects/group%2Frepo/repository/branches?per_page=100', headers: { 'private-token': 'glpat-secret-value', accept: 'application/json' } });
    expect(response.content).to.equal('httpResponse');
    const http = response.httpResponse;
    expect(http?.status).to.equal(200);
    expect(JSON.parse(http?.body.toString() ?? '{}')).to.deep.equal({ url: '/api/v4/projects/group%2Frepo/repository/branches?per_page=100', auth: 'glpat-secret-value' });
    expect(http?.headers['x-total']).to.equal('3');
    // A list header joins (RFC 9110 §5.3); Set-Cookie cannot, so the first stays and the reduction is named.
    expect(http?.headers['vary']).to.equal('Accept, Accept-Encoding');
    expect(http?.headers['set-cookie']).to.equal('a=1');
    expect(http?.headers['vcs-agent-reduced-headers']).to.equal('set-cookie');
    const record = logger.entries.find((entry) => entry.decision === 'allow');
    expect(record?.project).to.equal('group/repo');
    expect(JSON.stringify(logger.entries)).to.not.include('glpat-secret-value').and.not.include(KEY);
  });

  it('answers a denied request with a typed error and never calls the VCS', async () => {
    await startClient().start();
    await waitFor(() => gateway.live().length === 3, 5_000, 'calls');
    const before = vcs.requests.length;
    const denied = await gateway.request({ path: '/api/v4/projects/group%2Fsecret/repository/branches' });
    expect(denied.content).to.equal('error');
    expect(denied.error).to.match(/^VCS_DENIED: /);
    const wrongRoute = await gateway.request({ path: '/api/v4/users', method: 'DELETE' });
    expect(wrongRoute.error).to.match(/^VCS_DENIED: /);
    expect(vcs.requests.length).to.equal(before);
    expect(logger.entries.filter((entry) => entry.decision === 'deny')).to.have.length(2);
  });

  it('carries a request body whole to the VCS (git-upload-pack) and answers pings with the same id', async () => {
    await startClient().start();
    await waitFor(() => gateway.live().length === 3, 5_000, 'calls');
    const body = bodyOf(1024 * 1024, 'upload');
    const response = await gateway.request({
      method: 'POST',
      path: '/group/repo.git/git-upload-pack',
      headers: { 'content-type': 'application/x-git-upload-pack-request', 'content-length': '999' },
      body,
    });
    expect(response.httpResponse?.status).to.equal(200);
    expect(response.httpResponse?.body.toString()).to.include(createHash('sha256').update(body).digest('hex'));
    expect(uploads.at(-1)?.equals(body)).to.equal(true);
    const call = gateway.live()[0];
    if (call === undefined) throw new Error('no call');
    const pong = await gateway.ping(call);
    expect(pong.content).to.equal('pingResponse');
  });

  it('refuses a response over the message limit with VCS_RESPONSE_TOO_LARGE, and the call serves on', async () => {
    await startClient({ parallelism: 1 }).start();
    await waitFor(() => gateway.live().length === 1, 5_000, 'one call');
    const tooLarge = await gateway.request({ path: '/api/v4/projects/group%2Frepo/repository/archive.tar.gz' });
    expect(tooLarge.content).to.equal('error');
    expect(tooLarge.error).to.match(/^VCS_RESPONSE_TOO_LARGE: .*4194304 bytes/);
    const next = await gateway.request({ path: '/api/v4/projects/group%2Fother' });
    expect(next.httpResponse?.status).to.equal(200);
    const failed = logger.entries.find((entry) => typeof entry.error === 'string' && String(entry.error).includes('message limit'));
    expect(failed, 'the agent logs why the exchange failed').to.not.equal(undefined);
  });

  it('rejects start() with AuthenticationError when the gateway refuses the key (UNAUTHENTICATED)', async () => {
    const error = await startClient({ key: 'wrong-key' }).start().then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).to.be.instanceOf(AuthenticationError);
    expect((error as Error).message).to.include('invalid pool credentials').and.not.include('wrong-key');
    expect(gateway.refusals.length).to.be.greaterThan(0);
    expect(gateway.refusals[0]?.keyMatched).to.equal(false);
  });

  it('redials with backoff after the gateway dies, and serves again once it is back', async () => {
    await startClient({ parallelism: 2 }).start();
    await waitFor(() => gateway.live().length === 2, 5_000, 'calls');
    const port = gateway.port;
    const disconnected = nextEvent(client as TunnelClient, 'disconnected', 5_000);
    gateway.kill();
    await disconnected;
    gateway = await new FakeSpaceliftGateway({ poolUlid: POOL, key: KEY, port }).start();
    await waitFor(() => gateway.live().length === 2, 10_000, 'calls on the new gateway');
    const response = await gateway.request({ path: '/api/v4/projects/group%2Frepo' });
    expect(response.httpResponse?.status).to.equal(200);
  });

  it('close() lets the request in flight finish, then ends the calls', async () => {
    await startClient({ parallelism: 2 }).start();
    await waitFor(() => gateway.live().length === 2, 5_000, 'calls');
    const pending = gateway.request({ path: '/api/v4/projects/group%2Frepo/repository/branches/slow' });
    await waitFor(() => releaseSlow !== undefined, 5_000, 'the slow request at the VCS');
    const closing = (client as TunnelClient).close({ timeoutMs: 10_000 });
    await waitFor(() => gateway.live().length === 1, 5_000, 'the idle call ended');
    expect(client?.state).to.equal('draining');
    releaseSlow?.();
    const response = await pending;
    expect(response.httpResponse?.status).to.equal(200);
    expect(response.httpResponse?.body.toString()).to.equal('{"slow":true}');
    await closing;
    expect(client?.state).to.equal('closed');
    await waitFor(() => gateway.live().length === 0, 5_000, 'all calls ended');
  });

  it('checks its options: protocol, spacelift settings, token host', () => {
    const base = { token: encodePoolToken({ host: 'gw.example.com:443', key: KEY, pool_ulid: POOL }), target: 'http://127.0.0.1:1', policy: createVendorPolicy('gitlab') };
    expect(() => new TunnelClient({ ...base, protocol: 'grpc' as 'spacelift' })).to.throw(InvalidOptionError, /protocol/);
    expect(() => new TunnelClient({ ...base, spacelift: {} })).to.throw(InvalidOptionError, /only with protocol: spacelift/);
    expect(() => new TunnelClient({ ...base, protocol: 'spacelift', spacelift: { maxMessageBytes: 10 } })).to.throw(InvalidOptionError, /maxMessageBytes/);
    const https = encodePoolToken({ host: 'https://gw.example.com', key: KEY, pool_ulid: POOL });
    expect(() => new TunnelClient({ ...base, token: https, protocol: 'spacelift', spacelift: { dialInsecure: true } })).to.throw(InvalidOptionError, /contradicts/);
    const withPath = encodePoolToken({ host: 'gw.example.com:443/x', key: KEY, pool_ulid: POOL });
    expect(() => new TunnelClient({ ...base, token: withPath, protocol: 'spacelift' })).to.throw(InvalidTokenError, /host and port/);
    // The default protocol still wants a URL.
    expect(() => new TunnelClient(base)).to.throw(InvalidTokenError, /host/);
    const ok = new TunnelClient({ ...base, protocol: 'spacelift' });
    expect(ok.gatewayUrl.href).to.equal('https://gw.example.com/');
    ok.destroy();
  });
});
