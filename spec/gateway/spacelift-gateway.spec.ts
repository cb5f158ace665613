import { expect } from 'chai';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AdminServer } from '../../lib/gateway/admin/admin-server.js';
import { FrontDoor } from '../../lib/gateway/front-door.js';
import { Gateway, type AccessLogRecord, type GatewayOptions } from '../../lib/gateway/gateway.js';
import { encodedRequestSize } from '../../lib/gateway/spacelift/request-size.js';
import { MemoryPoolStore } from '../../lib/pools/memory-pool-store.js';
import { privatevcsGatewayService, type SpaceliftRequest } from '../../lib/protocol/spacelift/privatevcs-schema.js';
import { createPool, rotatePoolKey } from '../../lib/pools/pool-service.js';
import { decodePoolToken } from '../../lib/protocol/token.js';
import { FakeSpaceliftAgent, type FakeAgentOptions } from '../helpers/spacelift-agent.js';
import { MemoryLogger } from '../helpers/memory-logger.js';
import { tlsFixtures } from '../helpers/tls-fixtures.js';
import { nextEvent, waitFor } from '../helpers/wait-for.js';

const ADMIN_TOKEN = 'admin-token-for-specs-0123456789';
const MiB = 1024 * 1024;

interface VcsSeen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

interface Setup {
  gateway: Gateway;
  store: MemoryPoolStore;
  logger: MemoryLogger;
  poolId: string;
  key: string;
  address: string;
  vcsUrl: string;
  vcsSeen: VcsSeen[];
  frontDoorUrl: string;
  access: AccessLogRecord[];
  agent(options?: Partial<FakeAgentOptions>): FakeSpaceliftAgent;
}

function listen(server: Server): Promise<AddressInfo> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address() as AddressInfo)));
}

/** The error a promise rejects with (it must reject). */
async function rejection(promise: Promise<unknown>): Promise<{ code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code?: string };
  }
  throw new Error('expected a rejection');
}

/** The VCS: echoes what it got as JSON, unless a test sets `vcsAnswer`. */
let vcsAnswer: ((req: IncomingMessage, res: ServerResponse, body: Buffer) => void) | undefined;

