import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { TunnelClient } from '../../lib/agent/tunnel-client.js';
import { Gateway, type AccessLogRecord } from '../../lib/gateway/gateway.js';
import type { GatewayResponse } from '../../lib/gateway/gateway-response.js';
import { MemoryPoolStore } from '../../lib/pools/memory-pool-store.js';
import { createPool } from '../../lib/pools/pool-service.js';
import { decodePoolToken, encodePoolToken } from '../../lib/protocol/token.js';
import { createVendorPolicy } from '../../lib/vendors/index.js';
import { MemoryLogger } from '../helpers/memory-logger.js';
import { waitFor } from '../helpers/wait-for.js';

async function bodyOf(response: GatewayResponse): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of response.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/*
 * Both halves of the Spacelift protocol are ours here: the agent with protocol 'spacelift'
 * dials the gateway's --spacelift-listen, so each side is checked against the other's real
 * implementation (the other specs check each against a grpc-js stand-in).
 */
describe('end to end: our agent on the Spacelift protocol into our gateway\'s Spacelift listener', function () {
  this.timeout(30_000);
  let vcs: Server;
  let gateway: Gateway;
  let client: TunnelClient | undefined;
  const access: AccessLogRecord[] = [];
  const agentLog = new MemoryLogger();
  let gatewayBodyBytes = 0;

  before(async () => {
    vcs = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        if ((req.url ?? '').includes('archive')) {
          const big = Buffer.alloc(5 * 1024 * 1024, 7);
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': big.length });
          return res.end(big);
        }
        const answer = JSON.stringify({ url: req.url, sha256: createHash('sha256').update(body).digest('hex'), token: req.headers['private-token'] ?? null });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
        res.end(answer);
      });
    });
    const vcsPort = await new Promise<number>((resolve) => vcs.listen(0, '127.0.0.1', () => resolve((vcs.address() as AddressInfo).port)));
    const store = new MemoryPoolStore();
    gateway = new Gateway({ store, logger: new MemoryLogger(), onBodyChunk: (bytes) => (gatewayBodyBytes += bytes) });
    gateway.on('access', (record) => access.push(record));
    await gateway.listen({ host: '127.0.0.1', port: 0 });
    const spacelift = await gateway.listenSpacelift({ host: '127.0.0.1', port: 0 });
    const { token } = await createPool(store, { name: 'both-ways', gatewayUrl: 'http://127.0.0.1:1' });
    const { key, pool_ulid } = decodePoolToken(token);
    client = new TunnelClient({
      protocol: 'spacelift',
      spacelift: { dialInsecure: true },
      // A Spacelift-style token: host:port of the Spacelift listener, our pool's id and key.
      token: encodePoolToken({ host: `127.0.0.1:${spacelift.port}`, key, pool_ulid }),
      target: `http://127.0.0.1:${vcsPort}`,
      policy: createVendorPolicy('gitlab', { allowedProjects: '^platform/.*$' }),
      parallelism: 3,
      metadata: { region: 'eu' },
      logger: agentLog,
    });
    await client.start();
    // Two gateway connections (the default), three calls each.
    await waitFor(() => gateway.connections('both-ways').reduce((sum, c) => sum + c.streamsIdle, 0) === 6, 5_000, 'six idle calls');
    // start() resolved with the first channel; the other counts as connected once its own
    // calls are accepted (acceptAfterMs after its channel is up).
    const tunnel = client;
    await waitFor(() => tunnel.connections.every((c) => c.state === 'connected'), 5_000, 'both channels connected');
  });
  after(async () => {
    client?.destroy();
    gateway?.destroy();
    await new Promise<void>((resolve) => vcs.close(() => resolve()));
  });

  it('shows one connection with protocol spacelift, the calls of both the agent\'s gateway connections as its streams, and its tags', () => {
    // The protocol carries no agent or connection id: the listener groups calls by pool,
    // key, peer host, version and tags, so the agent's two channels show as one connection.
    const connections = gateway.connections('both-ways');
    expect(connections).to.have.length(1);
    const [connection] = connections;
    expect(connection).to.include({ protocol: 'spacelift', streamsIdle: 6 });
    expect(connection?.metadata).to.deep.equal({ region: 'eu' });
    expect(new Set(client?.connections.map((c) => c.connectionId)).size).to.equal(2);
  });

  it('serves allowed requests, with bodies, concurrently over the calls', async () => {
    const uploads = Array.from({ length: 9 }, (_, i) => Buffer.alloc(1000 * (i + 1), i));
    const responses = await Promise.all(
      uploads.map((body, i) =>
        gateway.request(`private://both-ways/platform/repo${i}.git/git-upload-pack`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-git-upload-pack-request' },
          body,
        }),
      ),
    );
    for (const [i, response] of responses.entries()) {
      expect(response.status, `request ${i}`).to.equal(200);
      const answer = JSON.parse((await bodyOf(response)).toString()) as { url: string; sha256: string };
      expect(answer.url).to.equal(`/platform/repo${i}.git/git-upload-pack`);
      expect(answer.sha256).to.equal(createHash('sha256').update(uploads[i] as Buffer).digest('hex'));
    }
  });

  it('reports the bodies of its calls to onBodyChunk (the CLI paces minor GCs with it): streamed and whole requests, and the answers', async () => {
    gatewayBodyBytes = 0;
    const streamed = Buffer.alloc(300_000, 1);
    const whole = Buffer.alloc(200_000, 2);
    let answers = 0;
    for (const body of [Readable.from([streamed.subarray(0, 100_000), streamed.subarray(100_000)]), whole]) {
      const response = await gateway.request('private://both-ways/platform/repo.git/git-upload-pack', { method: 'POST', headers: { 'content-type': 'application/x-git-upload-pack-request' }, body });
      expect(response.status).to.equal(200);
      answers += (await bodyOf(response)).length;
    }
    expect(answers).to.be.above(0);
    expect(gatewayBodyBytes).to.equal(streamed.length + whole.length + answers);
  });

  it('turns the agent\'s denial into 403 VCS_DENIED at the gateway, logged as a denial on both sides', async () => {
    const response = await gateway.request('private://both-ways/api/v4/projects/secret%2Frepo', { headers: { 'private-token': 'glpat-both-ways-secret' } });
    expect(response.status).to.equal(403);
    const body = JSON.parse((await bodyOf(response)).toString()) as { error: { code: string; message: string } };
    expect(body.error.code).to.equal('VCS_DENIED');
    await waitFor(() => access.some((record) => record.path === '/api/v4/projects/secret%2Frepo'), 5_000, 'the access record');
    const record = access.find((entry) => entry.path === '/api/v4/projects/secret%2Frepo');
    expect(record?.status).to.equal(403);
    expect(agentLog.entries.some((entry) => entry.decision === 'deny' && entry.path === '/api/v4/projects/secret%2Frepo')).to.equal(true);
    expect(JSON.stringify(agentLog.entries)).to.not.include('glpat-both-ways-secret');
  });

  it('answers a VCS response over the 4 MiB message limit with 502 VCS_RESPONSE_TOO_LARGE, and serves on', async () => {
    const response = await gateway.request('private://both-ways/api/v4/projects/platform%2Frepo/repository/archive.zip');
    expect(response.status).to.equal(502);
    const body = JSON.parse((await bodyOf(response)).toString()) as { error: { code: string } };
    expect(body.error.code).to.equal('VCS_RESPONSE_TOO_LARGE');
    const next = await gateway.request('private://both-ways/api/v4/projects/platform%2Frepo');
    expect(next.status).to.equal(200);
    await bodyOf(next);
  });
});
