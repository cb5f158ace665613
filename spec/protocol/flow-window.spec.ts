import { expect } from 'chai';
import { connect, createServer, type ClientHttp2Session, type Http2Server, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { openWindows, wakeWindows } from '../../lib/protocol/flow-window.js';
import { nextEvent, waitFor } from '../helpers/wait-for.js';

/** One HTTP/2 session pair on loopback, both ends sized by openWindows, counting the PINGs each receives. */
async function sessionPair(): Promise<{ server: Http2Server; serverSession: ServerHttp2Session; client: ClientHttp2Session; pingsAtServer: () => number; pingsAtClient: () => number }> {
  const server = createServer();
  server.on('stream', (stream) => {
    // GET /bulk: 2 MiB back, in 64 KiB writes.
    stream.respond({ ':status': 200 });
    const chunk = Buffer.alloc(64 * 1024, 'b');
    for (let i = 0; i < 32; i++) stream.write(chunk);
    stream.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const sessionAtServer = nextEvent<ServerHttp2Session>(server, 'session');
  const client = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  await nextEvent(client, 'connect');
  openWindows(client);
  const serverSession = await sessionAtServer;
  openWindows(serverSession);
  let atServer = 0;
  let atClient = 0;
  serverSession.on('ping', () => atServer++);
  client.on('ping', () => atClient++);
  return { server, serverSession, client, pingsAtServer: () => atServer, pingsAtClient: () => atClient };
}

describe('protocol: flow windows (openWindows) on a live session', () => {
  it('sends no measurement PING while only control frames arrive, and measures once data does', async () => {
    const pair = await sessionPair();
    try {
      // Keepalive-like traffic from the client: one PING every 50 ms, each answered, for over
      // 1.5 s. Neither side may measure meanwhile: the ACKs (and the PINGs) are control traffic,
      // not a transfer; and the link counts as quiet, so its sizer polls slowly. Each side pings
      // twice on its own, both quiet round trips (BdpEstimator.quietSample): once connected, and
      // once when the link has been quiet for a second.
      const keepalives = 30;
      for (let i = 0; i < keepalives; i++) {
        await new Promise<void>((resolve, reject) => pair.client.ping((error) => (error === null ? resolve() : reject(error))));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(pair.pingsAtServer(), 'PINGs the server received').to.equal(keepalives + 2);
      expect(pair.pingsAtClient(), 'PINGs the client received').to.equal(2);

      // A download is a transfer, also on a link the sizer polls slowly: the client measures it with a PING of its own.
      const stream = pair.client.request({ ':path': '/bulk' });
      stream.resume();
      await nextEvent(stream, 'end');
      await waitFor(() => pair.pingsAtServer() > keepalives + 2, 2000, 'a measurement PING from the client during the download');
    } finally {
      pair.client.destroy();
      pair.serverSession.destroy();
      await new Promise((resolve) => pair.server.close(resolve));
    }
  });

  it('measures at once when a stream wakes a quiet session (wakeWindows), not at its next slow poll', async () => {
    const pair = await sessionPair();
    try {
      // Quiet for over a second: the sizer now polls every 250 ms.
      await new Promise((resolve) => setTimeout(resolve, 1_300));
      const stream = pair.client.request({ ':path': '/bulk' });
      const first = await nextEvent<Buffer>(stream, 'data');
      expect(first.length).to.be.at.least(4096);
      // Spy on the session's PINGs: the woken poll must send its measurement PING synchronously.
      let pings = 0;
      const ping = pair.client.ping.bind(pair.client);
      pair.client.ping = ((...args: Parameters<ClientHttp2Session['ping']>) => {
        pings++;
        return ping(...args);
      }) as ClientHttp2Session['ping'];
      wakeWindows(pair.client);
      expect(pings, 'measurement PINGs sent by the wake').to.equal(1);
      // Woken, it polls fast: a second wake changes nothing.
      wakeWindows(pair.client);
      expect(pings).to.equal(1);
      stream.resume();
      await nextEvent(stream, 'end');
    } finally {
      pair.client.destroy();
      pair.serverSession.destroy();
      await new Promise((resolve) => pair.server.close(resolve));
    }
  });
});