describe('Spacelift agents on the gateway (privatevcs.Gateway/Connect)', function () {
  this.timeout(20_000);
  let setup: Setup;
  let vcs: Server;
  let frontDoor: FrontDoor;
  const agents: FakeSpaceliftAgent[] = [];

  async function start(options: Partial<GatewayOptions> = {}): Promise<Setup> {
    const vcsSeen: VcsSeen[] = [];
    vcs = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        vcsSeen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        if (vcsAnswer !== undefined) return vcsAnswer(req, res, body);
        const echo = JSON.stringify({ method: req.method, url: req.url, header: req.headers['x-custom'] ?? null, body: body.toString('base64') });
        res.writeHead(201, [['content-type', 'application/json'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['x-answer', 'yes']].flat());
        res.end(echo);
      });
    });
    const vcsUrl = `http://127.0.0.1:${(await listen(vcs)).port}`;
    const store = new MemoryPoolStore();
    const logger = new MemoryLogger();
    const gateway = new Gateway({ store, logger, ...options });
    const access: AccessLogRecord[] = [];
    gateway.on('access', (record) => access.push(record));
    await gateway.listen({ host: '127.0.0.1', port: 0 });
    const bound = await gateway.listenSpacelift({ host: '127.0.0.1', port: 0 });
    expect(bound.port).to.be.greaterThan(0);
    const { token, pool } = await createPool(store, { name: 'spacelift-pool', gatewayUrl: 'http://127.0.0.1:1' });
    frontDoor = new FrontDoor(gateway);
    const fd = await frontDoor.listen({ host: '127.0.0.1', port: 0 });
    const address = `127.0.0.1:${bound.port}`;
    const key = decodePoolToken(token).key;
    return {
      gateway,
      store,
      logger,
      poolId: pool.id,
      key,
      address,
      vcsUrl,
      vcsSeen,
      access,
      frontDoorUrl: `http://127.0.0.1:${fd.port}`,
      agent(extra = {}) {
        const agent = new FakeSpaceliftAgent({ address, poolId: pool.id, key, target: vcsUrl, metadata: { team: 'infra' }, ...extra });
        agents.push(agent);
        return agent.start();
      },
    };
  }

  async function connected(count = 1, calls = 1): Promise<void> {
    await waitFor(() => {
      const list = setup.gateway.connections('spacelift-pool');
      return list.length === count && list.reduce((sum, c) => sum + c.streamsIdle, 0) === calls;
    }, 5000, `${count} connection(s) with ${calls} idle call(s)`);
  }

  afterEach(async () => {
    vcsAnswer = undefined;
    for (const agent of agents.splice(0)) agent.stop();
    frontDoor?.destroy();
    setup?.gateway.destroy();
    vcs?.close();
  });

  it('carries a request to the VCS and its answer back intact (Gateway.request and the front door)', async () => {
    setup = await start();
    setup.agent({ parallelism: 2 });
    await connected(1, 2);
    const body = Buffer.from('hello \u00e9 world');
    const response = await setup.gateway.request('private://spacelift-pool/api/v4/projects?search=a%2Fb&x=1', { method: 'POST', headers: { 'x-custom': 'value', 'content-type': 'text/plain' }, body });
    expect(response.status).to.equal(201);
    const text = await new Response(response.body as unknown as ReadableStream).text();
    const echo = JSON.parse(text) as { method: string; url: string; header: string; body: string };
    expect(echo).to.deep.equal({ method: 'POST', url: '/api/v4/projects?search=a%2Fb&x=1', header: 'value', body: body.toString('base64') });
    expect(response.headers['x-answer']).to.equal('yes');
    expect(response.headers['content-length']).to.equal(String(Buffer.byteLength(text)));
    // One value per header name on this protocol: the Go agent sends the first.
    expect(response.headers['set-cookie']).to.deep.equal(['a=1']);
    expect(setup.vcsSeen[0]?.headers['content-type']).to.equal('text/plain');

    const viaFrontDoor = await fetch(`${setup.frontDoorUrl}/spacelift-pool/repos/x?y=z`, { signal: AbortSignal.timeout(5000) });
    expect(viaFrontDoor.status).to.equal(201);
    expect((await viaFrontDoor.json()) as { url: string }).to.include({ url: '/repos/x?y=z', method: 'GET' });

    await waitFor(() => setup.access.length === 2, 2000, 'two access records');
    const record = setup.access[0] as AccessLogRecord;
    const connection = setup.gateway.connections()[0];
    expect(record).to.include({ pool: 'spacelift-pool', status: 201, outcome: 'completed', connectionId: connection?.id, bytesOut: body.length });
    expect(record.agentId).to.equal('spacelift@127.0.0.1');
    expect(connection?.requestsServed).to.equal(2);
  });

  it('speaks TLS on the Spacelift listener when the gateway has TLS', async () => {
    const tls = tlsFixtures();
    setup = await start({ tls: { cert: tls.cert, key: tls.key } });
    const plain = setup.agent({ metadata: { team: 'plain' } });
    setup.agent({ ca: tls.ca });
    await connected();
    await waitFor(() => plain.ends.length === 1, 5000, 'the cleartext call to fail');
    expect(plain.ends[0]?.code).to.equal(GrpcStatus.UNAVAILABLE);
    const response = await setup.gateway.request('private://spacelift-pool/over-tls');
    expect(response.status).to.equal(201);
    expect((JSON.parse(await new Response(response.body as unknown as ReadableStream).text()) as { url: string }).url).to.equal('/over-tls');
  });

  it('refuses a wrong key with UNAUTHENTICATED (the key in no message) and routes nothing to it', async () => {
    setup = await start();
    const refused = nextEvent<{ reason: string }>(setup.gateway, 'agent-refused');
    const wrongKey = `${setup.key.slice(0, -4)}AAAA`;
    const agent = setup.agent({ key: wrongKey });
    expect((await refused).reason).to.equal('bad_key');
    await waitFor(() => agent.ends.length === 1, 5000, 'the call to end');
    expect(agent.ends[0]?.code).to.equal(GrpcStatus.UNAUTHENTICATED);
    expect(agent.ends[0]?.details).to.not.include(wrongKey);
    expect(JSON.stringify(setup.logger.entries)).to.not.include(wrongKey);
    expect(setup.gateway.connections()).to.have.length(0);
    expect((await rejection(setup.gateway.request('private://spacelift-pool/x'))).code).to.equal('VCS_NO_AGENT');
  });

  it('refuses an unknown pool and malformed metadata tags', async () => {
    setup = await start();
    const unknown = setup.agent({ poolId: '01ARZ3NDEKTSV4RRFFQ69G5FAV' });
    await waitFor(() => unknown.ends.length === 1, 5000, 'the call to end');
    expect(unknown.ends[0]?.code).to.equal(GrpcStatus.UNAUTHENTICATED);
    const badTags = setup.agent({ metadata: { ['x'.repeat(100)]: 'too long a name' } });
    await waitFor(() => badTags.ends.length === 1, 5000, 'the call to end');
    expect(badTags.ends[0]?.code).to.equal(GrpcStatus.INVALID_ARGUMENT);
    expect(setup.gateway.connections()).to.have.length(0);
  });

  it('serves concurrent requests over parallel calls, one at a time per call', async () => {
    setup = await start();
    let inFlight = 0;
    let most = 0;
    vcsAnswer = (req, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      setImmediate(() => {
        inFlight--;
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`answer ${req.url ?? ''}`);
      });
    };
    setup.agent({ parallelism: 4 });
    await connected(1, 4);
    const texts = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const response = await setup.gateway.request(`private://spacelift-pool/item/${i}`);
        return new Response(response.body as unknown as ReadableStream).text();
      }),
    );
    expect(texts).to.deep.equal(Array.from({ length: 20 }, (_, i) => `answer /item/${i}`));
    expect(most).to.be.at.most(4);
    await connected(1, 4);
    expect(setup.gateway.connections()[0]?.requestsServed).to.equal(20);
  });

  it('takes a Go agent without metadata tags (JSON null)', async () => {
    setup = await start();
    setup.agent({ metadataJson: 'null' });
    await connected();
    expect(setup.gateway.connections()[0]?.metadata).to.deep.equal({});
  });

  it('lists the agent in the admin connections API with protocol spacelift, its calls grouped', async () => {
    setup = await start();
    const admin = new AdminServer({ gateway: setup.gateway, store: setup.store, token: ADMIN_TOKEN, gatewayUrl: 'http://127.0.0.1:1' });
    const at = await admin.listen({ host: '127.0.0.1', port: 0 });
    try {
      setup.agent({ parallelism: 3 });
      await connected(1, 3);
      const res = await fetch(`http://127.0.0.1:${at.port}/api/v1/connections`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, signal: AbortSignal.timeout(5000) });
      const { connections } = (await res.json()) as { connections: Array<Record<string, unknown>> };
      expect(connections).to.have.length(1);
      expect(connections[0]).to.include({ protocol: 'spacelift', poolName: 'spacelift-pool', poolId: setup.poolId, streamsIdle: 3, keyGeneration: 1, agentId: 'spacelift@127.0.0.1' });
      expect(connections[0]?.metadata).to.deep.equal({ team: 'infra' });
      expect(connections[0]?.agentVersion).to.match(/^grpc-node-js\//);
      const pools = await fetch(`http://127.0.0.1:${at.port}/api/v1/pools`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, signal: AbortSignal.timeout(5000) });
      const { pools: list } = (await pools.json()) as { pools: Array<Record<string, unknown>> };
      expect(list[0]).to.include({ name: 'spacelift-pool', connections: 1, streamsIdle: 3 });
    } finally {
      admin.destroy();
    }
  });

  it('answers an agent error Response with 502 VCS_AGENT_ERROR', async () => {
    setup = await start();
    setup.agent({ onRequest: (_request, id) => ({ id, error: "couldn't do request: dial tcp 10.0.0.1:443: i/o timeout" }) });
    await connected();
    const res = await fetch(`${setup.frontDoorUrl}/spacelift-pool/x`, { signal: AbortSignal.timeout(5000) });
    expect(res.status).to.equal(502);
    expect(res.headers.get('vcs-agent-error')).to.equal('VCS_AGENT_ERROR');
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error).to.deep.equal({ code: 'VCS_AGENT_ERROR', message: "couldn't do request: dial tcp 10.0.0.1:443: i/o timeout" });
    await waitFor(() => setup.access.length === 1, 2000, 'the access record');
    expect(setup.access[0]).to.include({ status: 502, errorCode: 'VCS_AGENT_ERROR' });
  });

  it('answers "VCS_DENIED: <reason>" with 403 VCS_DENIED, logged as a denial', async () => {
    setup = await start();
    setup.agent({ onRequest: (_request, id) => ({ id, error: 'VCS_DENIED: POST /admin is not allowed' }) });
    await connected();
    const response = await setup.gateway.request('private://spacelift-pool/admin', { method: 'POST', body: 'x' });
    expect(response.status).to.equal(403);
    expect(response.headers['vcs-agent-error']).to.equal('VCS_DENIED');
    const body = JSON.parse(await new Response(response.body as unknown as ReadableStream).text()) as { error: { code: string; message: string } };
    expect(body.error).to.deep.equal({ code: 'VCS_DENIED', message: 'POST /admin is not allowed' });
    await waitFor(() => setup.access.length === 1, 2000, 'the access record');
    expect(setup.access[0]).to.include({ status: 403, errorCode: 'VCS_DENIED', outcome: 'completed' });
  });

  it('answers a request body over 4 MiB with 413 VCS_BODY_TOO_LARGE without reaching the agent, and serves on', async () => {
    setup = await start();
    const agent = setup.agent();
    await connected();
    const res = await fetch(`${setup.frontDoorUrl}/spacelift-pool/upload`, { method: 'POST', body: Buffer.alloc(4 * MiB + 1, 0x61), signal: AbortSignal.timeout(10_000) });
    expect(res.status).to.equal(413);
    expect(res.headers.get('vcs-gateway-error')).to.equal('VCS_BODY_TOO_LARGE');
    expect(agent.received.filter((m) => m.request === 'httpRequest')).to.have.length(0);
    expect((await rejection(setup.gateway.request('private://spacelift-pool/upload', { method: 'POST', body: Buffer.alloc(4 * MiB) }))).code).to.equal('VCS_BODY_TOO_LARGE');
    expect(setup.vcsSeen).to.have.length(0);
    // Just under the limit (with its head) goes through.
    vcsAnswer = (_req, res) => {
      res.writeHead(201, { 'content-type': 'text/plain' });
      res.end('stored');
    };
    const fits = await setup.gateway.request('private://spacelift-pool/upload', { method: 'POST', body: Buffer.alloc(4 * MiB - 1024, 0x62) });
    expect(fits.status).to.equal(201);
    fits.body.resume();
    await waitFor(() => setup.vcsSeen.length === 1, 5000, 'the VCS request');
    expect(setup.vcsSeen[0]?.body.length).to.equal(4 * MiB - 1024);
  });

  it('reads a streamed body whole before sending it; a body that stalls fails with VCS_BODY_IDLE_TIMEOUT and frees the call', async () => {
    setup = await start({ requestBodyIdleTimeoutMs: 100 });
    const agent = setup.agent();
    await connected();
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setImmediate(resolve));
        yield Buffer.from(`part-${i};`);
      }
    }
    const response = await setup.gateway.request('private://spacelift-pool/stream', { method: 'PUT', body: chunks() });
    expect(response.status).to.equal(201);
    response.body.resume();
    await waitFor(() => setup.vcsSeen.length === 1, 5000, 'the VCS request');
    expect(setup.vcsSeen[0]?.body.toString()).to.equal('part-0;part-1;part-2;part-3;part-4;');
    let stalled: (() => void) | undefined;
    async function* stall(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('first');
      await new Promise<void>((resolve) => {
        stalled = resolve;
      });
    }
    expect((await rejection(setup.gateway.request('private://spacelift-pool/stall', { method: 'PUT', body: stall() }))).code).to.equal('VCS_BODY_IDLE_TIMEOUT');
    expect(agent.received.filter((m) => m.request === 'httpRequest')).to.have.length(1);
    stalled?.();
    await connected();
    const again = await setup.gateway.request('private://spacelift-pool/after');
    expect(again.status).to.equal(201);
    again.body.resume();
  });

  it('refuses a repeated Set-Cookie request header with 400 VCS_HEADER_NOT_REPRESENTABLE', async () => {
    setup = await start();
    setup.agent();
    await connected();
    expect((await rejection(setup.gateway.request('private://spacelift-pool/x', { headers: ['set-cookie', 'a=1', 'set-cookie', 'b=2'] }))).code).to.equal('VCS_HEADER_NOT_REPRESENTABLE');
    expect(setup.vcsSeen).to.have.length(0);
  });

  it('answers a response over the message limit with a typed 502, not a hang, and a new call serves again', async () => {
    setup = await start();
    vcsAnswer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.alloc(5 * MiB));
    };
    const agent = setup.agent();
    await connected();
    const res = await fetch(`${setup.frontDoorUrl}/spacelift-pool/big`, { signal: AbortSignal.timeout(10_000) });
    expect(res.status).to.equal(502);
    expect(res.headers.get('vcs-gateway-error')).to.equal('VCS_STREAM_RESET');
    await waitFor(() => setup.gateway.connections().length === 0, 5000, 'the call to leave the route');
    vcsAnswer = undefined;
    agent.open();
    await connected();
    const again = await setup.gateway.request('private://spacelift-pool/small');
    expect(again.status).to.equal(201);
    again.body.resume();
  });

  it('fails a request whose call dies mid-exchange with 502 VCS_STREAM_RESET; a re-connected call serves again', async () => {
    setup = await start();
    let die = true;
    const agent = setup.agent({ onRequest: () => (die ? 'die' : 'vcs') });
    await connected();
    const disconnected = nextEvent(setup.gateway, 'agent-disconnected');
    expect((await rejection(setup.gateway.request('private://spacelift-pool/x'))).code).to.equal('VCS_STREAM_RESET');
    await disconnected;
    expect(setup.gateway.connections()).to.have.length(0);
    await waitFor(() => setup.access.length === 1, 2000, 'the access record');
    expect(setup.access[0]).to.include({ outcome: 'failed', errorCode: 'VCS_STREAM_RESET' });
    die = false;
    agent.open();
    await connected();
    const response = await setup.gateway.request('private://spacelift-pool/y');
    expect(response.status).to.equal(201);
    response.body.resume();
  });

  it('keeps a call whose caller gave up busy until its late Response, then serves on it', async () => {
    setup = await start();
    let release: (() => void) | undefined;
    vcsAnswer = (_req, res) => {
      release = () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('late');
      };
    };
    setup.agent();
    await connected();
    const controller = new AbortController();
    const first = setup.gateway.request('private://spacelift-pool/slow', { signal: controller.signal });
    await waitFor(() => release !== undefined, 5000, 'the VCS to get the request');
    controller.abort();
    expect((await rejection(first)).code).to.equal('VCS_ABORTED');
    expect(setup.gateway.connections()[0]).to.include({ streamsIdle: 0 });
    vcsAnswer = undefined;
    (release as () => void)();
    await connected();
    const second = await setup.gateway.request('private://spacelift-pool/next');
    expect(second.status).to.equal(201);
    const echo = JSON.parse(await new Response(second.body as unknown as ReadableStream).text()) as { url: string };
    expect(echo.url).to.equal('/next');
  });

  it('pings idle calls; a call that does not answer is closed and leaves the route', async () => {
    setup = await start({ keepalive: { intervalMs: 50, timeoutMs: 500 } });
    const healthy = setup.agent();
    await connected();
    await waitFor(() => healthy.pingsAnswered >= 2, 5000, 'two answered pings');
    expect(setup.gateway.connections()).to.have.length(1);
    healthy.stop();
    await waitFor(() => setup.gateway.connections().length === 0, 5000, 'the stopped agent to leave');
    const silent = setup.agent({ answerPings: false, metadata: { team: 'silent' } });
    await connected();
    await waitFor(() => silent.ends.length === 1, 5000, 'the silent call to be closed');
    expect(silent.ends[0]?.code).to.equal(GrpcStatus.UNAVAILABLE);
    await waitFor(() => setup.gateway.connections().length === 0, 5000, 'the silent call to leave the route');
    expect(setup.logger.entries.some((e) => e.message === 'spacelift agent call closed')).to.equal(true);
  });

  it('closes the calls of a deleted pool and refuses them when they call again', async () => {
    setup = await start();
    const agent = setup.agent({ parallelism: 2 });
    await connected(1, 2);
    const evicted = nextEvent<{ reason: string }>(setup.gateway, 'agent-evicted');
    await setup.store.delete(setup.poolId);
    expect(setup.gateway.disconnectPool(setup.poolId)).to.equal(1);
    expect((await evicted).reason).to.equal('pool_deleted');
    await waitFor(() => agent.ends.length === 2, 5000, 'both calls to end');
    expect(agent.ends.every((end) => end.code === 0)).to.equal(true);
    agent.open();
    await waitFor(() => agent.ends.length === 3, 5000, 'the new call to be refused');
    expect(agent.ends[2]?.code).to.equal(GrpcStatus.UNAUTHENTICATED);
  });

  it('closes the calls of a replaced key once its grace period is over (revalidate)', async () => {
    setup = await start();
    const agent = setup.agent();
    await connected();
    await rotatePoolKey(setup.store, setup.poolId, { graceMs: 0, gatewayUrl: 'http://127.0.0.1:1' });
    expect(await setup.gateway.revalidate()).to.equal(1);
    await waitFor(() => agent.ends.length === 1, 5000, 'the call to end');
    expect(setup.gateway.connections()).to.have.length(0);
  });

  it('close() with a Spacelift agent connected lets the in-flight request finish and does not hang', async () => {
    setup = await start();
    let release: (() => void) | undefined;
    vcsAnswer = (_req, res) => {
      release = () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('finished');
      };
    };
    const agent = setup.agent({ parallelism: 2 });
    await connected(1, 2);
    const inFlight = setup.gateway.request('private://spacelift-pool/slow');
    await waitFor(() => release !== undefined, 5000, 'the VCS to get the request');
    const closed = setup.gateway.close({ timeoutMs: 5000 });
    await waitFor(() => agent.ends.length === 1, 5000, 'the idle call to end');
    (release as () => void)();
    const response = await inFlight;
    expect(response.status).to.equal(200);
    expect(await new Response(response.body as unknown as ReadableStream).text()).to.equal('finished');
    await closed;
    await waitFor(() => agent.ends.length === 2, 5000, 'the busy call to end after its exchange');
    expect(agent.ends.every((end) => end.code === 0)).to.equal(true);
  });

  it('close() with a call that never answers ends it after the timeout, failing its request', async () => {
    setup = await start();
    setup.agent({ onRequest: () => 'hang' });
    await connected();
    const inFlight = rejection(setup.gateway.request('private://spacelift-pool/never'));
    await waitFor(() => setup.gateway.connections()[0]?.streamsBusy === 1, 5000, 'the request on the call');
    const started = Date.now();
    await setup.gateway.close({ timeoutMs: 300 });
    expect(Date.now() - started).to.be.below(3000);
    expect((await inFlight).code).to.equal('VCS_STREAM_RESET');
  });

  it('destroy() ends the calls at once', async () => {
    setup = await start();
    const agent = setup.agent({ parallelism: 2 });
    await connected(1, 2);
    setup.gateway.destroy();
    await waitFor(() => agent.ends.length === 2, 5000, 'both calls to end');
  });
});

describe('Spacelift request size (encodedRequestSize)', () => {
  it('is an upper bound of the protobuf encoding, at most a few bytes over', () => {
    const serialize = privatevcsGatewayService().Connect?.responseSerialize as (value: SpaceliftRequest) => Buffer;
    const cases: SpaceliftRequest[] = [
      { id: 'a', httpRequest: { path: '', method: '', headers: {}, body: Buffer.alloc(0) } },
      { id: '0c7b0f9e-6a37-4b8e-9f57-0d6c0a7a3b11', httpRequest: { path: '/api/v4/projects?x=é', method: 'POST', headers: { accept: '*/*', 'x-long': 'v'.repeat(300) }, body: Buffer.alloc(200) } },
      { id: 'b', httpRequest: { path: '/p', method: 'PUT', headers: { a: 'b' }, body: Buffer.alloc(4 * MiB - 100) } },
    ];
    for (const request of cases) {
      const actual = serialize(request).length;
      const bound = encodedRequestSize(request);
      expect(bound).to.be.at.least(actual);
      expect(bound - actual).to.be.at.most(8);
    }
  });
});
