import { expect } from 'chai';
import { Http2FrameTracer } from '../../lib/trace/frame-tracer.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return Buffer.concat([h, payload]);
}

// HPACK literal field (RFC 7541 6.2): prefix 0x00 without indexing, 0x40
// with incremental indexing, 0x10 never indexed; short strings, no Huffman.
function literal(name: string, value: string, prefix = 0x00): Buffer {
  return Buffer.concat([Buffer.from([prefix, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]);
}

function settings(pairs: Array<[number, number]>): Buffer {
  const p = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([id, v], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(v, i * 6 + 2);
  });
  return p;
}

function tracer(level: 1 | 2, role: 'client' | 'server' = 'client'): { t: Http2FrameTracer; lines: string[] } {
  const lines: string[] = [];
  const t = new Http2FrameTracer({
    level,
    role,
    write: (l) => lines.push(l),
    framerId: '0xc000100000',
    connId: '0xc000102000',
    peer: '127.0.0.1:8443',
  });
  return { t, lines };
}

// A request header block split across HEADERS (PADDED|PRIORITY) and
// CONTINUATION, cut in the middle of the authorization field.
const block = Buffer.concat([
  Buffer.from([0x82, 0x87]), // :method GET, :scheme https (static 2, 7)
  literal(':path', '/pools/p1/streams'),
  literal('authorization', 'Bearer s3cr3t', 0x10),
  literal('x-request-id', '42', 0x40),
]);
const cut = 2 + literal(':path', '/pools/p1/streams').length + 5;
const headersPayload = Buffer.concat([Buffer.from([3]), Buffer.from([0, 0, 0, 0, 15]), block.subarray(0, cut), Buffer.alloc(3)]);
const headersFrame = frame(0x1, 0x8 | 0x20, 1, headersPayload);
const continuationFrame = frame(0x9, 0x4, 1, block.subarray(cut));

describe('trace/frame-tracer', () => {
  it('prints encoding lines before the frames of an outgoing header block (level 2, client)', () => {
    const { t, lines } = tracer(2);
    t.wrote(Buffer.concat([PREFACE, frame(0x4, 0, 0, settings([[2, 0], [4, 4194304], [6, 10485760]])), headersFrame, continuationFrame]));
    expect(lines).to.deep.equal([
      'http2: Transport creating client conn 0xc000102000 to 127.0.0.1:8443',
      'http2: Framer 0xc000100000: wrote SETTINGS len=18, settings: ENABLE_PUSH=0, INITIAL_WINDOW_SIZE=4194304, MAX_HEADER_LIST_SIZE=10485760',
      'http2: Transport encoding header ":method" = "GET"',
      'http2: Transport encoding header ":scheme" = "https"',
      'http2: Transport encoding header ":path" = "/pools/p1/streams"',
      'http2: Transport encoding header "authorization" = [redacted]',
      'http2: Transport encoding header "x-request-id" = "42"',
      `http2: Framer 0xc000100000: wrote HEADERS flags=PADDED|PRIORITY stream=1 len=${headersPayload.length}`,
      `http2: Framer 0xc000100000: wrote CONTINUATION flags=END_HEADERS stream=1 len=${block.length - cut}`,
    ]);
  });

  it('prints read, decoded fields and the transport line for an incoming block (level 2, client)', () => {
    const { t, lines } = tracer(2);
    t.read(Buffer.concat([headersFrame, continuationFrame]));
    expect(lines.slice(1)).to.deep.equal([
      `http2: Framer 0xc000100000: read HEADERS flags=PADDED|PRIORITY stream=1 len=${headersPayload.length}`,
      'http2: decoded hpack field header field ":method" = "GET"',
      'http2: decoded hpack field header field ":scheme" = "https"',
      'http2: decoded hpack field header field ":path" = "/pools/p1/streams"',
      `http2: Framer 0xc000100000: read CONTINUATION flags=END_HEADERS stream=1 len=${block.length - cut}`,
      'http2: decoded hpack field header field "authorization" = [redacted] (sensitive)',
      'http2: decoded hpack field header field "x-request-id" = "42"',
      `http2: Transport received HEADERS flags=PADDED|PRIORITY stream=1 len=${headersPayload.length}`,
    ]);
  });

  it('prints only the transport lines at level 1', () => {
    const { t, lines } = tracer(1);
    t.wrote(Buffer.concat([PREFACE, frame(0x4, 0, 0, Buffer.alloc(0)), headersFrame, continuationFrame]));
    t.read(Buffer.concat([frame(0x4, 0, 0, Buffer.alloc(0)), headersFrame, continuationFrame, frame(0x0, 0x1, 1, Buffer.from('body'))]));
    expect(lines).to.deep.equal([
      'http2: Transport creating client conn 0xc000102000 to 127.0.0.1:8443',
      'http2: Transport encoding header ":method" = "GET"',
      'http2: Transport encoding header ":scheme" = "https"',
      'http2: Transport encoding header ":path" = "/pools/p1/streams"',
      'http2: Transport encoding header "authorization" = [redacted]',
      'http2: Transport encoding header "x-request-id" = "42"',
      'http2: Transport received SETTINGS len=0',
      `http2: Transport received HEADERS flags=PADDED|PRIORITY stream=1 len=${headersPayload.length}`,
      'http2: Transport received DATA flags=END_STREAM stream=1 len=4',
    ]);
  });

  it('gives the same lines whatever the chunking', () => {
    const wire = Buffer.concat([
      frame(0x4, 0, 0, settings([[1, 8192]])),
      headersFrame,
      continuationFrame,
      frame(0x0, 0, 1, Buffer.alloc(100)),
      frame(0x8, 0, 0, Buffer.from([0, 0, 0x10, 0])),
      frame(0x6, 0x1, 0, Buffer.from('abcdefgh')),
      frame(0x3, 0, 1, Buffer.from([0, 0, 0, 8])),
      frame(0x7, 0, 0, Buffer.concat([Buffer.from([0, 0, 0, 3, 0, 0, 0, 0]), Buffer.from('bye')])),
    ]);
    const whole = tracer(2);
    whole.t.read(wire);
    for (const size of [1, 2, 7, 9, 10, 64]) {
      const split = tracer(2);
      for (let i = 0; i < wire.length; i += size) split.t.read(wire.subarray(i, i + size));
      expect(split.lines, `chunks of ${size}`).to.deep.equal(whole.lines);
    }
    expect(whole.lines).to.include.members([
      'http2: Transport received SETTINGS len=6, settings: HEADER_TABLE_SIZE=8192',
      'http2: Transport received DATA stream=1 len=100',
      'http2: Transport received WINDOW_UPDATE len=4 (conn) incr=4096',
      'http2: Transport received PING flags=ACK len=8 ping="abcdefgh"',
      'http2: Transport received RST_STREAM stream=1 len=4 ErrCode=CANCEL',
      'http2: Transport received GOAWAY len=11 LastStreamID=3 ErrCode=NO_ERROR Debug="bye"',
    ]);
  });

  it('keeps the dynamic table across header blocks', () => {
    const { t, lines } = tracer(2);
    t.read(Buffer.concat([headersFrame, continuationFrame]));
    // 0xbe = indexed field 62: the newest dynamic entry, x-request-id: 42.
    t.read(frame(0x1, 0x4 | 0x1, 3, Buffer.from([0x82, 0xbe])));
    expect(lines.slice(-3)).to.deep.equal([
      'http2: decoded hpack field header field ":method" = "GET"',
      'http2: decoded hpack field header field "x-request-id" = "42"',
      'http2: Transport received HEADERS flags=END_STREAM|END_HEADERS stream=3 len=2',
    ]);
  });

  it('names unknown frame types and flags like Go', () => {
    const { t, lines } = tracer(2);
    t.read(Buffer.concat([frame(0xfa, 0x3, 5, Buffer.from('abc')), frame(0x2, 0, 3, Buffer.from([0, 0, 0, 0, 16]))]));
    expect(lines.slice(1)).to.deep.equal([
      'http2: Framer 0xc000100000: read UNKNOWN_FRAME_TYPE_250 flags=0x1|0x2 stream=5 len=3',
      'http2: Transport received UNKNOWN_FRAME_TYPE_250 flags=0x1|0x2 stream=5 len=3',
      'http2: Framer 0xc000100000: read PRIORITY stream=3 len=5',
      'http2: Transport received PRIORITY stream=3 len=5',
    ]);
  });

  it('holds no DATA payload: at most a partial frame header between chunks', () => {
    const { t, lines } = tracer(2);
    const size = 10 * 1024 * 1024;
    const header = frame(0x0, 0x1, 1, Buffer.alloc(0));
    header.writeUIntBE(size, 0, 3);
    t.read(header.subarray(0, 4));
    expect(t.bufferedBytes).to.equal(4);
    t.read(header.subarray(4));
    const chunk = Buffer.alloc(65536, 0x41);
    let max = 0;
    for (let sent = 0; sent < size; sent += chunk.length) {
      t.read(chunk);
      max = Math.max(max, t.bufferedBytes);
    }
    expect(max).to.equal(0);
    expect(lines.slice(-1)).to.deep.equal([`http2: Transport received DATA flags=END_STREAM stream=1 len=${size}`]);
    expect(lines.join('\n')).not.to.include('AAAA');
  });

  it('traces the server side: preface, read frames, encoding headers', () => {
    const { t, lines } = tracer(1, 'server');
    t.read(Buffer.concat([PREFACE, frame(0x4, 0, 0, Buffer.alloc(0))]));
    t.wrote(frame(0x1, 0x4, 1, Buffer.concat([Buffer.from([0x88]), literal('set-cookie', 'sid=1')])));
    expect(lines).to.deep.equal([
      'http2: server connection from 127.0.0.1:8443 on 0xc000102000',
      'http2: server: client 127.0.0.1:8443 said hello',
      'http2: server read frame SETTINGS len=0',
      'http2: server encoding header ":status" = "200"',
      'http2: server encoding header "set-cookie" = [redacted]',
    ]);
  });

  it('stops tracing a direction that does not start with the preface, without throwing', () => {
    const { t, lines } = tracer(2);
    t.wrote(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    t.wrote(frame(0x4, 0, 0, Buffer.alloc(0)));
    expect(lines.slice(1)).to.deep.equal([
      'http2: Framer 0xc000100000: trace: outgoing frames are no longer traced on this connection: the bytes do not start with the HTTP/2 client connection preface',
    ]);
  });

  it('stops showing fields after an HPACK error but keeps summarizing frames', () => {
    const { t, lines } = tracer(2);
    t.read(frame(0x1, 0x4, 1, Buffer.from([0xff, 0x00]))); // index 127: not in any table
    t.read(frame(0x1, 0x4, 3, Buffer.from([0x82])));
    expect(lines.slice(1)).to.deep.equal([
      'http2: Framer 0xc000100000: read HEADERS flags=END_HEADERS stream=1 len=2',
      'http2: Framer 0xc000100000: trace: cannot decode incoming header blocks (index 127 is beyond the dynamic table); their header fields are no longer shown on this connection',
      'http2: Transport received HEADERS flags=END_HEADERS stream=1 len=2',
      'http2: Framer 0xc000100000: read HEADERS flags=END_HEADERS stream=3 len=1',
      'http2: Transport received HEADERS flags=END_HEADERS stream=3 len=1',
    ]);
  });

  it('bounds what GOAWAY debug data it prints', () => {
    const { t, lines } = tracer(1);
    t.read(frame(0x7, 0, 0, Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 2]), Buffer.alloc(300, 0x7a)])));
    expect(lines[1]).to.equal(
      `http2: Transport received GOAWAY len=308 LastStreamID=0 ErrCode=INTERNAL_ERROR Debug="${'z'.repeat(256)}" (44 bytes omitted)`,
    );
  });

  it('never lets a failing sink disturb the caller', () => {
    const t = new Http2FrameTracer({
      level: 2,
      role: 'client',
      write: () => {
        throw new Error('sink down');
      },
      framerId: '0x1',
      connId: '0x2',
      peer: 'p',
    });
    expect(() => t.read(frame(0x4, 0, 0, Buffer.alloc(0)))).not.to.throw();
  });
});
