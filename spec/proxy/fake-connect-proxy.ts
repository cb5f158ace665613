import { once } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { tlsFixtures } from '../helpers/tls-fixtures.js';

/** What the fake proxy does with a CONNECT: tunnel it (to loopback only), answer 407, or never answer. */
export type FakeBehaviour = 'tunnel' | '407' | 'hang';

/** A minimal CONNECT proxy written for assertions on what the client sends (loopback targets only). */
export async function startFakeProxy(behaviour: FakeBehaviour, secure = false, host = '127.0.0.1') {
  const fixtures = tlsFixtures();
  const server = secure ? https.createServer({ key: fixtures.key, cert: fixtures.cert }) : http.createServer();
  const requests: http.IncomingMessage[] = [];
  const clientSockets: Duplex[] = [];
  /** One per CONNECT: resolves when the client closes its side (http.Server is allowHalfOpen, so 'end'). */
  const clientGone: Promise<void>[] = [];
  const firstConnect = once(server, 'connect');
  server.on('connect', (request: http.IncomingMessage, client: Duplex, head: Buffer) => {
    requests.push(request);
    clientSockets.push(client);
    client.on('error', () => {});
    clientGone.push(new Promise((resolve) => {
      client.once('end', resolve);
      client.once('close', resolve);
    }));
    // Read (and drop) whatever arrives so that the client's FIN is seen and 'close' fires.
    if (behaviour !== 'tunnel') client.resume();
    if (behaviour === '407') {
      client.write('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="fake"\r\nContent-Length: 0\r\n\r\n');
      return; // keep the connection open: the client must close it
    }
    if (behaviour === 'hang') return;
    const [targetHost, targetPort] = [request.url?.replace(/:\d+$/, '') ?? '', Number(request.url?.split(':').pop())];
    if (!['localhost', '127.0.0.1'].includes(targetHost)) {
      client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort }, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client).pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const url = new URL(`${secure ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`);
  return {
    url,
    requests,
    clientSockets,
    clientGone,
    firstConnect,
    async stop(): Promise<void> {
      for (const socket of clientSockets) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
