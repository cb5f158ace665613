import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import http2 from 'node:http2';
import net from 'node:net';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { InvalidOptionError } from '../../lib/errors.js';
import { traceHttp2Socket } from '../../lib/trace/http2-trace.js';
import {
  BIG_BODY_BYTES,
  closeClient,
  connectTraced,
  dataBytes,
  request,
  startServer,
  testCert,
  type TestCert,
  type TestServer,
  within,
} from './h2-fixture.js';

const FRAMER = /^http2: Framer (0x[0-9a-f]+): /;

function requireOpenssl(ctx: Mocha.Context): TestCert {
  const cert = testCert();
  if (cert !== null) return cert;
  if (process.env.CI === 'true') throw new Error('openssl is required for the TLS trace tests (apt-get install -y openssl)');
  ctx.skip(); // openssl missing: apt-get install -y openssl
  throw new Error('unreachable');
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

const bigUpload = randomBytes(BIG_BODY_BYTES);
const bigDownload = randomBytes(BIG_BODY_BYTES);

for (const secure of [false, true]) {
  const kind = secure ? 'TLS' : 'cleartext';

  describe(`trace/http2-trace over ${kind}`, function () {
    let server: TestServer;
    let cert: TestCert | null = null;

    before(async function () {
      if (secure) cert = requireOpenssl(this);
      server = await startServer(secure, bigDownload, cert);
    });

    after(async () => {
      await server?.close();
    });

    it('lets Node http2 run a real exchange through it and prints Go-format lines (level 2)', async () => {
      const lines: string[] = [];
      const c = await connectTraced(server, 2, lines, cert);
      c.client.setLocalWindowSize(1048576); // a connection WINDOW_UPDATE of 1048576 - 65535

      const reply = await request(
        c.client,
        { ':method': 'POST', ':path': '/echo?private_token=qu3ry-s3cr3t&page=2', authorization: 'Bearer s3cr3t', 'x-vcs-agent-key': 'p00l-k3y' },
        'upl0ad-b0dy',
      );
      expect(reply.headers[':status']).to.equal(200);
      expect(reply.body.toString()).to.equal('p4yl0ad-b0dy');

      await within(new Promise<void>((resolve, reject) => {
        c.client.ping(Buffer.from('\x00\x01\x02\x03\x04\x05\x06\x07', 'latin1'), (err) => (err ? reject(err) : resolve()));
      }), 10_000, 'the PING ACK');

      // RST_STREAM: cancel a request the server has seen but will never answer.
      const seen = server.nextStream('/slow');
      const slow = c.client.request({ ':method': 'GET', ':path': '/slow' });
      slow.on('error', () => {});
      await within(seen, 10_000, 'the /slow stream');
      const closed = once(slow, 'close');
      slow.close(http2.constants.NGHTTP2_CANCEL);
      await within(closed, 10_000, 'the cancelled stream to close');

      // GOAWAY with debug data from the server.
      const goaway = once(c.client, 'goaway');
      await request(c.client, { ':method': 'GET', ':path': '/goaway' });
      await within(goaway, 10_000, 'GOAWAY');
      await closeClient(c);

      const text = lines.join('\n');
      const framers = new Set(lines.map((l) => FRAMER.exec(l)?.[1]).filter((x) => x !== undefined));
      expect(framers.size, 'one fake framer pointer per connection').to.equal(1);
      const framer = [...framers][0];
      const p = `http2: Framer ${framer}: `;
      expect(lines[0]).to.equal(`http2: Transport creating client conn ${'0x' + (parseInt(framer!, 16) + 0x2000).toString(16)} to 127.0.0.1:${server.port}`);
      expect(lines).to.include(`${p}wrote SETTINGS len=18, settings: ENABLE_PUSH=0, INITIAL_WINDOW_SIZE=4194304, MAX_HEADER_LIST_SIZE=10485760`);
      expect(lines).to.include(`${p}read SETTINGS flags=ACK len=0`);
      expect(lines).to.include(`${p}wrote SETTINGS flags=ACK len=0`);
      expect(lines).to.include(`${p}wrote WINDOW_UPDATE len=4 (conn) incr=983041`);
      expect(lines.some((l) => /^http2: Framer 0x[0-9a-f]+: wrote HEADERS flags=END_HEADERS stream=1 len=\d+$/.test(l))).to.equal(true);
      expect(lines).to.include(`${p}wrote DATA flags=END_STREAM stream=1 len=11`);
      expect(lines.some((l) => /^http2: Framer 0x[0-9a-f]+: read HEADERS flags=END_HEADERS stream=1 len=\d+$/.test(l))).to.equal(true);
      expect(lines).to.include('http2: decoded hpack field header field ":status" = "200"');
      expect(lines).to.include('http2: decoded hpack field header field "content-type" = "text/plain"');
      expect(lines).to.include('http2: decoded hpack field header field "set-cookie" = [redacted]');
      expect(lines).to.include(`${p}read DATA flags=END_STREAM stream=1 len=12`);
      expect(lines).to.include('http2: Transport received DATA flags=END_STREAM stream=1 len=12');
      expect(lines).to.include('http2: Transport encoding header ":method" = "POST"');
      expect(lines).to.include('http2: Transport encoding header ":path" = "/echo?private_token=[redacted]&page=2"');
      expect(lines).to.include('http2: Transport encoding header "authorization" = [redacted]');
      expect(lines).to.include('http2: Transport encoding header "x-vcs-agent-key" = [redacted]');
      expect(lines).to.include(`${p}wrote PING len=8 ping="\\x00\\x01\\x02\\x03\\x04\\x05\\x06\\a"`);
      expect(lines).to.include(`${p}read PING flags=ACK len=8 ping="\\x00\\x01\\x02\\x03\\x04\\x05\\x06\\a"`);
      expect(lines).to.include(`${p}wrote RST_STREAM stream=3 len=4 ErrCode=CANCEL`);
      expect(lines).to.include(`${p}read GOAWAY len=11 LastStreamID=5 ErrCode=NO_ERROR Debug="bye"`);
      expect(lines).to.include('http2: Transport received GOAWAY len=11 LastStreamID=5 ErrCode=NO_ERROR Debug="bye"');
      expect(lines.some((l) => /wrote GOAWAY len=8 LastStreamID=0 ErrCode=NO_ERROR Debug=""$/.test(l))).to.equal(true);

      // Encoding lines of a block come before the frame that carries it, as in Go.
      const firstEncoding = lines.indexOf('http2: Transport encoding header ":method" = "POST"');
      const firstHeaders = lines.findIndex((l) => / wrote HEADERS .*stream=1 /.test(l));
      expect(firstEncoding).to.be.lessThan(firstHeaders);

      // Secrets and payloads never reach the trace.
      for (const secret of ['s3cr3t', 'p00l-k3y', 'c00k1e', 'upl0ad', 'p4yl0ad']) {
        expect(text, secret).not.to.include(secret);
      }
    });

    it('passes an 8 MiB body through byte-exactly in both directions, holding no payload', async () => {
      const lines: string[] = [];
      const c = await connectTraced(server, 2, lines, cert);
      const traced = c.traced as Duplex & { traceBufferedBytes: number };
      let maxHeld = 0;
      const reply = await request(c.client, { ':method': 'PUT', ':path': '/big' }, bigUpload, () => {
        maxHeld = Math.max(maxHeld, traced.traceBufferedBytes);
      });
      expect(reply.headers['x-body-sha256']).to.equal(sha256(bigUpload));
      expect(reply.body.length).to.equal(BIG_BODY_BYTES);
      expect(sha256(reply.body)).to.equal(sha256(bigDownload));
      // The trace kept in step with every frame: DATA lengths add up exactly.
      expect(dataBytes(lines, 'wrote', 1)).to.equal(BIG_BODY_BYTES);
      expect(dataBytes(lines, 'read', 1)).to.equal(BIG_BODY_BYTES);
      // Only partial frame headers and small summaries are held between chunks.
      expect(maxHeld).to.be.lessThan(1024);
      await closeClient(c);
    });

    it('splits lines between level 1 and level 2 the way Go does', async () => {
      const one: string[] = [];
      const two: string[] = [];
      for (const [level, lines] of [[1, one], [2, two]] as const) {
        const c = await connectTraced(server, level, lines, cert);
        await request(c.client, { ':method': 'POST', ':path': '/echo', authorization: 'Bearer s3cr3t' }, 'x');
        await closeClient(c);
      }
      // Level 1: transport lines only.
      expect(one.filter((l) => l.includes(' Framer ') || l.includes('decoded hpack field'))).to.deep.equal([]);
      expect(one[0]).to.match(/^http2: Transport creating client conn 0x[0-9a-f]+ to 127\.0\.0\.1:\d+$/);
      expect(one).to.include('http2: Transport encoding header ":method" = "POST"');
      expect(one).to.include('http2: Transport encoding header "authorization" = [redacted]');
      expect(one).to.include('http2: Transport received SETTINGS flags=ACK len=0');
      expect(one.some((l) => /^http2: Transport received HEADERS flags=END_HEADERS stream=1 len=\d+$/.test(l))).to.equal(true);
      expect(one).to.include('http2: Transport received DATA flags=END_STREAM stream=1 len=12');
      // Level 2: the same transport lines, plus frames and decoded fields.
      const transportOnly = (ls: string[]): string[] => ls.filter((l) => /^http2: Transport (encoding|received) /.test(l));
      expect(transportOnly(two)).to.include.members(transportOnly(one).filter((l) => !l.includes('GOAWAY')));
      expect(two.some((l) => / wrote SETTINGS len=18, settings: /.test(l))).to.equal(true);
      expect(two).to.include('http2: decoded hpack field header field ":status" = "200"');
      for (const l of [...one, ...two]) expect(l).not.to.include('s3cr3t');
    });
  });
}

describe('trace/http2-trace as the server side', () => {
  it('traces a Node http2 server fed the wrapped socket', async () => {
    const lines: string[] = [];
    const h2 = http2.createServer();
    h2.on('stream', (stream) => {
      stream.on('error', () => {});
      stream.respond({ ':status': 200, 'set-cookie': 'sid=c00k1e-s3cr3t' });
      stream.end('ok');
    });
    const tcp = net.createServer((sock) => {
      h2.emit('connection', traceHttp2Socket(sock, { level: 2, role: 'server', write: (l) => lines.push(l), connectionLabel: 'agent-1' }));
    });
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const port = (tcp.address() as net.AddressInfo).port;
    const client = http2.connect(`http://127.0.0.1:${port}`);
    client.on('error', () => {});
    const reply = await request(client, { ':method': 'POST', ':path': '/x', authorization: 'Bearer s3cr3t' }, 'b0dy');
    expect(reply.headers[':status']).to.equal(200);
    expect(reply.body.toString()).to.equal('ok');
    const closed = once(client, 'close');
    client.close();
    await within(closed, 10_000, 'the client to close');
    await within(new Promise<void>((resolve) => tcp.close(() => resolve())), 10_000, 'server close');

    expect(lines[0]).to.match(/^http2: server connection from agent-1 on 0x[0-9a-f]+$/);
    expect(lines).to.include('http2: server: client agent-1 said hello');
    expect(lines.some((l) => /^http2: server read frame SETTINGS /.test(l))).to.equal(true);
    expect(lines).to.include('http2: decoded hpack field header field ":method" = "POST"');
    expect(lines).to.include('http2: decoded hpack field header field "authorization" = [redacted] (sensitive)');
    expect(lines).to.include('http2: server encoding header ":status" = "200"');
    expect(lines).to.include('http2: server encoding header "set-cookie" = [redacted]');
    expect(lines.some((l) => /^http2: Framer 0x[0-9a-f]+: wrote DATA flags=END_STREAM stream=1 len=2$/.test(l))).to.equal(true);
    expect(lines.join('\n')).not.to.match(/s3cr3t|b0dy/);
  });
});

describe('trace/http2-trace socket behaviour', () => {
  let server: net.Server;
  let accepted: Promise<net.Socket>;

  beforeEach(async () => {
    server = net.createServer();
    accepted = new Promise((resolve) => server.once('connection', resolve));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterEach(async () => {
    await within(new Promise<void>((resolve) => server.close(() => resolve())), 10_000, 'server close');
  });

  function dial(): { inner: net.Socket; traced: Duplex; lines: string[] } {
    const lines: string[] = [];
    const inner = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    const traced = traceHttp2Socket(inner, { level: 2, write: (l) => lines.push(l) });
    return { inner, traced, lines };
  }

  it('propagates write backpressure from the socket', async () => {
    const { inner, traced } = dial();
    const peer = await within(accepted, 10_000, 'the connection');
    peer.pause();
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    let written = 0;
    let accepting = true;
    for (let i = 0; i < 512 && accepting; i++) {
      accepting = traced.write(chunk);
      written += chunk.length;
    }
    expect(accepting, 'write() eventually returns false while the peer reads nothing').to.equal(false);
    expect(traced.writableLength).to.be.greaterThan(0);
    let received = 0;
    const all = new Promise<void>((resolve) =>
      peer.on('data', (c: Buffer) => {
        received += c.length;
        if (received === written) resolve();
      }),
    );
    const drained = once(traced, 'drain');
    peer.resume();
    await within(drained, 20_000, 'drain');
    await within(all, 20_000, 'every byte at the peer');
    expect(received).to.equal(written);
    traced.destroy();
    await within(once(inner, 'close'), 10_000, 'the socket to close');
    peer.destroy();
  });

  it('propagates read backpressure to the socket and delivers every byte in order', async () => {
    const { inner, traced } = dial();
    const peer = await within(accepted, 10_000, 'the connection');
    const payload = randomBytes(4 * 1024 * 1024);
    peer.end(payload);
    const paused = once(inner, 'pause');
    traced.read(0); // start the flow without consuming anything
    await within(paused, 10_000, 'the socket to be paused');
    expect(traced.readableLength).to.be.at.least(traced.readableHighWaterMark);
    expect(traced.readableLength).to.be.lessThan(payload.length);
    const chunks: Buffer[] = [];
    traced.on('data', (c: Buffer) => chunks.push(c));
    await within(once(traced, 'end'), 20_000, 'end');
    expect(Buffer.concat(chunks).equals(payload)).to.equal(true);
    traced.end();
    await within(once(inner, 'close'), 10_000, 'the socket to close');
    peer.destroy();
  });

  it('destroys the socket with the wrapper and the wrapper with the socket', async () => {
    const a = dial();
    const peerA = await within(accepted, 10_000, 'the connection');
    a.traced.destroy();
    await within(once(a.inner, 'close'), 10_000, 'the socket to close');
    peerA.destroy();

    accepted = new Promise((resolve) => server.once('connection', resolve));
    const b = dial();
    const peerB = await within(accepted, 10_000, 'the second connection');
    b.traced.on('error', () => {});
    const closed = once(b.traced, 'close');
    b.inner.destroy();
    await within(closed, 10_000, 'the wrapper to close');
    peerB.destroy();
  });

  it('validates its options', () => {
    const inner = new net.Socket();
    expect(() => traceHttp2Socket(inner, { level: 3 as 1, write: () => {} })).to.throw(InvalidOptionError, /level/);
    expect(() => traceHttp2Socket(inner, { level: 1, write: () => {}, role: 'peer' as 'client' })).to.throw(InvalidOptionError, /role/);
    expect(() => traceHttp2Socket(inner, { level: 1, write: undefined as unknown as () => void })).to.throw(InvalidOptionError, /write/);
    inner.destroy();
  });
});
