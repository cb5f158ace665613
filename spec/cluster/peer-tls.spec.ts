import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { TunnelClient } from '../../lib/agent/tunnel-client.js';
import { InvalidOptionError } from '../../lib/errors.js';
import { Gateway, type AccessLogRecord } from '../../lib/gateway/gateway.js';
import { checkPeerOptions } from '../../lib/gateway/cluster/peer-options.js';
import { PeerConnectError, PeerSessions } from '../../lib/gateway/cluster/peer-sessions.js';
import { digestStream } from '../helpers/bodies.js';
import { redisSkipReason, startRedisServer, type RunningRedis } from '../helpers/redis-server.js';
import { testPolicy } from '../helpers/test-policy.js';
import { tlsFixtures } from '../helpers/tls-fixtures.js';
import { writeAtomically } from '../helpers/tls-probe.js';
import { waitFor, waitUntil } from '../helpers/wait-for.js';
import { call, startClusterVcs, type ClusterVcs } from './cluster-vcs.js';
import { startInProcessPair, type InProcessPair } from './in-process-pair.js';
import { PEER_TOKEN as CLI_PEER_TOKEN, runGatewayCli, startReplica, type Replica } from './pool-replicas.js';

const PEER_TOKEN = 'peer-token-for-peer-tls-spec';
const TIMING = { connectTimeoutMs: 2000, pingIntervalMs: 1000, pingTimeoutMs: 2000, downMs: 100 };

describe('cluster: peer TLS (mutual TLS between replicas, two in-process replicas)', function () {
  this.timeout(60_000);
  let redis: RunningRedis;
  let vcs: ClusterVcs;
  let pair: InProcessPair | undefined;
  let b: Gateway;
  let aPeerUrl = '';
  const records: AccessLogRecord[] = [];

  before(async function () {
    if (redisSkipReason() !== undefined) this.skip();
    redis = (await startRedisServer()) as RunningRedis;
    vcs = await startClusterVcs();
    const { cert, key, ca } = tlsFixtures();
    // B checks A's certificate against a name it holds, not the IP it dials: as with a
    // certificate shared by every pod.
    pair = await startInProcessPair({ redisUrl: redis.url, vcsUrl: vcs.url, prefix: 'tls', pool: 'tls-on-a', peer: (id) => ({ tls: { cert, key, ca, ...(id === 'b' ? { servername: 'peer.test' } : {}) } }) });
    b = pair.b;
    aPeerUrl = b.cluster?.registry.candidates('tls-on-a')[0]?.peerUrl ?? '';
    for (const gateway of [pair.a, pair.b]) gateway.on('access', (record) => records.push(record));
  });

  after(async () => {
    await pair?.close();
    await vcs?.close();
    await redis?.stop();
  });

  it('forwards a request through B to the agent on A over TLS, and A advertises an https:// peer URL', async () => {
    const response = await b.request('private://tls-on-a/allowed/over-tls?x=1');
    expect(response.status).to.equal(200);
    expect((await digestStream(response.body)).bytes).to.be.above(0);
    await waitFor(() => records.filter((record) => record.path === '/allowed/over-tls?x=1').length === 2, 5000, 'a record on each replica');
    expect(records.find((record) => record.path === '/allowed/over-tls?x=1' && record.forwardedTo !== undefined)).to.include({ forwardedTo: 'tls-a', outcome: 'completed', status: 200 });
    // What B read from the live registry: where A is reached.
    expect(aPeerUrl).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('refuses a TLS connection that presents no client certificate before any HTTP/2 frame', async () => {
    const { ca } = tlsFixtures();
    const port = Number(new URL(aPeerUrl).port);
    // Raw TLS (TLS 1.3: the client's handshake completes first, then the server's alert arrives).
    const outcome = await new Promise<{ error: string | undefined; bytes: number }>((resolve) => {
      let bytes = 0;
      let error: string | undefined;
      const socket = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'peer.test', ALPNProtocols: ['h2'] });
      socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
      socket.on('error', (reason: NodeJS.ErrnoException) => (error = reason.code ?? reason.message));
      socket.on('close', () => resolve({ error, bytes }));
      socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
    });
    expect(outcome).to.deep.equal({ error: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', bytes: 0 });
  });

  it('does not reach a peer whose certificate does not carry the expected name', async () => {
    const { cert, key, ca } = tlsFixtures();
    const sessions = new PeerSessions({ ...TIMING, tls: { cert, key, ca, servername: 'not-the-peer.test' } });
    try {
      const error = await sessions.get(aPeerUrl).then(() => undefined, (reason: unknown) => reason);
      expect(error).to.be.instanceOf(PeerConnectError);
      expect((error as Error).message).to.include('ERR_TLS_CERT_ALTNAME_INVALID');
    } finally {
      sessions.destroy();
    }
  });

  it('never sends to a cleartext peer with TLS on, nor to a TLS peer with it off', async () => {
    const { cert, key, ca } = tlsFixtures();
    const withTls = new PeerSessions({ ...TIMING, tls: { cert, key, ca } });
    const without = new PeerSessions(TIMING);
    try {
      const downgrade = await withTls.get('http://127.0.0.1:1').then(() => undefined, (reason: unknown) => reason);
      expect((downgrade as Error).message).to.match(/speaks cleartext and this replica requires peer TLS/);
      const unchecked = await without.get(aPeerUrl).then(() => undefined, (reason: unknown) => reason);
      expect((unchecked as Error).message).to.match(/speaks TLS and this replica has no peer TLS/);
    } finally {
      withTls.destroy();
      without.destroy();
    }
  });
});

/** Whether a client presenting `material` (and trusting its CA) completes a TLS handshake with the peer listener at `url`. */
function handshake(url: string, material: { cert: string; key: string; ca: string }): Promise<string> {
  const port = Number(new URL(url).port);
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ...material, servername: 'peer.test', ALPNProtocols: ['h2'] });
    let outcome = 'accepted';
    socket.on('error', (error: NodeJS.ErrnoException) => (outcome = error.code ?? error.message));
    // TLS 1.3: the server's verdict on our certificate comes after secureConnect, with its first bytes.
    socket.on('data', () => socket.end());
    socket.on('close', () => resolve(outcome));
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
  });
}

