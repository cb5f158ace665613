import { expect } from 'chai';
import { TunnelClient } from '../../lib/agent/tunnel-client.js';
import type { AgentConnectionInfo } from '../../lib/gateway/agent-connection.js';
import { decodePoolToken } from '../../lib/protocol/token.js';
import { testPolicy } from '../helpers/test-policy.js';
import { nextEvent, waitFor } from '../helpers/wait-for.js';
import { ADMIN_TOKEN, startAdminHarness, type AdminHarness } from './admin-harness.js';

describe('admin API', () => {
  let h: AdminHarness;
  const extra: TunnelClient[] = [];

  beforeEach(async () => {
    h = await startAdminHarness({ client: { metadata: { region: 'eu-west', rack: 'r7' }, agentId: 'agent-one' } });
  });

  afterEach(async () => {
    for (const client of extra.splice(0)) client.destroy();
    await h.close();
  });

  async function agentFor(token: string, agentId: string): Promise<TunnelClient> {
    const client = new TunnelClient({ token, target: h.vcsUrl, policy: testPolicy, parallelism: 2, gatewayConnections: 1, agentId, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
    extra.push(client);
    await client.start();
    return client;
  }

  describe('authentication', () => {
    const endpoints: Array<[string, string]> = [
      ['GET', '/api/v1/pools'],
      ['POST', '/api/v1/pools'],
      ['GET', '/api/v1/pools/test-pool'],
      ['PATCH', '/api/v1/pools/test-pool'],
      ['DELETE', '/api/v1/pools/test-pool'],
      ['POST', '/api/v1/pools/test-pool/rotate'],
      ['GET', '/api/v1/pools/test-pool/connections'],
      ['GET', '/api/v1/connections'],
      ['GET', '/api/v1/access-log'],
      ['GET', '/api/v1/pools/no-such-pool'],
      ['GET', '/api/v1/no-such-endpoint'],
      ['GET', '/metrics'],
    ];

    it('answers 401 with WWW-Authenticate to every endpoint without a token, whatever the pool or path', async () => {
      for (const [method, path] of endpoints) {
        const res = await h.call(method, path, { token: null });
        expect(res.status, `${method} ${path}`).to.equal(401);
        expect(res.body.error.code).to.equal('VCS_ADMIN_UNAUTHORIZED');
        expect(res.headers.get('www-authenticate')).to.match(/^Bearer/);
      }
      expect(await h.store.get('test-pool')).to.not.equal(undefined);
    });

    it('answers 401 to a wrong token, a token of another length and a non-bearer scheme', async () => {
      for (const token of [ADMIN_TOKEN.replace(/.$/, 'x'), 'short', `${ADMIN_TOKEN}x`]) {
        expect((await h.call('GET', '/api/v1/pools', { token })).status).to.equal(401);
      }
      const res = await fetch(`${h.adminUrl}/api/v1/pools`, { headers: { authorization: `Basic ${Buffer.from(`x:${ADMIN_TOKEN}`).toString('base64')}` } });
      expect(res.status).to.equal(401);
    });

    it('serves /healthz and /readyz without a token; /readyz turns 503 while the gateway shuts down', async () => {
      expect((await h.call('GET', '/healthz', { token: null })).body).to.deep.equal({ status: 'ok' });
      expect((await h.call('GET', '/readyz', { token: null })).status).to.equal(200);
      const closing = h.gateway.close({ timeoutMs: 2000 });
      const res = await h.call('GET', '/readyz', { token: null });
      expect(res.status).to.equal(503);
      expect(res.body).to.deep.equal({ status: 'not-ready', reason: 'shutting down' });
      expect((await h.call('GET', '/healthz', { token: null })).status).to.equal(200);
      await closing;
    });

    it('answers 404 to an unknown endpoint and 405 with Allow to a wrong method', async () => {
      const missing = await h.call('GET', '/api/v1/nothing');
      expect(missing.status).to.equal(404);
      expect(missing.body.error.code).to.equal('VCS_ADMIN_NOT_FOUND');
      const wrong = await h.call('PUT', '/api/v1/pools');
      expect(wrong.status).to.equal(405);
      expect(wrong.headers.get('allow')).to.equal('GET, POST');
      expect(wrong.body.error.code).to.equal('VCS_ADMIN_METHOD_NOT_ALLOWED');
    });
  });

  describe('POST /api/v1/pools', () => {
    it('creates a pool and returns its token once; the store keeps only a hash', async () => {
      const res = await h.call('POST', '/api/v1/pools', { body: { name: 'gitlab-eu', description: 'EU GitLab' } });
      expect(res.status).to.equal(201);
      expect(res.body.pool).to.include({ name: 'gitlab-eu', description: 'EU GitLab', connections: 0, keyGeneration: 1 });
      const token = decodePoolToken(res.body.token);
      expect(token.pool_ulid).to.equal(res.body.pool.id);
      expect(token.host).to.equal(h.gatewayUrl);
      expect(res.body.pool).to.not.have.property('keyHash');
      const stored = await h.store.get('gitlab-eu');
      expect(JSON.stringify(stored)).to.not.include(token.key);
      // Never shown again.
      const again = await h.call('GET', '/api/v1/pools/gitlab-eu');
      expect(JSON.stringify(again.body)).to.not.include(token.key);
      expect(again.body.pool).to.not.have.property('token');
      // And the token works.
      const agent = await agentFor(res.body.token, 'new-agent');
      expect(agent.connectionId).to.be.a('string');
    });

    it('refuses bad input with 400 naming the field, a taken name with 409, bad bodies with 400/413/415', async () => {
      const cases: Array<[unknown, string]> = [
        [{}, 'name'],
        [{ name: 42 }, 'name'],
        [{ name: 'Not_A_Label' }, 'name'],
        [{ name: '-x' }, 'name'],
        [{ name: 'a'.repeat(64) }, 'name'],
        [{ name: 'ok', description: 7 }, 'description'],
        [{ name: 'ok', description: 'line\nbreak' }, 'description'],
        [{ name: 'ok', description: 'x'.repeat(1025) }, 'description'],
        [{ name: 'ok', owner: 'me' }, 'owner'],
      ];
      for (const [body, field] of cases) {
        const res = await h.call('POST', '/api/v1/pools', { body });
        expect(res.status, JSON.stringify(body)).to.equal(400);
        expect(res.body.error.code).to.equal('VCS_INVALID_OPTION');
        expect(res.body.error.field, JSON.stringify(body)).to.equal(field);
      }
      const taken = await h.call('POST', '/api/v1/pools', { body: { name: 'test-pool' } });
      expect(taken.status).to.equal(409);
      expect(taken.body.error).to.include({ code: 'VCS_POOL_EXISTS', field: 'name' });
      expect((await h.call('POST', '/api/v1/pools', { raw: '{"name":' })).status).to.equal(400);
      expect((await h.call('POST', '/api/v1/pools', { raw: '["x"]' })).status).to.equal(400);
      expect((await h.call('POST', '/api/v1/pools', { raw: 'name=x', contentType: 'application/x-www-form-urlencoded' })).status).to.equal(415);
      expect((await h.call('POST', '/api/v1/pools', { body: { name: 'big', description: 'x'.repeat(70 * 1024) } })).status).to.equal(413);
      expect((await h.store.list()).map((pool) => pool.name)).to.deep.equal(['test-pool']);
    });
  });

  describe('GET /api/v1/pools and /api/v1/pools/{pool}', () => {
    it('lists pools with their live connection and stream counts', async () => {
      await h.call('POST', '/api/v1/pools', { body: { name: 'empty-pool' } });
      const res = await h.call('GET', '/api/v1/pools');
      expect(res.status).to.equal(200);
      const byName = Object.fromEntries(res.body.pools.map((pool: { name: string }) => [pool.name, pool]));
      expect(byName['test-pool']).to.include({ connections: 1, streamsIdle: 4, streamsBusy: 0, queued: 0, description: 'spec pool' });
      expect(byName['empty-pool']).to.include({ connections: 0, streamsIdle: 0 });
      expect(JSON.stringify(res.body)).to.not.match(/keyHash/);
    });

    it('gets a pool by name or id; 404 for an unknown pool', async () => {
      const byName = await h.call('GET', '/api/v1/pools/test-pool');
      expect(byName.status).to.equal(200);
      const byId = await h.call('GET', `/api/v1/pools/${byName.body.pool.id}`);
      expect(byId.body.pool.name).to.equal('test-pool');
      for (const pool of ['nope', '01ARZ3NDEKTSV4RRFFQ69G5FAV', '%E0%A4%A']) {
        const res = await h.call('GET', `/api/v1/pools/${pool}`);
        expect(res.status, pool).to.equal(404);
        expect(res.body.error.code).to.equal('VCS_POOL_NOT_FOUND');
      }
    });
  });

  describe('PATCH /api/v1/pools/{pool}', () => {
    it('updates the description', async () => {
      const res = await h.call('PATCH', '/api/v1/pools/test-pool', { body: { description: 'Moved to rack 9' } });
      expect(res.status).to.equal(200);
      expect(res.body.pool.description).to.equal('Moved to rack 9');
      expect(res.body.pool.updatedAt).to.be.a('string');
      expect((await h.store.get('test-pool'))?.description).to.equal('Moved to rack 9');
    });

    it('refuses a missing or malformed description and unknown fields with 400; unknown pool 404', async () => {
      for (const [body, field] of [[{}, 'description'], [{ description: null }, 'description'], [{ description: 'a\u0007b' }, 'description'], [{ description: 'x', name: 'y' }, 'name']] as const) {
        const res = await h.call('PATCH', '/api/v1/pools/test-pool', { body });
        expect(res.status).to.equal(400);
        expect(res.body.error.field).to.equal(field);
      }
      expect((await h.call('PATCH', '/api/v1/pools/nope', { body: { description: 'x' } })).status).to.equal(404);
      expect((await h.store.get('test-pool'))?.description).to.equal('spec pool');
    });
  });

  describe('connections', () => {
    it('lists a pool\'s live connections with agent id, address, vendor, version, tags, streams and requests served', async () => {
      await h.request('/allowed/one');
      const res = await h.call('GET', '/api/v1/pools/test-pool/connections');
      expect(res.status).to.equal(200);
      expect(res.body.connections).to.have.length(1);
      const connection = res.body.connections[0] as AgentConnectionInfo;
      expect(connection).to.include({ poolName: 'test-pool', agentId: 'agent-one', vendor: 'test', streamsBusy: 0, streamsIdle: 4, requestsServed: 1, keyGeneration: 1 });
      expect(connection.metadata).to.deep.equal({ region: 'eu-west', rack: 'r7' });
      expect(connection.remoteAddress).to.match(/^127\.0\.0\.1:\d+$/);
      expect(Date.parse(connection.connectedAt)).to.be.a('number').and.not.NaN;
      expect(connection.agentVersion).to.be.a('string').and.not.equal('');
      const all = await h.call('GET', '/api/v1/connections');
      expect(all.body.connections.map((c: AgentConnectionInfo) => c.id)).to.deep.equal([connection.id]);
      const filtered = await h.call('GET', '/api/v1/connections?pool=test-pool');
      expect(filtered.body.connections).to.have.length(1);
    });

    it('answers 404 for an unknown pool and 400 for an unknown parameter', async () => {
      expect((await h.call('GET', '/api/v1/pools/nope/connections')).status).to.equal(404);
      expect((await h.call('GET', '/api/v1/connections?pool=nope')).status).to.equal(404);
      const bad = await h.call('GET', '/api/v1/connections?pol=test-pool');
      expect(bad.status).to.equal(400);
      expect(bad.body.error.field).to.equal('pol');
    });
  });

  describe('GET /api/v1/access-log', () => {
    it('records each request with the agent\'s request id, newest first, without secret or body', async () => {
      const records: Array<Record<string, unknown>> = [];
      h.client.on('request', (record) => records.push({ ...record }));
      await h.request('/allowed/a?private_token=SECRET-QUERY-VALUE', { headers: { authorization: 'Bearer SECRET-HEADER-VALUE' } });
      await h.request('/allowed/b', { method: 'POST', body: 'BODY-CONTENT-123' });
      await h.request('/denied/c');
      await h.gateway.request('private://no-such-pool/allowed/x').catch(() => undefined);
      const res = await h.call('GET', '/api/v1/access-log');
      expect(res.status).to.equal(200);
      const entries = res.body.entries as Array<Record<string, unknown>>;
      expect(entries.map((e) => [e.pool, e.method, String(e.path).replace(/\?.*/, ''), e.status, e.decision, e.outcome])).to.deep.equal([
        ['no-such-pool', 'GET', '/allowed/x', 0, 'none', 'rejected'],
        ['test-pool', 'GET', '/denied/c', 403, 'deny', 'completed'],
        ['test-pool', 'POST', '/allowed/b', 200, 'allow', 'completed'],
        ['test-pool', 'GET', '/allowed/a', 200, 'allow', 'completed'],
      ]);
      expect(entries[0]?.errorCode).to.equal('VCS_POOL_NOT_FOUND');
      // The request id is the id of the agent's own log line for the same request.
      await waitFor(() => records.length === 3, 2000, 'agent records');
      expect(entries.slice(1, 4).map((e) => e.requestId).reverse()).to.deep.equal(records.map((r) => r.id));
      const post = entries[2] as Record<string, unknown>;
      expect(post.bytesOut).to.equal('BODY-CONTENT-123'.length);
      expect(post.bytesIn).to.be.greaterThan(0);
      expect(post.agentId).to.equal('agent-one');
      expect(post.connectionId).to.be.a('string');
      expect(post.durationMs).to.be.a('number');
      expect(Date.parse(String(post.time))).to.not.be.NaN;
      const text = JSON.stringify(res.body);
      for (const secret of ['SECRET-QUERY-VALUE', 'SECRET-HEADER-VALUE', 'BODY-CONTENT-123']) expect(text).to.not.include(secret);
    });

    it('filters by pool, status, decision, outcome, time and limit', async () => {
      await h.request('/allowed/a');
      await h.request('/denied/b');
      await h.gateway.request('private://no-such-pool/allowed/x').catch(() => undefined);
      const paths = async (query: string): Promise<string[]> => {
        const res = await h.call('GET', `/api/v1/access-log?${query}`);
        expect(res.status, query).to.equal(200);
        return res.body.entries.map((e: { path: string }) => e.path);
      };
      expect(await paths('pool=test-pool')).to.deep.equal(['/denied/b', '/allowed/a']);
      const id = (await h.store.get('test-pool'))?.id as string;
      expect(await paths(`pool=${id}`)).to.deep.equal(['/denied/b', '/allowed/a']);
      expect(await paths('status=403')).to.deep.equal(['/denied/b']);
      expect(await paths('status=2xx')).to.deep.equal(['/allowed/a']);
      expect(await paths('status=0')).to.deep.equal(['/allowed/x']);
      expect(await paths('decision=deny')).to.deep.equal(['/denied/b']);
      expect(await paths('decision=allow')).to.deep.equal(['/allowed/a']);
      expect(await paths('outcome=rejected')).to.deep.equal(['/allowed/x']);
      expect(await paths('limit=1')).to.deep.equal(['/allowed/x']);
      expect(await paths(`since=${Date.now() + 60_000}`)).to.deep.equal([]);
      expect(await paths(`until=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).to.have.length(3);
      expect(await paths('until=2000-01-01T00:00:00Z')).to.deep.equal([]);
    });

    it('refuses malformed filters with 400 naming the parameter', async () => {
      const cases: Array<[string, string]> = [
        ['status=abc', 'status'],
        ['status=99', 'status'],
        ['status=6xx', 'status'],
        ['decision=maybe', 'decision'],
        ['outcome=fine', 'outcome'],
        ['since=yesterday', 'since'],
        ['until=2026-13-45T00:00:00Z', 'until'],
        ['limit=0', 'limit'],
        ['limit=x', 'limit'],
        ['pool=', 'pool'],
        ['status=200&status=404', 'status'],
        ['colour=red', 'colour'],
      ];
      for (const [query, field] of cases) {
        const res = await h.call('GET', `/api/v1/access-log?${query}`);
        expect(res.status, query).to.equal(400);
        expect(res.body.error.field, query).to.equal(field);
      }
    });
  });

  describe('POST /api/v1/pools/{pool}/rotate', () => {
    it('returns a new token; the old key works during the grace period, then its connections are closed and it is refused', async () => {
      const oldToken = h.token;
      const oldConnection = h.client.connectionId;
      const evicted = nextEvent<{ connection: AgentConnectionInfo; reason: string }>(h.gateway, 'agent-evicted', 5000);
      const res = await h.call('POST', '/api/v1/pools/test-pool/rotate', { body: { graceSeconds: 1 } });
      expect(res.status).to.equal(200);
      expect(res.body.pool.keyGeneration).to.equal(2);
      expect(Date.parse(res.body.previousKeyExpiresAt)).to.be.greaterThan(Date.now());
      const fresh = decodePoolToken(res.body.token);
      expect(fresh.key).to.not.equal(decodePoolToken(oldToken).key);
      // During the grace period: the old connection stays, a second agent with the old key is accepted.
      expect(h.gateway.connections('test-pool').map((c) => c.id)).to.deep.equal([oldConnection]);
      await agentFor(oldToken, 'old-key-agent');
      const newAgent = await agentFor(res.body.token, 'new-key-agent');
      const generations = Object.fromEntries(h.gateway.connections('test-pool').map((c) => [c.agentId, c.keyGeneration]));
      expect(generations).to.deep.equal({ 'agent-one': 1, 'old-key-agent': 1, 'new-key-agent': 2 });
      expect((await h.request('/allowed/during')).status).to.equal(200);
      // After it: both old-key connections are closed, the new one stays, the old key is refused.
      const first = await evicted;
      expect(first.reason).to.equal('key_expired');
      const refused = nextEvent<{ reason: string }>(h.gateway, 'agent-refused', 5000);
      await waitFor(() => h.gateway.connections('test-pool').every((c) => c.keyGeneration === 2), 5000, 'old-key connections to close');
      expect((await refused).reason).to.equal('bad_key');
      expect(h.gateway.connections('test-pool').map((c) => c.agentId)).to.deep.equal(['new-key-agent']);
      expect(newAgent.connectionId).to.be.a('string');
      expect((await h.request('/allowed/after')).status).to.equal(200);
      const stored = await h.store.get('test-pool');
      expect(JSON.stringify(stored)).to.not.include(fresh.key);
    });

    it('with a grace period of 0 closes old-key connections at once; refuses bad grace periods with 400 and unknown pools with 404', async () => {
      for (const graceSeconds of [-1, 'soon', 31 * 24 * 3600, null]) {
        const res = await h.call('POST', '/api/v1/pools/test-pool/rotate', { body: { graceSeconds } });
        expect(res.status, String(graceSeconds)).to.equal(400);
        expect(res.body.error.field).to.equal('graceSeconds');
      }
      expect((await h.call('POST', '/api/v1/pools/test-pool/rotate', { body: { grace: 1 } })).body.error.field).to.equal('grace');
      expect((await h.call('POST', '/api/v1/pools/nope/rotate', { body: { graceSeconds: 1 } })).status).to.equal(404);
      expect((await h.store.get('test-pool'))?.keyGeneration).to.equal(1);
      const evicted = nextEvent<{ reason: string }>(h.gateway, 'agent-evicted', 3000);
      const res = await h.call('POST', '/api/v1/pools/test-pool/rotate', { body: { graceSeconds: 0 } });
      expect(res.status).to.equal(200);
      expect((await evicted).reason).to.equal('key_expired');
      await waitFor(() => h.gateway.connections('test-pool').length === 0, 5000, 'the old connection to close');
    });
  });

  describe('DELETE /api/v1/pools/{pool}', () => {
    it('deletes the pool, disconnects its agents and refuses them afterwards; requests get 404', async () => {
      const disconnected = nextEvent<AgentConnectionInfo>(h.gateway, 'agent-disconnected', 5000);
      const res = await h.call('DELETE', '/api/v1/pools/test-pool');
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.include({ disconnected: 1 });
      expect(res.body.pool.name).to.equal('test-pool');
      const refused = nextEvent<{ reason: string }>(h.gateway, 'agent-refused', 5000);
      expect((await disconnected).poolName).to.equal('test-pool');
      expect((await refused).reason).to.equal('unknown_pool');
      expect(h.gateway.connections()).to.deep.equal([]);
      const error = await h.gateway.request('private://test-pool/allowed/x').then(() => undefined, (e: Error & { code?: string }) => e);
      expect(error?.code).to.equal('VCS_POOL_NOT_FOUND');
      expect(await h.store.get('test-pool')).to.equal(undefined);
      expect((await h.call('GET', '/api/v1/pools/test-pool')).status).to.equal(404);
      expect((await h.call('DELETE', '/api/v1/pools/test-pool')).status).to.equal(404);
    });
  });

  describe('/metrics', () => {
    it('exports connections, streams, queue depth, requests, bytes and durations per pool from its own registry', async () => {
      await h.request('/allowed/a', { method: 'POST', body: 'hello' });
      await h.request('/denied/b');
      const res = await h.call('GET', '/metrics');
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/plain/);
      const text = res.body as string;
      expect(text).to.include('vcs_gateway_connections{pool="test-pool"} 1');
      expect(text).to.include('vcs_gateway_streams{pool="test-pool",state="idle"} 4');
      expect(text).to.include('vcs_gateway_queue_depth{pool="test-pool"} 0');
      expect(text).to.include('vcs_gateway_requests_total{pool="test-pool",status="200",outcome="completed"} 1');
      expect(text).to.include('vcs_gateway_requests_total{pool="test-pool",status="403",outcome="completed"} 1');
      expect(text).to.include('vcs_gateway_body_bytes_total{pool="test-pool",direction="request"} 5');
      expect(text).to.match(/vcs_gateway_request_duration_seconds_count\{pool="test-pool"\} 2/);
      expect(text).to.include('vcs_gateway_ready 1');
      expect(text).to.include('vcs_gateway_process_cpu_seconds_total');
    });
  });
});

describe('admin API options', () => {
  it('serves /metrics without a token when publicMetrics is set, and refuses a short admin token', async () => {
    const h = await startAdminHarness({}, { publicMetrics: true });
    try {
      const res = await h.call('GET', '/metrics', { token: null });
      expect(res.status).to.equal(200);
      expect((await h.call('GET', '/api/v1/pools', { token: null })).status).to.equal(401);
      const { AdminServer } = await import('../../lib/gateway/admin/admin-server.js');
      expect(() => new AdminServer({ gateway: h.gateway, store: h.store, token: 'short', gatewayUrl: h.gatewayUrl })).to.throw(/admin token/);
    } finally {
      await h.close();
    }
  });
});
