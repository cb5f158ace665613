import { expect } from 'chai';
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Dispatcher } from 'undici';
import { createUpstreamDispatcher, ProxyAuthenticationError, ProxyError } from '../../lib/proxy/index.js';
import { squidMissingReason, type RunningSquid } from '../helpers/squid.js';
import { startFakeProxy } from './fake-connect-proxy.js';
import { fixtures, proxyWithCredentials, rejectedOptions, rejection, startVcs, VCS_HOST, withSquidAndVcs, type FakeVcs } from './upstream-fixtures.js';

/** One GET through the dispatcher, the way the agent forwards requests to the VCS. */
async function fetchThrough(dispatcher: Dispatcher, target: URL, path: string): Promise<{ status: number; body: string }> {
  const response = await dispatcher.request({ origin: target.origin, path, method: 'GET', headersTimeout: 10_000, bodyTimeout: 10_000 });
  return { status: response.statusCode, body: await response.body.text() };
}

/** A stand-in proxy on 127.0.0.1:0 that answers absolute-form requests with `answer`, counting connections. */
async function startAnsweringProxy(answer: http.RequestListener): Promise<{ port: number; connections(): number; stop(): Promise<void> }> {
  const server = http.createServer(answer);
  let connections = 0;
  server.on('connection', () => (connections += 1));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    stop: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('createUpstreamDispatcher (undici through an HTTP proxy)', function () {
  this.timeout(20_000);

  describe('with a minimal CONNECT proxy', () => {
    let secureVcs: FakeVcs;
    before(async () => {
      secureVcs = await startVcs(true);
    });
    after(async () => {
      await secureVcs.stop();
    });

    it('tunnels through an https: proxy, trusting it with the same CA, credentials only on CONNECT, one tunnel reused', async () => {
      const fake = await startFakeProxy('tunnel', true);
      // The fake proxy only tunnels to localhost: address the VCS by that name here.
      const target = new URL(`https://localhost:${secureVcs.port}`);
      const proxy = new URL(`https://alice:s3cret@localhost:${fake.url.port}`);
      const { dispatcher, proxy: shown } = createUpstreamDispatcher(target, { proxy, connections: 1, tls: { ca: fixtures.ca } });
      try {
        expect(shown.href).to.equal(`https://localhost:${fake.url.port}/`);
        const before = secureVcs.connections;
        expect(await fetchThrough(dispatcher, target, '/one')).to.deep.equal({ status: 200, body: 'GET /one' });
        expect(await fetchThrough(dispatcher, target, '/two')).to.deep.equal({ status: 200, body: 'GET /two' });
        expect(secureVcs.connections - before).to.equal(1);
        expect(fake.requests).to.have.length(1);
        const [connect] = fake.requests;
        expect(connect?.method).to.equal('CONNECT');
        expect(connect?.url).to.equal(`localhost:${secureVcs.port}`);
        expect(connect?.headers['proxy-authorization']).to.equal(`Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
        expect(connect?.headers).not.to.have.property('authorization');
        expect(secureVcs.seen.at(-1)?.headers).not.to.have.property('proxy-authorization');
      } finally {
        await dispatcher.destroy();
        await fake.stop();
      }
    });

    it('fails with ProxyAuthenticationError on a 407, never handing the proxy page back as the answer', async () => {
      const fake = await startFakeProxy('407');
      const target = new URL(`https://localhost:${secureVcs.port}`);
      const { dispatcher } = createUpstreamDispatcher(target, { proxy: fake.url, connections: 1, tls: { ca: fixtures.ca } });
      try {
        const error = await rejection(fetchThrough(dispatcher, target, '/secret'));
        expect(error).to.be.instanceOf(ProxyAuthenticationError);
        expect((error as ProxyAuthenticationError).credentialsSent).to.equal(false);
        expect(error.message).to.contain('requires a user name and password');
      } finally {
        await dispatcher.destroy();
        await fake.stop();
      }
    });

    it('fails with ProxyError naming the proxy when it cannot be reached', async () => {
      const fake = await startFakeProxy('tunnel');
      const port = fake.url.port;
      await fake.stop(); // nothing listens there now
      const target = new URL(`https://localhost:${secureVcs.port}`);
      const { dispatcher } = createUpstreamDispatcher(target, { proxy: new URL(`http://bob:hunter2@127.0.0.1:${port}`), connections: 1 });
      try {
        const error = await rejection(fetchThrough(dispatcher, target, '/'));
        expect(error).to.be.instanceOf(ProxyError);
        expect(error.message).to.match(new RegExp(`^Could not use proxy http://127\\.0\\.0\\.1:${port} \\(from HTTPS_PROXY\\): .*ECONNREFUSED`));
        expect(error.message).not.to.contain('hunter2');
        expect((error as ProxyError).statusCode).to.equal(undefined);
      } finally {
        await dispatcher.destroy();
      }
    });

    it('fails with ProxyError when the proxy does not answer CONNECT within connectTimeoutMs', async () => {
      const fake = await startFakeProxy('hang');
      const target = new URL(`https://localhost:${secureVcs.port}`);
      const { dispatcher } = createUpstreamDispatcher(target, { proxy: fake.url, connections: 1, connectTimeoutMs: 300 });
      try {
        const started = performance.now();
        const error = await rejection(fetchThrough(dispatcher, target, '/'));
        expect(error).to.be.instanceOf(ProxyError);
        expect(error.message).to.match(/Could not use proxy .*Headers Timeout/);
        expect(performance.now() - started).to.be.below(5_000);
      } finally {
        await dispatcher.destroy();
        await fake.stop();
      }
    });

    it('validates its options, naming each', () => {
      const proxy = new URL('http://127.0.0.1:3128');
      const attempts: Array<() => unknown> = [
        () => createUpstreamDispatcher(new URL('ftp://vcs.test'), { proxy, connections: 1 }),
        () => createUpstreamDispatcher(new URL('https://vcs.test'), { proxy: new URL('socks5://p:1'), connections: 1 }),
        () => createUpstreamDispatcher(new URL('https://vcs.test'), { proxy, connections: 0 }),
        () => createUpstreamDispatcher(new URL('https://vcs.test'), { proxy, connections: 1, connectTimeoutMs: -1 }),
      ];
      expect(rejectedOptions(attempts)).to.deep.equal(['target', 'proxy', 'connections', 'connectTimeoutMs']);
    });
  });

  describe('for an http: VCS (absolute form)', () => {
    /** A stand-in proxy: an HTTP server that answers absolute-form requests itself, recording them. */
    let proxyServer: FakeVcs;
    const target = new URL(`http://${VCS_HOST}:7990`);
    beforeEach(async () => {
      proxyServer = await startVcs(false);
    });
    afterEach(async () => {
      await proxyServer.stop();
    });

    it('sends each request to the proxy in absolute form with the target Host and its credentials, over one kept-alive connection', async () => {
      const proxy = new URL(`http://alice:s3cret@127.0.0.1:${proxyServer.port}`);
      const { dispatcher, proxy: shown } = createUpstreamDispatcher(target, { proxy, connections: 1 });
      try {
        expect(shown.href).to.equal(`http://127.0.0.1:${proxyServer.port}/`);
        const first = await dispatcher.request({ origin: target.origin, path: '/rest/api/1.0/projects', method: 'GET', headers: ['proxy-authorization', 'Basic Y2FsbGVyOnNlY3JldA=='] });
        expect(await first.body.text()).to.equal(`GET ${target.origin}/rest/api/1.0/projects`);
        const second = await dispatcher.request({ origin: target.origin, path: '/rest/api/1.0/users?limit=1', method: 'GET', headers: { accept: 'application/json' } });
        expect(await second.body.text()).to.equal(`GET ${target.origin}/rest/api/1.0/users?limit=1`);
        expect(proxyServer.connections).to.equal(1);
        const [one, two] = proxyServer.seen;
        expect(one?.headers.host).to.equal(`${VCS_HOST}:7990`);
        // The request's own Proxy-Authorization never reaches the proxy: the proxy URL's does.
        expect(one?.headers['proxy-authorization']).to.equal(`Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
        expect(two?.headers['proxy-authorization']).to.equal(`Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
        expect(two?.headers.accept).to.equal('application/json');
      } finally {
        await dispatcher.destroy();
      }
    });

    it('fails with ProxyAuthenticationError on a 407, reads its page away and keeps the connection for the next request', async () => {
      const refusing = await startAnsweringProxy((request, response) => {
        if (request.url?.endsWith('/secret') === true) {
          response.writeHead(407, { 'proxy-authenticate': 'Basic realm="proxy"' }).end('<html>the proxy page</html>');
        } else {
          response.end(`GET ${request.url}`);
        }
      });
      const port = refusing.port;
      const { dispatcher } = createUpstreamDispatcher(target, { proxy: new URL(`http://bob:wr0ng@127.0.0.1:${port}`), connections: 1 });
      try {
        const error = await rejection(fetchThrough(dispatcher, target, '/secret'));
        expect(error).to.be.instanceOf(ProxyAuthenticationError);
        expect((error as ProxyAuthenticationError).credentialsSent).to.equal(true);
        expect(error.message).to.contain('HTTP_PROXY');
        expect(error.message).not.to.contain('wr0ng');
        expect(await fetchThrough(dispatcher, target, '/open')).to.deep.equal({ status: 200, body: `GET ${target.origin}/open` });
        expect(refusing.connections()).to.equal(1);
      } finally {
        await dispatcher.destroy();
        await refusing.stop();
      }
    });

    it("passes on any other answer, such as the VCS's own 403", async () => {
      const forbidding = await startAnsweringProxy((_request, response) => response.writeHead(403).end('no access to this repository'));
      const { dispatcher } = createUpstreamDispatcher(target, { proxy: new URL(`http://127.0.0.1:${forbidding.port}`), connections: 1 });
      try {
        expect(await fetchThrough(dispatcher, target, '/private')).to.deep.equal({ status: 403, body: 'no access to this repository' });
      } finally {
        await dispatcher.destroy();
        await forbidding.stop();
      }
    });

    it('fails with ProxyError naming the proxy (not its password) when it cannot be reached', async () => {
      const port = proxyServer.port;
      await proxyServer.stop();
      const { dispatcher } = createUpstreamDispatcher(target, { proxy: new URL(`http://bob:hunter2@127.0.0.1:${port}`), connections: 1 });
      try {
        const error = await rejection(fetchThrough(dispatcher, target, '/'));
        expect(error).to.be.instanceOf(ProxyError);
        expect(error.message).to.match(new RegExp(`^Could not use proxy http://127\\.0\\.0\\.1:${port} \\(from HTTP_PROXY\\): .*ECONNREFUSED`));
        expect(error.message).not.to.contain('hunter2');
      } finally {
        await dispatcher.destroy();
      }
    });
  });

  const missing = squidMissingReason();

  describe(`through a real squid${missing === undefined ? '' : ` (skipped: ${missing})`}`, () => {
    const running = withSquidAndVcs({ hosts: [VCS_HOST] });
    let squid: RunningSquid;
    let secureVcs: FakeVcs;
    beforeEach(() => {
      squid = running.squid();
      secureVcs = running.vcs();
    });

    it('reaches an https VCS through CONNECT tunnels, reusing a tunnel between requests', async () => {
      // One connection: with more, undici may open a second one for a request sent before the
      // first connection's 'drain' (its pool's choice, not the tunnel's).
      const { dispatcher } = createUpstreamDispatcher(secureVcs.origin, { proxy: squid.url, connections: 1, tls: { ca: fixtures.ca } });
      try {
        const before = secureVcs.connections;
        expect(await fetchThrough(dispatcher, secureVcs.origin, '/api/v4/projects')).to.deep.equal({ status: 200, body: 'GET /api/v4/projects' });
        expect(await fetchThrough(dispatcher, secureVcs.origin, '/api/v4/users')).to.deep.equal({ status: 200, body: 'GET /api/v4/users' });
        expect(secureVcs.connections - before).to.equal(1);
      } finally {
        await dispatcher.destroy();
      }
      const log = await squid.waitForAccessLog(new RegExp(`TCP_TUNNEL/200 \\d+ CONNECT ${VCS_HOST}:${secureVcs.port} `));
      expect(log.match(new RegExp(`CONNECT ${VCS_HOST}:${secureVcs.port} `, 'g'))).to.have.length(1);
    });

    it('reaches an http VCS in absolute form, one connection to squid for both requests', async () => {
      const plainVcs = await startVcs(false);
      const { dispatcher } = createUpstreamDispatcher(plainVcs.origin, { proxy: squid.url, connections: 1 });
      try {
        const first = await dispatcher.request({ origin: plainVcs.origin.origin, path: '/rest/api/1.0/projects', method: 'GET' });
        expect(first.statusCode).to.equal(200);
        expect(first.headers.via).to.be.a('string');
        expect(await first.body.text()).to.equal('GET /rest/api/1.0/projects');
        expect(await fetchThrough(dispatcher, plainVcs.origin, '/rest/api/1.0/users')).to.deep.equal({ status: 200, body: 'GET /rest/api/1.0/users' });
        expect(plainVcs.seen.map((request) => request.headers.host)).to.deep.equal([`${VCS_HOST}:${plainVcs.port}`, `${VCS_HOST}:${plainVcs.port}`]);
      } finally {
        await dispatcher.destroy();
        await plainVcs.stop();
      }
      const log = await squid.waitForAccessLog(new RegExp(`GET http://${VCS_HOST}:${plainVcs.port}/rest/api/1\\.0/users `));
      expect(log).to.match(new RegExp(`GET http://${VCS_HOST}:${plainVcs.port}/rest/api/1\\.0/projects `));
    });

    it('fails the request with ProxyError (status 403) when squid refuses the CONNECT', async () => {
      const target = new URL(`https://${VCS_HOST}:1`);
      const { dispatcher } = createUpstreamDispatcher(target, { proxy: squid.url, connections: 1, tls: { ca: fixtures.ca } });
      try {
        const error = await rejection(fetchThrough(dispatcher, target, '/'));
        expect(error).to.be.instanceOf(ProxyError);
        expect((error as ProxyError).statusCode).to.equal(403);
        expect(error.message).to.contain(`refused CONNECT to the VCS ${VCS_HOST}:1 with status 403`);
      } finally {
        await dispatcher.destroy();
      }
    });
  });

  describe(`through a real squid with proxy authentication${missing === undefined ? '' : ` (skipped: ${missing})`}`, () => {
    const user = 'agent';
    const password = 'pr0xy:p@ss';
    const running = withSquidAndVcs({ auth: { user, password }, hosts: [VCS_HOST] });
    let squid: RunningSquid;
    let secureVcs: FakeVcs;
    beforeEach(() => {
      squid = running.squid();
      secureVcs = running.vcs();
    });

    it('authenticates CONNECT; the VCS never sees Proxy-Authorization', async () => {
      const { dispatcher, proxy } = createUpstreamDispatcher(secureVcs.origin, { proxy: proxyWithCredentials(squid, user, password), connections: 1, tls: { ca: fixtures.ca } });
      try {
        expect(proxy.href).to.equal(squid.url.href);
        expect(await fetchThrough(dispatcher, secureVcs.origin, '/secure')).to.deep.equal({ status: 200, body: 'GET /secure' });
        expect(secureVcs.seen.at(-1)?.headers).not.to.have.property('proxy-authorization');
      } finally {
        await dispatcher.destroy();
      }
      await squid.waitForAccessLog(new RegExp(`TCP_TUNNEL/200 \\d+ CONNECT ${VCS_HOST}:${secureVcs.port} ${user} `));
    });

    it('authenticates absolute-form requests for an http VCS, and fails with ProxyAuthenticationError on a wrong password', async () => {
      const plainVcs = await startVcs(false);
      const right = createUpstreamDispatcher(plainVcs.origin, { proxy: proxyWithCredentials(squid, user, password), connections: 1 }).dispatcher;
      const wrong = 'n0t-the-Passw0rd';
      const refused = createUpstreamDispatcher(plainVcs.origin, { proxy: proxyWithCredentials(squid, user, wrong), connections: 1 }).dispatcher;
      try {
        expect(await fetchThrough(right, plainVcs.origin, '/plain')).to.deep.equal({ status: 200, body: 'GET /plain' });
        expect(plainVcs.seen.at(-1)?.headers).not.to.have.property('proxy-authorization');
        const error = await rejection(fetchThrough(refused, plainVcs.origin, '/plain'));
        expect(error).to.be.instanceOf(ProxyAuthenticationError);
        expect((error as ProxyAuthenticationError).credentialsSent).to.equal(true);
        for (const secret of [wrong, password]) expect(error.message).not.to.contain(secret);
        expect(plainVcs.seen).to.have.length(1);
      } finally {
        await right.destroy();
        await refused.destroy();
        await plainVcs.stop();
      }
      await squid.waitForAccessLog(new RegExp(`GET http://${VCS_HOST}:${plainVcs.port}/plain ${user} `));
    });

    it('fails with ProxyAuthenticationError on a wrong password, without leaking it', async () => {
      const wrong = 'not-the-Passw0rd';
      const proxy = proxyWithCredentials(squid, user, wrong);
      const { dispatcher } = createUpstreamDispatcher(secureVcs.origin, { proxy, connections: 1, tls: { ca: fixtures.ca } });
      try {
        const error = await rejection(fetchThrough(dispatcher, secureVcs.origin, '/secure'));
        expect(error).to.be.instanceOf(ProxyAuthenticationError);
        expect((error as ProxyAuthenticationError).proxy).to.equal(`http://127.0.0.1:${squid.port}`);
        expect((error as ProxyAuthenticationError).credentialsSent).to.equal(true);
        for (const secret of [wrong, password, proxy.href, proxy.password]) expect(error.message).not.to.contain(secret);
      } finally {
        await dispatcher.destroy();
      }
    });
  });
});
