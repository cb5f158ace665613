import { expect } from 'chai';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { CorkingConnector } from '../../lib/agent/upstream-corking.js';
import { RELAY_BUFFER_BYTES } from '../../lib/protocol/http2-settings.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('CorkingConnector: a turn of upload chunks leaves as one write (lib/agent/upstream-corking.ts)', function () {
  let server: Server;
  let received: Buffer[] = [];

  before(async () => {
    server = createServer((socket) => {
      socket.on('data', (chunk: Buffer) => received.push(chunk));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    received = [];
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
    expect(a.writableCorked).to.equal(0);
    expect(b.writableCorked).to.equal(0);
    expect(a.writableLength, 'written at the end of the turn').to.equal(0);
    const deadline = Date.now() + 5000;
    while (received.reduce((sum, chunk) => sum + chunk.length, 0) < 64 * 1024 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(Buffer.concat(received)).to.deep.equal(Buffer.concat([0, 1, 2, 3].map((i) => Buffer.alloc(16 * 1024, i))));
    a.destroy();
    b.destroy();
  });

  it('opens its sockets with room for a turn of chunks: a corked socket takes up to RELAY_BUFFER_BYTES before it reports full', async () => {
    const connector = new CorkingConnector({ timeout: 5000 });
    const a = await connect(connector);
    expect(a.writableHighWaterMark).to.equal(RELAY_BUFFER_BYTES);
    expect(a.readableHighWaterMark, 'downloads are read as before').to.equal(64 * 1024);
    connector.corkTurn();
    const accepted: boolean[] = [];
    for (let i = 0; i < 16; i++) accepted.push(a.write(Buffer.alloc(16 * 1024, i)));
    // undici pauses a request body at the first false: at 64 KiB that was the fourth chunk.
    expect(accepted.every(Boolean)).to.equal(true);
    await turn();
    expect(a.writableLength).to.equal(0);
    a.destroy();
  });

  it('corkTick holds the writes of the callbacks already queued for this tick, and sends them together right after', async () => {
    const connector = new CorkingConnector({ timeout: 5000 });
    const a = await connect(connector);
    const during: Array<{ corked: number; length: number }> = [];
    // As after RequestBody.resume(): the body's flow is queued first, corkTick's uncork after it.
    process.nextTick(() => {
      for (let i = 0; i < 4; i++) a.write(Buffer.alloc(16 * 1024, i));
      during.push({ corked: a.writableCorked, length: a.writableLength });
    });
    connector.corkTick();
    expect(a.writableCorked).to.equal(1);
    await new Promise<void>((resolve) => process.nextTick(resolve));
    expect(during).to.deep.equal([{ corked: 1, length: 64 * 1024 }]);
    expect(a.writableCorked, 'uncorked within the same tick, not at the end of the turn').to.equal(0);
    a.destroy();
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
