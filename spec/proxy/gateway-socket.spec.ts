import { expect } from 'chai';
import { once } from 'node:events';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { GatewayConnectionError, InvalidOptionError, RequestAbortedError } from '../../lib/errors.js';
import { connectGatewaySocket, ProxyAuthenticationError, ProxyError } from '../../lib/proxy/index.js';
import { squidMissingReason, startSquid, type RunningSquid } from '../helpers/squid.js';
import { tlsFixtures } from '../helpers/tls-fixtures.js';
import { startFakeProxy } from './fake-connect-proxy.js';

const fixtures = tlsFixtures();

/** Listens on 127.0.0.1 (or ::1) port 0 and returns the port. */
async function listen(server: net.Server, host = '127.0.0.1'): Promise<number> {
  server.listen(0, host);
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if ('closeAllConnections' in server && typeof server.closeAllConnections === 'function') server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** An HTTP/2 gateway stand-in: answers every request with "<alpn> <path>". */
async function startGateway(secure: boolean): Promise<{ server: http2.Http2Server; port: number; sockets: Set<net.Socket> }> {
  const handler = (request: http2.Http2ServerRequest, response: http2.Http2ServerResponse): void => {
    const alpn = (request.socket as tls.TLSSocket).alpnProtocol ?? 'h2c';
    response.end(`${alpn === false ? 'none' : alpn} ${request.url}`);
  };
  const server = secure
    ? http2.createSecureServer({ key: fixtures.key, cert: fixtures.cert, allowHTTP1: false }, handler)
    : http2.createServer(handler);
  const sockets = new Set<net.Socket>();
  server.on(secure ? 'secureConnection' : 'connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const port = await listen(server);
  return { server, port, sockets };
}

async function stopGateway(gateway: { server: http2.Http2Server; sockets: Set<net.Socket> }): Promise<void> {
  for (const socket of gateway.sockets) socket.destroy();
  await close(gateway.server);
}

/** One real HTTP/2 GET over the socket, then the session is closed. */
async function h2Get(target: URL, socket: Duplex, path: string): Promise<{ status: number; body: string }> {
  const session = http2.connect(target, { createConnection: () => socket });
  try {
    const stream = session.request({ ':path': path });
    stream.setEncoding('utf8');
    let body = '';
    stream.on('data', (chunk: string) => (body += chunk));
    // Listen for 'end' before awaiting 'response': when HEADERS and DATA+END_STREAM arrive in
    // one read, 'end' is emitted (nextTick) before the await's continuation would attach it.
    const ended = once(stream, 'end');
    const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
    await ended;
    return { status: Number(headers[':status']), body };
  } finally {
    session.close();
    await once(session, 'close');
  }
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the promise to reject');
}

/** Resolves when the event fires; rejects after a bound. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error as Error);
      },
    );
  });
}

describe('connectGatewaySocket', function () {
  this.timeout(20_000);

  describe('direct', () => {
    let gateway: Awaited<ReturnType<typeof startGateway>>;
    before(async () => (gateway = await startGateway(true)));
    after(() => stopGateway(gateway));

    it('returns a TLS socket with ALPN h2 that carries a real HTTP/2 request', async () => {
      const target = new URL(`https://localhost:${gateway.port}`);
      const socket = await connectGatewaySocket(target, { tls: { ca: fixtures.ca } });
      expect(socket).to.be.instanceOf(tls.TLSSocket);
      expect((socket as tls.TLSSocket).alpnProtocol).to.equal('h2');
      expect(await h2Get(target, socket, '/direct')).to.deep.equal({ status: 200, body: 'h2 /direct' });
    });

    it('verifies the certificate against an IP literal target without sending it as SNI', async () => {
      const target = new URL(`https://127.0.0.1:${gateway.port}`);
      const socket = await connectGatewaySocket(target, { tls: { ca: fixtures.ca } });
      expect((socket as tls.TLSSocket).servername).to.not.equal('127.0.0.1');
      expect(await h2Get(target, socket, '/ip')).to.deep.equal({ status: 200, body: 'h2 /ip' });
    });

    it('fails with GatewayConnectionError when the certificate is not trusted', async () => {
      const error = await rejection(connectGatewaySocket(new URL(`https://localhost:${gateway.port}`)));
      expect(error).to.be.instanceOf(GatewayConnectionError);
      expect((error as GatewayConnectionError).code).to.equal('VCS_GATEWAY_UNREACHABLE');
      expect(error.message).to.contain(`localhost:${gateway.port}`);
      expect((error.cause as NodeJS.ErrnoException).code).to.match(/CERT|SIGNATURE|ISSUER/);
    });

    it('rejects a TLS server that selects no ALPN protocol with a clear error', async () => {
      const server = tls.createServer({ key: fixtures.key, cert: fixtures.cert }, (socket) => socket.resume());
      const port = await listen(server);
      try {
        const error = await rejection(connectGatewaySocket(new URL(`https://localhost:${port}`), { tls: { ca: fixtures.ca } }));
        expect(error).to.be.instanceOf(GatewayConnectionError);
        expect(error.message).to.contain('did not negotiate HTTP/2: TLS ALPN selected no protocol instead of "h2"');
      } finally {
        await close(server);
      }
    });

    it('rejects an HTTP/1.1-only TLS server (ALPN refused) with a clear error', async () => {
      const server = https.createServer({ key: fixtures.key, cert: fixtures.cert, ALPNProtocols: ['http/1.1'] }, (_q, r) => r.end());
      const port = await listen(server);
      try {
        const error = await rejection(connectGatewaySocket(new URL(`https://localhost:${port}`), { tls: { ca: fixtures.ca } }));
        expect(error).to.be.instanceOf(GatewayConnectionError);
        expect(error.message).to.contain('does not speak HTTP/2');
      } finally {
        await close(server);
      }
    });

    it('returns a cleartext socket for http: targets (h2c)', async () => {
      const cleartext = await startGateway(false);
      try {
        const target = new URL(`http://127.0.0.1:${cleartext.port}`);
        const socket = await connectGatewaySocket(target);
        expect(socket).to.not.be.instanceOf(tls.TLSSocket);
        expect(await h2Get(target, socket, '/h2c')).to.deep.equal({ status: 200, body: 'h2c /h2c' });
      } finally {
        await stopGateway(cleartext);
      }
    });

    it('times out (bounded) when the server never completes the TLS handshake', async () => {
      const silent = net.createServer((socket) => socket.resume());
      const port = await listen(silent);
      try {
        const started = Date.now();
        const error = await rejection(connectGatewaySocket(new URL(`https://localhost:${port}`), { timeoutMs: 200 }));
        expect(error).to.be.instanceOf(GatewayConnectionError);
        expect(error.message).to.contain('timed out after 200 ms');
        expect(Date.now() - started).to.be.lessThan(5000);
      } finally {
        await close(silent);
      }
    });

    it('rejects with RequestAbortedError when the signal aborts (or already has)', async () => {
      const silent = net.createServer(() => {});
      const port = await listen(silent);
      try {
        const controller = new AbortController();
        const pending = connectGatewaySocket(new URL(`https://localhost:${port}`), { signal: controller.signal });
        setImmediate(() => controller.abort());
        expect(await rejection(pending)).to.be.instanceOf(RequestAbortedError);
        const aborted = AbortSignal.abort();
        expect(await rejection(connectGatewaySocket(new URL(`https://localhost:${port}`), { signal: aborted }))).to.be.instanceOf(RequestAbortedError);
      } finally {
        await close(silent);
      }
    });

    it('validates its options', async () => {
      const bad = [
        connectGatewaySocket(new URL('ws://localhost:1')),
        connectGatewaySocket(new URL('https://localhost:1'), { proxy: new URL('socks5://localhost:1') }),
        connectGatewaySocket(new URL('https://localhost:1'), { timeoutMs: 0 }),
      ];
      const options = [];
      for (const attempt of bad) {
        const error = await rejection(attempt);
        expect(error).to.be.instanceOf(InvalidOptionError);
        options.push((error as InvalidOptionError).option);
      }
      expect(options).to.deep.equal(['target', 'proxy', 'timeoutMs']);
    });
  });

  describe('through a scripted CONNECT proxy', () => {
    let gateway: Awaited<ReturnType<typeof startGateway>>;
    before(async () => (gateway = await startGateway(true)));
    after(() => stopGateway(gateway));

    it('sends the credentials as Proxy-Authorization only, on CONNECT only, and keeps TLS + h2 end to end', async () => {
      const proxy = await startFakeProxy('tunnel');
      try {
        const target = new URL(`https://localhost:${gateway.port}`);
        const proxyUrl = new URL(proxy.url);
        proxyUrl.username = 'alice';
        proxyUrl.password = 'p%40ss:word';
        const socket = await connectGatewaySocket(target, { proxy: proxyUrl, tls: { ca: fixtures.ca } });
        expect((socket as tls.TLSSocket).alpnProtocol).to.equal('h2');
        expect(await h2Get(target, socket, '/tunnelled')).to.deep.equal({ status: 200, body: 'h2 /tunnelled' });
        expect(proxy.requests).to.have.length(1);
        const [connect] = proxy.requests;
        expect(connect?.method).to.equal('CONNECT');
        expect(connect?.url).to.equal(`localhost:${gateway.port}`);
        expect(connect?.headers.host).to.equal(`localhost:${gateway.port}`);
        expect(connect?.headers['proxy-authorization']).to.equal(`Basic ${Buffer.from('alice:p@ss:word').toString('base64')}`);
        expect(connect?.headers).to.not.have.property('authorization');
        // Closing the session closes the tunnel, down to the TCP connection to the proxy.
        await within(proxy.clientGone[0]!, 5000, 'the tunnel closing at the proxy');
      } finally {
        await proxy.stop();
      }
    });

    it('tunnels through an https: proxy (TLS inside TLS)', async () => {
      const proxy = await startFakeProxy('tunnel', true);
      try {
        const target = new URL(`https://localhost:${gateway.port}`);
        const proxyUrl = new URL(`https://localhost:${proxy.url.port}`);
        const socket = await connectGatewaySocket(target, { proxy: proxyUrl, tls: { ca: fixtures.ca } });
        expect(await h2Get(target, socket, '/tls-in-tls')).to.deep.equal({ status: 200, body: 'h2 /tls-in-tls' });
        expect(proxy.requests.map((request) => request.url)).to.deep.equal([`localhost:${gateway.port}`]);
        await within(proxy.clientGone[0]!, 5000, 'the tunnel closing at the proxy');
      } finally {
        await proxy.stop();
      }
    });

    it('tunnels through a proxy listening on an IPv6 literal', async function () {
      let proxy: Awaited<ReturnType<typeof startFakeProxy>>;
      try {
        proxy = await startFakeProxy('tunnel', false, '::1');
      } catch {
        this.skip(); // no IPv6 loopback on this machine
      }
      try {
        const target = new URL(`https://localhost:${gateway.port}`);
        const socket = await connectGatewaySocket(target, { proxy: proxy.url, tls: { ca: fixtures.ca } });
        expect(await h2Get(target, socket, '/v6')).to.deep.equal({ status: 200, body: 'h2 /v6' });
      } finally {
        await proxy.stop();
      }
    });

    it('reports a gateway certificate the client does not trust, with a hint about TLS-intercepting proxies', async () => {
      const proxy = await startFakeProxy('tunnel');
      try {
        const error = await rejection(connectGatewaySocket(new URL(`https://localhost:${gateway.port}`), { proxy: proxy.url }));
        expect(error).to.be.instanceOf(GatewayConnectionError);
        expect(error.message).to.contain(`through proxy http://127.0.0.1:${proxy.url.port}`);
        expect(error.message).to.contain('if the proxy intercepts TLS, trust its CA');
        await within(proxy.clientGone[0]!, 5000, 'the tunnel closing at the proxy');
      } finally {
        await proxy.stop();
      }
    });

    it('reports 407 as ProxyAuthenticationError and closes the connection to the proxy', async () => {
      const proxy = await startFakeProxy('407');
      try {
        const error = await rejection(
          connectGatewaySocket(new URL(`https://localhost:${gateway.port}`), { proxy: proxy.url, tls: { ca: fixtures.ca } }),
        );
        expect(error).to.be.instanceOf(ProxyAuthenticationError);
        expect((error as ProxyAuthenticationError).credentialsSent).to.equal(false);
        expect(error.message).to.contain('give them in HTTPS_PROXY');
        expect(proxy.clientGone).to.have.length(1);
        await within(proxy.clientGone[0]!, 5000, 'the client closing its connection to the proxy');
      } finally {
        await proxy.stop();
      }
    });

    it('gives up on a proxy that never answers CONNECT within timeoutMs, closing the connection', async () => {
      const proxy = await startFakeProxy('hang');
      try {
        const started = Date.now();
        const error = await rejection(
          connectGatewaySocket(new URL(`https://localhost:${gateway.port}`), { proxy: proxy.url, timeoutMs: 300 }),
        );
        expect(error).to.be.instanceOf(ProxyError);
        expect(error.message).to.contain(`Proxy http://127.0.0.1:${proxy.url.port} did not establish a tunnel`);
        expect(Date.now() - started).to.be.lessThan(5000);
        expect(proxy.clientGone).to.have.length(1);
        await within(proxy.clientGone[0]!, 5000, 'the client closing its connection to the proxy');
      } finally {
        await proxy.stop();
      }
    });

    it('rejects with RequestAbortedError when aborted while waiting for the proxy', async () => {
      const proxy = await startFakeProxy('hang');
      try {
        const controller = new AbortController();
        const pending = connectGatewaySocket(new URL(`https://localhost:${gateway.port}`), { proxy: proxy.url, signal: controller.signal });
        await within(proxy.firstConnect, 5000, 'the CONNECT request reaching the proxy');
        controller.abort();
        expect(await rejection(pending)).to.be.instanceOf(RequestAbortedError);
      } finally {
        await proxy.stop();
      }
    });

    it('reports an unreachable proxy as ProxyError naming it, without credentials', async () => {
      const closed = net.createServer();
      const port = await listen(closed);
      await close(closed);
      const error = await rejection(
        connectGatewaySocket(new URL(`https://localhost:${gateway.port}`), { proxy: new URL(`http://bob:hunter2@127.0.0.1:${port}`) }),
      );
      expect(error).to.be.instanceOf(ProxyError);
      expect((error as ProxyError).proxy).to.equal(`http://127.0.0.1:${port}`);
      expect((error as ProxyError).statusCode).to.equal(undefined);
      expect(error.message).to.contain('ECONNREFUSED').and.not.to.contain('hunter2').and.not.to.contain('bob');
      expect(error.cause).to.be.instanceOf(Error);
    });
  });

  const missing = squidMissingReason();
  describe(`through a real squid${missing === undefined ? '' : ` (skipped: ${missing})`}`, () => {
    let squid: RunningSquid | null = null;
    let gateway: Awaited<ReturnType<typeof startGateway>>;
    before(async function () {
      if (missing !== undefined) this.skip();
      squid = await startSquid();
      if (squid === null) this.skip();
      gateway = await startGateway(true);
    });
    after(async () => {
      await squid?.stop();
      if (gateway !== undefined) await stopGateway(gateway);
    });

    it('opens a CONNECT tunnel with TLS + ALPN h2 end to end; squid logs the CONNECT', async () => {
      const target = new URL(`https://localhost:${gateway.port}`);
      const socket = await connectGatewaySocket(target, { proxy: squid!.url, tls: { ca: fixtures.ca } });
      expect((socket as tls.TLSSocket).alpnProtocol).to.equal('h2');
      expect(await h2Get(target, socket, '/via-squid')).to.deep.equal({ status: 200, body: 'h2 /via-squid' });
      const log = await squid!.waitForAccessLog(new RegExp(`TCP_TUNNEL/200 \\d+ CONNECT localhost:${gateway.port} - `));
      expect(log).to.match(new RegExp(`CONNECT localhost:${gateway.port}`));
    });

    it('carries h2c for http: targets through the tunnel', async () => {
      const cleartext = await startGateway(false);
      try {
        const target = new URL(`http://localhost:${cleartext.port}`);
        const socket = await connectGatewaySocket(target, { proxy: squid!.url });
        expect(await h2Get(target, socket, '/h2c-via-squid')).to.deep.equal({ status: 200, body: 'h2c /h2c-via-squid' });
        await squid!.waitForAccessLog(new RegExp(`TCP_TUNNEL/200 \\d+ CONNECT localhost:${cleartext.port} `));
      } finally {
        await stopGateway(cleartext);
      }
    });

    it('reports a CONNECT squid refuses (port denied by its rules) as ProxyError with the status', async () => {
      const error = await rejection(connectGatewaySocket(new URL('https://localhost:1'), { proxy: squid!.url }));
      expect(error).to.be.instanceOf(ProxyError);
      expect((error as ProxyError).code).to.equal('VCS_PROXY_FAILED');
      expect((error as ProxyError).statusCode).to.equal(403);
      expect((error as ProxyError).proxy).to.equal(`http://127.0.0.1:${squid!.port}`);
      expect(error.message).to.contain('refused CONNECT to the gateway localhost:1 with status 403');
      expect(error.cause).to.have.property('statusCode', 403);
    });

    it('reports a gateway squid cannot reach as ProxyError 502/503', async () => {
      const closed = net.createServer();
      const port = await listen(closed);
      await close(closed);
      const error = await rejection(connectGatewaySocket(new URL(`https://localhost:${port}`), { proxy: squid!.url }));
      expect(error).to.be.instanceOf(ProxyError);
      expect([502, 503]).to.include((error as ProxyError).statusCode);
      expect(error.message).to.contain('the proxy could not reach the gateway');
    });
  });

  describe(`through a real squid with proxy authentication${missing === undefined ? '' : ` (skipped: ${missing})`}`, () => {
    const user = 'agent';
    const password = 's3cr3t:p@ss';
    let squid: RunningSquid | null = null;
    let gateway: Awaited<ReturnType<typeof startGateway>>;
    const proxyWith = (name: string, secret: string): URL => {
      const url = new URL(squid!.url);
      url.username = encodeURIComponent(name);
      url.password = encodeURIComponent(secret);
      return url;
    };
    before(async function () {
      if (missing !== undefined) this.skip();
      squid = await startSquid({ auth: { user, password } });
      if (squid === null) this.skip();
      gateway = await startGateway(true);
    });
    after(async () => {
      await squid?.stop();
      if (gateway !== undefined) await stopGateway(gateway);
    });

    it('authenticates with the credentials from the proxy URL', async () => {
      const target = new URL(`https://localhost:${gateway.port}`);
      const socket = await connectGatewaySocket(target, { proxy: proxyWith(user, password), tls: { ca: fixtures.ca } });
      expect(await h2Get(target, socket, '/authenticated')).to.deep.equal({ status: 200, body: 'h2 /authenticated' });
      await squid!.waitForAccessLog(new RegExp(`TCP_TUNNEL/200 \\d+ CONNECT localhost:${gateway.port} ${user} `));
    });

    it('reports a wrong password as ProxyAuthenticationError without leaking it', async () => {
      const wrong = 'wr0ng-Pa55word';
      const proxy = proxyWith(user, wrong);
      const error = await rejection(
        connectGatewaySocket(new URL(`https://localhost:${gateway.port}`), { proxy, tls: { ca: fixtures.ca } }),
      );
      expect(error).to.be.instanceOf(ProxyAuthenticationError);
      const authError = error as ProxyAuthenticationError;
      expect(authError.code).to.equal('VCS_PROXY_AUTH_REQUIRED');
      expect(authError.statusCode).to.equal(407);
      expect(authError.credentialsSent).to.equal(true);
      expect(authError.proxy).to.equal(`http://127.0.0.1:${squid!.port}`);
      expect(authError.message).to.contain(`Proxy http://127.0.0.1:${squid!.port} answered 407`);
      expect(authError.message).to.contain('rejected the user name and password given in HTTPS_PROXY');
      for (const secret of [wrong, password, proxy.href, proxy.password, `${user}:`]) {
        expect(authError.message).not.to.contain(secret);
        expect(String(authError.stack)).not.to.contain(secret);
      }
      expect(authError.cause).to.have.property('statusCode', 407);
      await squid!.waitForAccessLog(new RegExp(`TCP_DENIED/407 \\d+ CONNECT localhost:${gateway.port} ${user} `));
    });

    it('reports missing credentials as ProxyAuthenticationError telling how to give them', async () => {
      const error = await rejection(connectGatewaySocket(new URL(`https://localhost:${gateway.port}`), { proxy: squid!.url }));
      expect(error).to.be.instanceOf(ProxyAuthenticationError);
      expect((error as ProxyAuthenticationError).credentialsSent).to.equal(false);
      expect(error.message).to.contain('give them in HTTPS_PROXY as http://user:password@host:port');
    });
  });
});
