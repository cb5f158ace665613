import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as https from 'node:https';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { squidMissingReason, startSquid, type RunningSquid } from '../helpers/squid.js';
import { tlsFixtures } from '../helpers/tls-fixtures.js';
import { REPO_ROOT, cleanEnv, spawnAgent, startGateway, startVcs, waitForAgents, type GatewayFixture, type SpawnedAgent, type VcsFixture } from './cli-harness.js';

const RESOLVE_TEST_HOSTS = ['--import', join(REPO_ROOT, 'spec', 'cli', 'fixtures', 'resolve-test-hosts.mjs')];

/** A port nothing listens on (bound then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('vcs-agent CLI through a corporate proxy (real squid, https gateway with a private CA)', function () {
  this.timeout(90_000);
  let gateway: GatewayFixture;
  let vcs: VcsFixture;
  let vcsPort: number;
  let dir: string;
  let caFile: string;
  let squid: RunningSquid | null = null;
  let agent: SpawnedAgent | undefined;

  before(function () {
    const missing = squidMissingReason();
    if (missing !== undefined) this.skip();
  });
  beforeEach(async function () {
    const tls = tlsFixtures();
    gateway = await startGateway({ tls: { cert: tls.cert, key: tls.key }, host: 'gateway.test' });
    vcs = await startVcs();
    vcsPort = Number(new URL(vcs.url).port);
    dir = await mkdtemp(join(tmpdir(), 'vcs-agent-proxy-cli-'));
    caFile = join(dir, 'ca.pem');
    await writeFile(caFile, tls.ca);
  });
  afterEach(async function () {
    agent?.kill('SIGKILL');
    if (agent !== undefined) await agent.exited().catch(() => 0);
    agent = undefined;
    await squid?.stop();
    squid = null;
    await gateway.close();
    await vcs.close();
    await rm(dir, { recursive: true, force: true });
  });

  const env = (extra: Record<string, string>): Record<string, string> =>
    cleanEnv({
      SPACELIFT_VCS_AGENT_POOL_TOKEN: gateway.token,
      SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT: `http://vcs.test:${vcsPort}`,
      SPACELIFT_VCS_AGENT_VENDOR: 'gitlab',
      SPACELIFT_VCS_AGENT_PARALLELISM: '2',
      NODE_EXTRA_CA_CERTS: caFile,
      ...extra,
    });

  it('tunnels HTTP/2 to the gateway with CONNECT (TLS and ALPN h2 end to end) and sends VCS requests through HTTP_PROXY', async function () {
    squid = await startSquid({ hosts: ['gateway.test', 'vcs.test'] });
    if (squid === null) return this.skip();
    const proxy = squid.url.href;
    agent = spawnAgent([], env({ HTTPS_PROXY: proxy, HTTP_PROXY: proxy }));
    await waitForAgents(gateway, 1, 30_000);
    const started = agent.logs().find((line) => line.message === 'starting vcs-agent');
    expect(started?.gatewayProxy).to.equal(`http://127.0.0.1:${squid.port}`);
    const response = await gateway.request('/api/v4/projects/group%2Frepo');
    expect(response.status).to.equal(200);
    expect(vcs.requests.at(-1)?.url).to.equal('/api/v4/projects/group%2Frepo');
    // squid names the VCS by the first name its hosts file gives 127.0.0.1 (localhost).
    await squid.waitForAccessLog(new RegExp(`GET http://[^/ ]+:${vcsPort}/api/v4/projects/group%2Frepo`));
    agent.kill('SIGTERM');
    expect(await agent.exited()).to.equal(0);
    // squid logs a CONNECT when the tunnel closes.
    await squid.waitForAccessLog(new RegExp(`CONNECT gateway\\.test:${gateway.port}`));
  });

  it('sends requests for an https VCS through CONNECT tunnels (undici), authenticated, the VCS trusted through NODE_EXTRA_CA_CERTS', async function () {
    const user = 'agent';
    const password = 'pr0xy-Vcs-secret';
    squid = await startSquid({ auth: { user, password }, hosts: ['gateway.test', 'vcs.test'] });
    if (squid === null) return this.skip();
    const tls = tlsFixtures();
    const seen: Array<{ url: string; proxyAuthorization: string | undefined }> = [];
    const secureVcs = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
      seen.push({ url: req.url ?? '', proxyAuthorization: req.headers['proxy-authorization'] });
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ secure: true }));
    });
    await new Promise<void>((resolve) => secureVcs.listen(0, '127.0.0.1', () => resolve()));
    const securePort = (secureVcs.address() as net.AddressInfo).port;
    try {
      const proxy = `http://${user}:${password}@127.0.0.1:${squid.port}`;
      agent = spawnAgent([], env({ HTTPS_PROXY: proxy, SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT: `https://vcs.test:${securePort}` }));
      await waitForAgents(gateway, 1, 30_000);
      expect(agent.logs().find((line) => line.message === 'starting vcs-agent')?.targetProxy).to.equal(`http://127.0.0.1:${squid.port}`);
      for (const path of ['/api/v4/projects/group%2Frepo', '/api/v4/projects/group%2Frepo/repository/branches']) {
        const response = await gateway.request(path);
        expect(response.status, path).to.equal(200);
        expect(JSON.parse(response.body), path).to.deep.equal({ secure: true });
      }
      expect(seen.map((request) => request.url)).to.deep.equal(['/api/v4/projects/group%2Frepo', '/api/v4/projects/group%2Frepo/repository/branches']);
      expect(seen.every((request) => request.proxyAuthorization === undefined)).to.equal(true);
      agent.kill('SIGTERM');
      expect(await agent.exited()).to.equal(0);
      expect(agent.stdout() + agent.stderr()).to.not.include(password);
      // squid logs a tunnel when it closes: the agent's exit closed it (one for both requests).
      const log = await squid.waitForAccessLog(new RegExp(`TCP_TUNNEL/200 \\d+ CONNECT vcs\\.test:${securePort} ${user} `));
      expect(log.match(new RegExp(`CONNECT vcs\\.test:${securePort} `, 'g'))).to.have.length(1);
    } finally {
      secureVcs.closeAllConnections();
      await new Promise<void>((resolve) => secureVcs.close(() => resolve()));
    }
  });

  it('authenticates to the proxy with the credentials in HTTPS_PROXY and never prints them', async function () {
    const user = 'agent';
    const password = 'pr0xy-Pa55-secret';
    squid = await startSquid({ auth: { user, password }, hosts: ['gateway.test', 'vcs.test'] });
    if (squid === null) return this.skip();
    const proxy = `http://${user}:${password}@127.0.0.1:${squid.port}`;
    agent = spawnAgent(['--log-level', 'debug'], env({ HTTPS_PROXY: proxy, HTTP_PROXY: proxy }));
    await waitForAgents(gateway, 1, 30_000);
    const response = await gateway.request('/api/v4/projects/group%2Frepo');
    expect(response.status).to.equal(200);
    // squid's native log: … METHOD URL USER HIERARCHY/PEER TYPE
    await squid.waitForAccessLog(new RegExp(`GET http://[^/ ]+:${vcsPort}/api/v4/projects/group%2Frepo ${user} `));
    agent.kill('SIGTERM');
    expect(await agent.exited()).to.equal(0);
    await squid.waitForAccessLog(new RegExp(`CONNECT gateway\\.test:${gateway.port}`));
    expect(agent.stdout() + agent.stderr()).to.not.include(password);
  });

  it('answers 502 naming HTTP_PROXY when the proxy refuses the credentials for an http VCS, without showing them', async function () {
    const user = 'agent';
    const password = 'r1ght-Pa55';
    squid = await startSquid({ auth: { user, password }, hosts: ['gateway.test', 'vcs.test'] });
    if (squid === null) return this.skip();
    const wrong = 'wr0ng-Vcs-Pa55';
    agent = spawnAgent([], env({ HTTPS_PROXY: `http://${user}:${password}@127.0.0.1:${squid.port}`, HTTP_PROXY: `http://${user}:${wrong}@127.0.0.1:${squid.port}` }));
    await waitForAgents(gateway, 1, 30_000);
    const seenBefore = vcs.requests.length;
    const response = await gateway.request('/api/v4/projects/group%2Frepo');
    expect(response.status).to.equal(502);
    expect(response.body).to.include('407').and.to.include('HTTP_PROXY').and.not.to.include(wrong);
    expect(vcs.requests.length).to.equal(seenBefore);
    agent.kill('SIGTERM');
    expect(await agent.exited()).to.equal(0);
    expect(agent.stdout() + agent.stderr()).to.not.include(wrong).and.not.include(password);
  });

  it('exits 3 naming the proxy when it answers 407, without showing credentials', async function () {
    squid = await startSquid({ auth: { user: 'agent', password: 'right-password' }, hosts: ['gateway.test', 'vcs.test'] });
    if (squid === null) return this.skip();
    for (const [label, proxy] of [
      ['no credentials', squid.url.href],
      ['wrong credentials', `http://agent:wr0ng-secret@127.0.0.1:${squid.port}`],
    ] as const) {
      agent = spawnAgent([], env({ HTTPS_PROXY: proxy }));
      expect(await agent.exited(30_000), label).to.equal(3);
      const refused = agent.logs().find((line) => line.message === 'the proxy refused the credentials (HTTPS_PROXY)');
      expect(refused, `${label}: log line\n${agent.stdout()}`).to.not.equal(undefined);
      expect(String(refused?.error)).to.include(`http://127.0.0.1:${squid.port}`);
      expect(String(refused?.error)).to.match(/407/);
      expect(agent.stdout() + agent.stderr()).to.not.include('wr0ng-secret');
      agent = undefined;
    }
  });

  it('connects directly to hosts in NO_PROXY (and fails through the proxy without it)', async function () {
    const deadProxy = `http://127.0.0.1:${await closedPort()}`;
    // Control: with the proxy in use, the dead proxy is what the agent reports.
    agent = spawnAgent(['--log-level', 'debug'], env({ HTTPS_PROXY: deadProxy, HTTP_PROXY: deadProxy }), RESOLVE_TEST_HOSTS);
    await agent.waitForLog((line) => line.message === 'gateway connection lost' && String(line.error).includes(deadProxy.replace('http://', '')), 20_000, 'a proxy failure');
    agent.kill('SIGKILL');
    await agent.exited();

    for (const noProxy of ['gateway.test,vcs.test', '.test', `gateway.test:${gateway.port},vcs.test`, '*']) {
      agent = spawnAgent([], env({ HTTPS_PROXY: deadProxy, HTTP_PROXY: deadProxy, NO_PROXY: noProxy }), RESOLVE_TEST_HOSTS);
      await waitForAgents(gateway, 1, 20_000);
      const started = agent.logs().find((line) => line.message === 'starting vcs-agent');
      expect(started?.gatewayProxy, noProxy).to.equal('direct');
      expect(started?.targetProxy, noProxy).to.equal('direct');
      const response = await gateway.request('/api/v4/projects/group%2Frepo');
      expect(response.status, noProxy).to.equal(200);
      agent.kill('SIGTERM');
      expect(await agent.exited()).to.equal(0);
      const deadline = Date.now() + 10_000;
      while (gateway.gateway.connections(gateway.pool).length > 0) {
        if (Date.now() > deadline) throw new Error('the agent connection did not go away');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      agent = undefined;
    }
  });
});
