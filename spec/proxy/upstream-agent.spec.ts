import { expect } from 'chai';
import * as http from 'node:http';
import * as https from 'node:https';
import type { LookupFunction, Socket } from 'node:net';
import {
  createUpstreamAgent,
  ProxyAuthenticationError,
  ProxyError,
  resolveProxy,
  type UpstreamAgent,
} from '../../lib/proxy/index.js';
import { squidMissingReason, startSquid, type RunningSquid } from '../helpers/squid.js';
import { startFakeProxy } from './fake-connect-proxy.js';
import { fixtures, proxyWithCredentials, rejectedOptions, rejection, startVcs, VCS_HOST, type FakeVcs } from './upstream-fixtures.js';

/** Resolves vcs.test to 127.0.0.1 for direct connections; any other name is a test bug. */
const loopbackLookup = ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void): void => {
  if (hostname !== VCS_HOST) {
    callback(new Error(`unexpected DNS lookup of ${hostname}`));
  } else if (options.all === true) {
    callback(null, [{ address: '127.0.0.1', family: 4 }]);
  } else {
    callback(null, '127.0.0.1', 4);
  }
}) as unknown as LookupFunction;

interface Fetched {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
  localPort: number | undefined;
}

/** One GET through the upstream agent, the way the agent forwards requests to the VCS. */
function fetchThrough(upstream: UpstreamAgent, target: URL, path: string): Promise<Fetched> {
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.request(
      { agent: upstream.agent, hostname: target.hostname, port: target.port, path, method: 'GET', lookup: loopbackLookup },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body, headers: response.headers, localPort: localPortOf(request.socket) }),
        );
        response.on('error', reject);
      },
    );
    request.setTimeout(10_000, () => request.destroy(new Error(`GET ${path} timed out`)));
    request.on('error', reject);
    request.end();
  });
}

function localPortOf(socket: Socket | null): number | undefined {
  return socket?.localPort;
}

