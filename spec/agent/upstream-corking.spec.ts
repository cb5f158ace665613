import { expect } from 'chai';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { CorkingConnector } from '../../lib/agent/upstream-corking.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('CorkingConnector: a turn of upload chunks leaves as one write (lib/agent/upstream-corking.ts)', function () {
  let server: Server;
  let received: Buffer[] = [];
  /** The next connection is left unread until the test resumes it (firstPeer). */
  let stalled = false;
  let firstPeer: Promise<Socket>;
  let onPeer: (socket: Socket) => void;
  const peers: Socket[] = [];

  before(async () => {
    server = createServer((socket) => {
      peers.push(socket);
      if (stalled) {
        stalled = false;
        socket.pause();
        onPeer(socket);
        return;
      }
      socket.on('data', (chunk: Buffer) => received.push(chunk));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(() => {
    for (const socket of peers) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    received = [];
    firstPeer = new Promise((resolve) => (onPeer = resolve));
  });

  function connect(connector: CorkingConnector): Promise<Socket> {
    const { port } = server.address() as AddressInfo;
    return new Promise((resolve, reject) =>
      connector.connect({ hostname: '127.0.0.1', host: `127.0.0.1:${port}`, protocol: 'http:', port: String(port), servername: null, localAddress: null, httpSocket: undefined } as never, (error, socket) =>
        error === null ? resolve(socket as Socket) : reject(error),
      ),
    );
  }

  it('corks every socket it opened until the end of the turn, then sends what was written as one', async () => {
    const connector = new CorkingConnector({ timeout: 5000 });
    const [a, b] = await Promise.all([connect(connector), connect(connector)]);
    connector.corkTurn();
    connector.corkTurn(); // once per turn, however many chunks
    expect(a.writableCorked).to.equal(1);
    expect(b.writableCorked).to.equal(1);
    for (let i = 0; i < 4; i++) a.write(Buffer.alloc(16 * 1024, i));
    expect(a.writableLength, 'held while corked').to.equal(64 * 1024);
    await turn();
    expect(a.writableLength, 'written at the end of the turn').to.equal(0);
    // 64 KiB reached the high-water mark, so the flush ended in 'drain', which corks for one
    // more turn (the next test says why); a turn with nothing written leaves both uncorked.
    await turn();
    expect(a.writableCorked).to.equal(0);
    expect(b.writableCorked).to.equal(0);
    const deadline = Date.now() + 5000;
    while (received.reduce((sum, chunk) => sum + chunk.length, 0) < 64 * 1024 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(Buffer.concat(received)).to.deep.equal(Buffer.concat([0, 1, 2, 3].map((i) => Buffer.alloc(16 * 1024, i))));
    a.destroy();
    b.destroy();
  });

  it('corks a socket that drains, so that what a paused body resumes with leaves as one write too', async () => {
    stalled = true; // the VCS stops reading: the kernel's buffers fill, writes stay queued
    const connector = new CorkingConnector({ timeout: 5000 });
    const socket = await connect(connector);
    // undici pauses a request body when a write returns false and resumes it on 'drain': its
    // listener comes after the connector's, as this one does.
    const resumed = new Promise<{ corked: number; held: number }>((resolve) =>
      socket.once('drain', () => {
        const corked = socket.writableCorked;
        for (let i = 0; i < 3; i++) socket.write(Buffer.alloc(16 * 1024, i));
        resolve({ corked, held: socket.writableLength });
      }),
    );
    let writes = 0;
    while (socket.write(Buffer.alloc(1024 * 1024)) && writes < 256) writes++;
    expect(socket.writableLength, 'a write left queued').to.be.above(0);
    const peer = await firstPeer;
    peer.resume();
    expect(await resumed).to.deep.equal({ corked: 1, held: 48 * 1024 });
    await turn();
    expect(socket.writableCorked).to.equal(0);
    expect(socket.writableLength, 'written at the end of the turn').to.equal(0);
    socket.destroy();
  });

  it('forgets a socket once it closes, and corks only the open ones', async () => {
    const connector = new CorkingConnector({ timeout: 5000 });
    const a = await connect(connector);
    const b = await connect(connector);
    await new Promise<void>((resolve) => {
      a.once('close', () => resolve());
      a.destroy();
    });
    connector.corkTurn();
    expect(a.writableCorked, 'the closed socket is left alone').to.equal(0);
    expect(b.writableCorked).to.equal(1);
    await turn();
    expect(b.writableCorked).to.equal(0);
    b.destroy();
  });
});
