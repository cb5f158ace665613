import { once } from 'node:events';
import type { ClientHttp2Session } from 'node:http2';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { expect } from 'chai';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { digestStream, generatedBody, generatedDigest } from '../helpers/bodies.js';

const MiB = 1024 * 1024;
const ONE_WAY_MS = 20;
/** What the emulated link holds per direction before it stops reading (like socket buffers). */
const LINK_BUFFER = 2 * MiB;

/*
 * A link with a round trip (40 ms) and bounded buffers, unlike the bench's relay: it stops
 * reading once LINK_BUFFER waits in one direction, so a peer that stops reading pushes back
 * on the other one, as kernel buffers do. Over it the BDP estimator grows the windows for
 * one-way bulk, and full duplex afterwards must still complete (docs/protocol.md § 6).
 */
function delayedPipe(from: Socket, to: Socket): void {
  let queued = 0;
  from.on('data', (chunk: Buffer) => {
    queued += chunk.length;
    if (queued >= LINK_BUFFER) from.pause();
    setTimeout(() => {
      queued -= chunk.length;
      if (!to.destroyed && !to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      } else if (queued < LINK_BUFFER && to.writableLength < LINK_BUFFER) from.resume();
    }, ONE_WAY_MS);
  });
  from.on('end', () => setTimeout(() => to.end(), ONE_WAY_MS));
  from.on('error', () => to.destroy());
}

describe('BDP-sized windows over a link with a round trip', function () {
  this.timeout(180_000);
  let harness: Harness;
  let link: Server;
  let gatewayPort = 0;

  before(async () => {
    link = createServer((client) => {
      const upstream = connect({ host: '127.0.0.1', port: gatewayPort });
      delayedPipe(client, upstream);
      delayedPipe(upstream, client);
    });
    link.listen(0, '127.0.0.1');
    await once(link, 'listening');
    const linkPort = (link.address() as AddressInfo).port;
    harness = await startHarness({
      policy: testPolicy,
      parallelism: 4,
      vcs(req, res) {
        const size = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('size') ?? 0);
        if (req.method === 'GET') {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
          generatedBody(size).pipe(res);
          return;
        }
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        req.pipe(res); // echo while still receiving
      },
      client: {
        // The token names the gateway itself; the agent dials the link in front of it instead.
        connect: async (gateway) => {
          gatewayPort = Number(gateway.port);
          const socket = connect({ host: '127.0.0.1', port: linkPort });
          await once(socket, 'connect');
          return socket;
        },
      },
    });
  });
  after(async () => {
    await harness?.close();
    link.close();
  });

  // The agent's session, to read the stream window the gateway granted it (no public accessor).
  const agentSession = (): ClientHttp2Session => (harness.client as unknown as { slots: [{ current: { session: ClientHttp2Session } }] }).slots[0].current.session;

  it('grows the gateway\'s window for a download, then still completes full duplex on every stream', async () => {
    const down = 64 * MiB;
    const response = await harness.stream(`/allowed/down?size=${down}`);
    const downloaded = await digestStream(response.body);
    expect(downloaded).to.deep.equal({ bytes: down, digest: generatedDigest(down) });
    // What the gateway advertised for its receive side of each stream: above the 1 MiB base.
    expect(agentSession().remoteSettings.initialWindowSize).to.be.above(1 * MiB);

    const size = 32 * MiB;
    const expected = generatedDigest(size);
    const results = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const echo = await harness.stream(`/allowed/echo/${i}`, { method: 'POST', body: generatedBody(size), headers: { 'content-length': String(size) } });
        expect(echo.status).to.equal(200);
        return digestStream(echo.body);
      }),
    );
    for (const result of results) expect(result).to.deep.equal({ bytes: size, digest: expected });
    expect(harness.client.streamCounts.open).to.equal(4);
  });
});