describe('cluster: peer TLS renewed at run time (GatewayCluster.setPeerTls)', function () {
  this.timeout(60_000);
  let redis: RunningRedis;
  let vcs: ClusterVcs;
  let pair: InProcessPair | undefined;

  before(async function () {
    if (redisSkipReason() !== undefined) this.skip();
    redis = (await startRedisServer()) as RunningRedis;
    vcs = await startClusterVcs();
    const { cert, key, ca } = tlsFixtures();
    pair = await startInProcessPair({ redisUrl: redis.url, vcsUrl: vcs.url, prefix: 'renew', pool: 'renew-on-a', peer: () => ({ tls: { cert, key, ca, servername: 'peer.test' } }) });
  });

  after(async () => {
    await pair?.close();
    await vcs?.close();
    await redis?.stop();
  });

  it('takes a certificate from a new CA for new connections both ways, and forwarding goes on', async () => {
    const { a, b } = pair as InProcessPair;
    const url = b.cluster?.registry.candidates('renew-on-a')[0]?.peerUrl as string;
    const old = tlsFixtures();
    const renewed = tlsFixtures('renewed');
    expect(await handshake(url, old)).to.equal('accepted');
    for (const gateway of [a, b]) gateway.cluster?.setPeerTls({ ...renewed, servername: 'peer.test' });
    expect(await handshake(url, renewed)).to.equal('accepted');
    expect(await handshake(url, old), 'the old CA no longer trusted').to.not.equal('accepted');
    // A fresh session from B presents the renewed certificate and trusts the renewed CA.
    const sessions = new PeerSessions({ ...TIMING, tls: { ...renewed, servername: 'peer.test' } });
    try {
      await sessions.get(url);
    } finally {
      sessions.destroy();
    }
    const response = await b.request('private://renew-on-a/allowed/after-renewal');
    expect(response.status).to.equal(200);
    await digestStream(response.body);
  });

  it('refuses material that does not load together, and a replica started without peer TLS, naming peer.tls', async () => {
    const { a } = pair as InProcessPair;
    const { cert, key, ca } = tlsFixtures('renewed');
    expect(() => a.cluster?.setPeerTls({ cert: key, key: cert, ca })).to.throw(InvalidOptionError, /^Invalid peer\.tls: the certificate, key and CA do not load together/);
    const plain = new Gateway({ cluster: { redisUrl: redis.url, replicaId: 'renew-plain', peer: { token: PEER_TOKEN } } });
    try {
      expect(() => plain.cluster?.setPeerTls({ cert, key, ca })).to.throw(InvalidOptionError, /needs a replica started with cluster\.peer\.tls/);
    } finally {
      await plain.destroy();
    }
  });
});