describe('createUpstreamAgent', function () {
  this.timeout(20_000);

  describe('without a proxy', () => {
    let secureVcs: FakeVcs;
    let plainVcs: FakeVcs;
    before(async () => {
      secureVcs = await startVcs(true);
      plainVcs = await startVcs(false);
    });
    after(async () => {
      await secureVcs.stop();
      await plainVcs.stop();
    });

    it('returns a keep-alive https.Agent carrying the TLS settings for https targets', async () => {
      const upstream = createUpstreamAgent(secureVcs.origin, { maxSockets: 4, tls: { ca: fixtures.ca } });
      try {
        expect(upstream.agent).to.be.instanceOf(https.Agent);
        expect(upstream.agent.maxSockets).to.equal(4);
        expect(upstream.proxy).to.equal(undefined);
        expect(upstream.absoluteForm).to.equal(false);
        const before = secureVcs.connections;
        expect((await fetchThrough(upstream, secureVcs.origin, '/one')).body).to.equal('GET /one');
        expect((await fetchThrough(upstream, secureVcs.origin, '/two')).body).to.equal('GET /two');
        expect(secureVcs.connections - before).to.equal(1);
      } finally {
        upstream.agent.destroy();
      }
    });

    it('returns a plain http.Agent for http targets', async () => {
      const upstream = createUpstreamAgent(plainVcs.origin, { maxSockets: 2, keepAlive: false });
      try {
        expect(upstream.agent).to.be.instanceOf(http.Agent).and.not.to.be.instanceOf(https.Agent);
        expect((await fetchThrough(upstream, plainVcs.origin, '/plain')).body).to.equal('GET /plain');
        expect(plainVcs.seen.at(-1)?.url).to.equal('/plain');
      } finally {
        upstream.agent.destroy();
      }
    });

    it('tunnels through an https: proxy, trusting it with the same CA, credentials only on CONNECT', async () => {
      const fake = await startFakeProxy('tunnel', true);
      // The fake proxy only tunnels to localhost: address the VCS by that name here.
      const target = new URL(`https://localhost:${secureVcs.port}`);
      const proxy = new URL(`https://alice:s3cret@localhost:${fake.url.port}`);
      const upstream = createUpstreamAgent(target, { proxy, maxSockets: 1, tls: { ca: fixtures.ca } });
      try {
        expect(upstream.proxy?.href).to.equal(`https://localhost:${fake.url.port}/`);
        expect(await fetchThrough(upstream, target, '/through-https-proxy')).to.include({ status: 200, body: 'GET /through-https-proxy' });
        expect(fake.requests).to.have.length(1);
        const [connect] = fake.requests;
        expect(connect?.url).to.equal(`localhost:${secureVcs.port}`);
        expect(connect?.headers['proxy-authorization']).to.equal(`Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
        expect(connect?.headers).not.to.have.property('authorization');
        expect(secureVcs.seen.at(-1)?.headers).not.to.have.property('proxy-authorization');
      } finally {
        upstream.agent.destroy();
        await fake.stop();
      }
    });

    it('validates its options', () => {
      const attempts: Array<() => unknown> = [
        () => createUpstreamAgent(new URL('ftp://vcs.test'), { maxSockets: 1 }),
        () => createUpstreamAgent(new URL('https://vcs.test'), { maxSockets: 0 }),
        () => createUpstreamAgent(new URL('https://vcs.test'), { maxSockets: 1.5 }),
        () => createUpstreamAgent(new URL('https://vcs.test'), { maxSockets: 1, proxy: new URL('socks5://p:1') }),
      ];
      expect(rejectedOptions(attempts)).to.deep.equal(['target', 'maxSockets', 'maxSockets', 'proxy']);
    });
  });

  const missing = squidMissingReason();

  describe(`through a real squid${missing === undefined ? '' : ` (skipped: ${missing})`}`, () => {
    let squid: RunningSquid | null = null;
    let secureVcs: FakeVcs;
    let plainVcs: FakeVcs;
    before(async function () {
      if (missing !== undefined) this.skip();
      squid = await startSquid({ hosts: [VCS_HOST] });
      if (squid === null) this.skip();
      secureVcs = await startVcs(true);
      plainVcs = await startVcs(false);
    });
    after(async () => {
      await squid?.stop();
      await secureVcs?.stop();
      await plainVcs?.stop();
    });

    it('reaches an https VCS through CONNECT tunnels, reusing a tunnel between requests', async () => {
      const upstream = createUpstreamAgent(secureVcs.origin, { proxy: squid!.url, maxSockets: 2, tls: { ca: fixtures.ca } });
      try {
        expect(upstream.absoluteForm).to.equal(false);
        expect(upstream.proxy?.href).to.equal(squid!.url.href);
        const before = secureVcs.connections;
        expect(await fetchThrough(upstream, secureVcs.origin, '/api/v4/projects')).to.include({ status: 200, body: 'GET /api/v4/projects' });
        expect(await fetchThrough(upstream, secureVcs.origin, '/api/v4/users')).to.include({ status: 200, body: 'GET /api/v4/users' });
        expect(secureVcs.connections - before).to.equal(1);
      } finally {
        upstream.agent.destroy();
      }
      const log = await squid!.waitForAccessLog(new RegExp(`TCP_TUNNEL/200 \\d+ CONNECT ${VCS_HOST}:${secureVcs.port} `));
      expect(log.match(new RegExp(`CONNECT ${VCS_HOST}:${secureVcs.port} `, 'g'))).to.have.length(1);
    });

    it('reaches an http VCS through HTTP_PROXY with absolute-form requests', async () => {
      const upstream = createUpstreamAgent(plainVcs.origin, { proxy: squid!.url, maxSockets: 2 });
      try {
        expect(upstream.absoluteForm).to.equal(true);
        const response = await fetchThrough(upstream, plainVcs.origin, '/rest/api/1.0/projects');
        expect(response).to.include({ status: 200, body: 'GET /rest/api/1.0/projects' });
        expect(response.headers.via).to.be.a('string');
      } finally {
        upstream.agent.destroy();
      }
      await squid!.waitForAccessLog(new RegExp(`GET http://${VCS_HOST}:${plainVcs.port}/rest/api/1\\.0/projects `));
    });

    it('fails the request with ProxyError when squid refuses the CONNECT', async () => {
      const target = new URL(`https://${VCS_HOST}:1`);
      const upstream = createUpstreamAgent(target, { proxy: squid!.url, maxSockets: 1, tls: { ca: fixtures.ca } });
      try {
        const error = await rejection(fetchThrough(upstream, target, '/'));
        expect(error).to.be.instanceOf(ProxyError);
        expect((error as ProxyError).statusCode).to.equal(403);
        expect(error.message).to.contain(`refused CONNECT to the VCS ${VCS_HOST}:1 with status 403`);
      } finally {
        upstream.agent.destroy();
      }
    });

    it('bypasses the proxy for NO_PROXY hosts (squid never sees them)', async () => {
      const bypassedVcs = await startVcs(true);
      const bypassedPlain = await startVcs(false);
      try {
        const env = { httpsProxy: squid!.url.href, httpProxy: squid!.url.href, noProxy: `other.test, .${VCS_HOST}` };
        for (const vcs of [bypassedVcs, bypassedPlain]) {
          const proxy = resolveProxy(vcs.origin, env);
          expect(proxy, vcs.origin.href).to.equal(undefined);
          const upstream = createUpstreamAgent(vcs.origin, { maxSockets: 1, tls: { ca: fixtures.ca } });
          try {
            const response = await fetchThrough(upstream, vcs.origin, '/bypassed');
            expect(response).to.include({ status: 200 });
            // The VCS saw the client's own socket: no proxy in between.
            expect(vcs.seen.at(-1)?.remotePort).to.equal(response.localPort);
          } finally {
            upstream.agent.destroy();
          }
        }
        // Control: the same environment without the NO_PROXY entry goes through squid, and
        // once squid has logged that, it has logged everything it saw before.
        const control = resolveProxy(secureVcs.origin, { ...env, noProxy: 'other.test' });
        expect(control?.href).to.equal(squid!.url.href);
        const upstream = createUpstreamAgent(secureVcs.origin, { proxy: control, maxSockets: 1, tls: { ca: fixtures.ca } });
        try {
          expect((await fetchThrough(upstream, secureVcs.origin, '/control')).status).to.equal(200);
        } finally {
          upstream.agent.destroy();
        }
        const log = await squid!.waitForAccessLog(new RegExp(`CONNECT ${VCS_HOST}:${secureVcs.port} `));
        expect(log).not.to.contain(`:${bypassedVcs.port}`);
        expect(log).not.to.contain(`:${bypassedPlain.port}`);
      } finally {
        await bypassedVcs.stop();
        await bypassedPlain.stop();
      }
    });
  });

  describe(`through a real squid with proxy authentication${missing === undefined ? '' : ` (skipped: ${missing})`}`, () => {
    const user = 'agent';
    const password = 'pr0xy:p@ss';
    let squid: RunningSquid | null = null;
    let secureVcs: FakeVcs;
    let plainVcs: FakeVcs;
    before(async function () {
      if (missing !== undefined) this.skip();
      squid = await startSquid({ auth: { user, password }, hosts: [VCS_HOST] });
      if (squid === null) this.skip();
      secureVcs = await startVcs(true);
      plainVcs = await startVcs(false);
    });
    after(async () => {
      await squid?.stop();
      await secureVcs?.stop();
      await plainVcs?.stop();
    });

    it('authenticates CONNECT for an https VCS; the VCS never sees Proxy-Authorization', async () => {
      const proxy = proxyWithCredentials(squid!, user, password);
      const upstream = createUpstreamAgent(secureVcs.origin, { proxy, maxSockets: 1, tls: { ca: fixtures.ca } });
      try {
        expect(upstream.proxy?.href).to.equal(squid!.url.href);
        expect(await fetchThrough(upstream, secureVcs.origin, '/secure')).to.include({ status: 200, body: 'GET /secure' });
        expect(secureVcs.seen.at(-1)?.headers).not.to.have.property('proxy-authorization');
      } finally {
        upstream.agent.destroy();
      }
      await squid!.waitForAccessLog(new RegExp(`TCP_TUNNEL/200 \\d+ CONNECT ${VCS_HOST}:${secureVcs.port} ${user} `));
    });

    it('authenticates absolute-form requests for an http VCS; squid strips Proxy-Authorization', async () => {
      const proxy = proxyWithCredentials(squid!, user, password);
      const upstream = createUpstreamAgent(plainVcs.origin, { proxy, maxSockets: 1 });
      try {
        expect(await fetchThrough(upstream, plainVcs.origin, '/plain')).to.include({ status: 200, body: 'GET /plain' });
        expect(plainVcs.seen.at(-1)?.headers).not.to.have.property('proxy-authorization');
      } finally {
        upstream.agent.destroy();
      }
      await squid!.waitForAccessLog(new RegExp(`GET http://${VCS_HOST}:${plainVcs.port}/plain ${user} `));
    });

    it('fails an https request with ProxyAuthenticationError on a wrong password, without leaking it', async () => {
      const wrong = 'not-the-Passw0rd';
      const proxy = proxyWithCredentials(squid!, user, wrong);
      const upstream = createUpstreamAgent(secureVcs.origin, { proxy, maxSockets: 1, tls: { ca: fixtures.ca } });
      try {
        const error = await rejection(fetchThrough(upstream, secureVcs.origin, '/secure'));
        expect(error).to.be.instanceOf(ProxyAuthenticationError);
        expect((error as ProxyAuthenticationError).proxy).to.equal(`http://127.0.0.1:${squid!.port}`);
        expect((error as ProxyAuthenticationError).credentialsSent).to.equal(true);
        for (const secret of [wrong, password, proxy.href, proxy.password]) expect(error.message).not.to.contain(secret);
      } finally {
        upstream.agent.destroy();
      }
    });

    it('hands the proxy 407 back as the response for absolute-form (http) requests', async () => {
      const proxy = proxyWithCredentials(squid!, user, 'wrong');
      const upstream = createUpstreamAgent(plainVcs.origin, { proxy, maxSockets: 1 });
      try {
        expect(upstream.absoluteForm).to.equal(true);
        const response = await fetchThrough(upstream, plainVcs.origin, '/plain');
        expect(response.status).to.equal(407);
        expect(response.headers['proxy-authenticate']).to.match(/^Basic /);
      } finally {
        upstream.agent.destroy();
      }
    });
  });
});