describe('cluster: two vcs-gateway processes with --peer-tls-cert, --peer-tls-key, --peer-tls-ca and --peer-tls-servername', function () {
  this.timeout(90_000);
  let redis: RunningRedis;
  let vcs: ClusterVcs;
  let dir: string;
  let a: Replica | undefined;
  let b: Replica | undefined;
  let agent: TunnelClient | undefined;

  before(async function () {
    if (redisSkipReason() !== undefined) this.skip();
    redis = (await startRedisServer()) as RunningRedis;
    vcs = await startClusterVcs();
    dir = await mkdtemp(join(tmpdir(), 'peer-tls-'));
    const { cert, key, ca } = tlsFixtures();
    await Promise.all([writeFile(join(dir, 'peer.crt'), cert), writeFile(join(dir, 'peer.key'), key), writeFile(join(dir, 'ca.crt'), ca)]);
  });

  after(async () => {
    await agent?.close({ timeoutMs: 1000 }).catch(() => agent?.destroy());
    await Promise.all([a?.stop(), b?.stop()]);
    await vcs?.close();
    await redis?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('forwards a front-door request from B to the agent on A over mutual TLS, advertising https:// peer URLs', async () => {
    // Flags on A, the variables on B: both routes into the same options.
    a = await startReplica(redis.url, 'cli-tls-a', ['--peer-tls-cert', join(dir, 'peer.crt'), '--peer-tls-key', join(dir, 'peer.key'), '--peer-tls-ca', join(dir, 'ca.crt'), '--peer-tls-servername', 'peer.test'], { peer: true });
    b = await startReplica(redis.url, 'cli-tls-b', [], {
      peer: true,
      env: { VCS_GATEWAY_PEER_TLS_CERT: join(dir, 'peer.crt'), VCS_GATEWAY_PEER_TLS_KEY: join(dir, 'peer.key'), VCS_GATEWAY_PEER_TLS_CA: join(dir, 'ca.crt'), VCS_GATEWAY_PEER_TLS_SERVERNAME: 'peer.test' },
    });
    for (const replica of [a, b]) {
      const advertised = replica.logs().find((line) => line.message === 'peer listener advertised');
      expect(advertised?.peerUrl, replica.id).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
    }
    const created = await runGatewayCli(['pool', 'create', '--redis', redis.url, '--name', 'cli-tls-pool', '--gateway-url', a.agentsUrl]);
    expect(created.code, created.stderr).to.equal(0);
    agent = new TunnelClient({ token: created.stdout.trim(), target: vcs.url, policy: testPolicy, parallelism: 2, gatewayConnections: 1, reconnect: { initialDelayMs: 50, maxDelayMs: 500 } });
    await agent.start();
    const forwarder = b;
    await waitUntil(async () => (await call(forwarder, '/cli-tls-pool/allowed/warm-up')).status === 200, 5000, 'B to forward to A over TLS');
    const result = await call(b, '/cli-tls-pool/allowed/hello');
    expect(result.status, result.body).to.equal(200);
    expect(result.body).to.equal('vcs saw GET /allowed/hello');
    expect(b.stdout() + a.stdout() + b.stderr() + a.stderr()).to.not.include(CLI_PEER_TOKEN);
  });

  it('reloads changed files (--peer-tls-reload-interval): a half-written renewal is reported once and ignored, the whole one is taken', async () => {
    const renewed = tlsFixtures('renewed-cli');
    const { cert, key, ca } = tlsFixtures();
    await Promise.all([writeFile(join(dir, 'reload.crt'), cert), writeFile(join(dir, 'reload.key'), key), writeFile(join(dir, 'reload-ca.crt'), ca)]);
    const reloading = await startReplica(redis.url, 'cli-tls-reload', ['--peer-tls-cert', join(dir, 'reload.crt'), '--peer-tls-key', join(dir, 'reload.key'), '--peer-tls-ca', join(dir, 'reload-ca.crt'), '--peer-tls-reload-interval', '0.1'], { peer: true });
    try {
      const url = String(reloading.logs().find((line) => line.message === 'peer listener advertised')?.peerUrl);
      expect(await handshake(url, tlsFixtures())).to.equal('accepted');
      // The certificate first, alone: it does not match the key still in place.
      await writeAtomically(join(dir, 'reload.crt'), renewed.cert);
      await waitFor(() => reloading.logs().some((line) => line.message === 'peer TLS files could not be reloaded; the previous ones stay in use'), 10_000, 'the failed reload to be reported');
      expect(await handshake(url, tlsFixtures()), 'the previous files stay in use').to.equal('accepted');
      // Then the CA (still no match), then the key: the first look that loads is the whole renewal.
      await writeAtomically(join(dir, 'reload-ca.crt'), renewed.ca);
      await writeAtomically(join(dir, 'reload.key'), renewed.key);
      await waitFor(() => reloading.logs().some((line) => line.message === 'peer TLS reloaded: new connections use the renewed files'), 10_000, 'the reload');
      expect(await handshake(url, renewed)).to.equal('accepted');
      expect(await handshake(url, tlsFixtures())).to.not.equal('accepted');
      const failures = reloading.logs().filter((line) => line.message === 'peer TLS files could not be reloaded; the previous ones stay in use');
      expect(failures, 'one report per distinct reason').to.have.length(1);
      expect(reloading.stdout()).to.not.include('PRIVATE KEY');
    } finally {
      await reloading.stop();
    }
  });
});

describe('peer TLS options: one check per field, each naming it', () => {
  const { cert, key, ca } = tlsFixtures();
  const check = (peer: Record<string, unknown>): InvalidOptionError => {
    try {
      checkPeerOptions({ token: PEER_TOKEN, ...peer } as never);
    } catch (error) {
      return error as InvalidOptionError;
    }
    throw new Error('accepted');
  };

  it('wants an https:// peer URL with TLS and an http:// one without', () => {
    expect(check({ url: 'http://10.0.0.5:8444', tls: { cert, key, ca } }).message).to.match(/^Invalid peer\.url: expected https:\/\/HOST:PORT/);
    expect(check({ url: 'https://10.0.0.5:8444' }).message).to.match(/^Invalid peer\.url: expected http:\/\/HOST:PORT .*https needs peer TLS/);
    expect(checkPeerOptions({ token: PEER_TOKEN, url: 'https://10.0.0.5:8444', tls: { cert, key, ca } }).url).to.equal('https://10.0.0.5:8444');
  });

  it('names the missing or malformed field, and never repeats a key', () => {
    expect(check({ tls: { cert, ca } })).to.include({ option: 'peer.tls.key' });
    expect(check({ tls: { key, ca } })).to.include({ option: 'peer.tls.cert' });
    expect(check({ tls: { cert, key } })).to.include({ option: 'peer.tls.ca' });
    expect(check({ tls: { cert, key, ca: [] } })).to.include({ option: 'peer.tls.ca' });
    expect(check({ tls: { cert, key, ca, servername: 'has space' } })).to.include({ option: 'peer.tls.servername' });
    expect(check({ tls: 'yes' })).to.include({ option: 'peer.tls' });
    expect(check({ tls: { cert, key: 42, ca } }).message).to.not.include('PRIVATE KEY');
    const swapped = check({ tls: { cert: key, key: cert, ca } });
    expect(swapped).to.include({ option: 'peer.tls' });
    expect(swapped.message).to.match(/^Invalid peer\.tls: the certificate, key and CA do not load together/);
    expect(swapped.message).to.not.include('PRIVATE KEY');
  });
});
