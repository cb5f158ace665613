/*
 * The benchmark's second calibration path: the smallest tunnel of this design, with none of
 * this project's code. Front door (node:http) → gateway → ONE HTTP/2 connection with long-lived
 * streams carrying framed messages, one request at a time per stream → agent → VCS (undici).
 * No authentication, policy, logging, access record, metrics, timeouts or error handling.
 *
 * It answers the question the plain hop cannot: what the design itself costs on the day and
 * machine of the run, so that tunnel ÷ floor is the share of the gap that is this project's
 * code, and floor ÷ hop is the share that is the design (two processes, an HTTP/2 leg).
 *
 * Usage:
 *   framed-floor.ts gateway             prints "<agent port> <front door port>"
 *   framed-floor.ts agent <gw port> <vcs port> <streams>
 *
 * Frames: [type u8][length u32 BE][payload]. HEAD carries JSON {m, p, h, e} (method, path,
 * headers, no body follows) or {s, h, e} (status, headers, no body follows); DATA a body chunk;
 * END the end of a body; WHOLE a small response: [head length u32][head JSON][body].
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import http2 from 'node:http2';
import { Readable } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';

const HEAD = 1;
const DATA = 2;
const END = 3;
const WHOLE = 4; // [head length u32][head JSON][body]: a small response in one frame
const MiB = 1024 * 1024;
const STREAM_WINDOW = MiB; // as the tunnel's http2-settings.ts
const CONNECTION_WINDOW = 4 * MiB;
const SETTINGS = { initialWindowSize: STREAM_WINDOW, maxFrameSize: 128 * 1024 }; // a 64 KiB read in one DATA frame
// What may queue on a writable before its source pauses: a stream's 16 KiB mark paused on every
// 64 KiB chunk (the tunnel's RELAY_BUFFER_BYTES says why that is stop-and-go).
const RELAY = MiB;
const END_FRAME = Buffer.from([END, 0, 0, 0, 0]);
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host', 'expect', 'proxy-connection', 'te', 'trailer']);

function header(type: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(5);
  b[0] = type;
  b.writeUInt32BE(length, 1);
  return b;
}

function headFrame(value: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(value));
  return Buffer.concat([header(HEAD, json.length), json]);
}

function endToEnd(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
}

/**
 * Splits a byte stream into frames. A DATA frame's payload is handed on piece by piece as it
 * arrives (a 64 KiB chunk spans several reads); other frames are gathered whole.
 */
function parser(onFrame: (type: number, payload: Buffer) => void): (chunk: Buffer) => void {
  let header: Buffer | undefined; // a frame header split across reads
  let type = 0;
  let remaining = -1; // payload bytes still to come; -1 while reading a header
  let parts: Buffer[] = [];
  return (chunk) => {
    let at = 0;
    while (at < chunk.length) {
      if (remaining < 0) {
        const need = 5 - (header?.length ?? 0);
        const piece = chunk.subarray(at, at + need);
        at += piece.length;
        header = header === undefined ? piece : Buffer.concat([header, piece]);
        if (header.length < 5) return;
        type = header[0] as number;
        remaining = header.readUInt32BE(1);
        header = undefined;
        if (remaining === 0) {
          onFrame(type, Buffer.alloc(0));
          remaining = -1;
        }
        continue;
      }
      const piece = chunk.subarray(at, at + remaining);
      at += piece.length;
      remaining -= piece.length;
      if (type === DATA) onFrame(DATA, piece);
      else parts.push(piece);
      if (remaining === 0) {
        if (type !== DATA) onFrame(type, parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts));
        parts = [];
        remaining = -1;
      }
    }
  };
}

/** Writes a body as DATA frames on `to`, pausing `from` while `to` is full. */
function pump(from: Readable, to: { write(chunk: Buffer): boolean; writableLength: number; once(event: 'drain', fn: () => void): unknown; cork(): void; uncork(): void }, done: () => void): void {
  from.on('data', (chunk: Buffer) => {
    to.cork();
    to.write(header(DATA, chunk.length));
    to.write(chunk);
    to.uncork();
    if (to.writableLength >= RELAY) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  from.on('end', done);
}

function gateway(): void {
  const idle: http2.ServerHttp2Stream[] = [];
  const waiting: [IncomingMessage, ServerResponse][] = [];
  const current = new Map<http2.ServerHttp2Stream, ServerResponse>();

  const send = (stream: http2.ServerHttp2Stream, req: IncomingMessage, res: ServerResponse): void => {
    current.set(stream, res);
    const body = hasBody(req);
    stream.write(headFrame({ m: req.method, p: req.url, h: endToEnd(req.headers), e: !body }));
    if (body) pump(req, stream, () => stream.write(END_FRAME));
  };
  const release = (stream: http2.ServerHttp2Stream): void => {
    current.delete(stream);
    const next = waiting.shift();
    if (next === undefined) idle.push(stream);
    else send(stream, next[0], next[1]);
  };

  const agents = http2.createServer({ settings: SETTINGS, maxSessionMemory: 64 });
  agents.on('session', (session) => session.setLocalWindowSize(CONNECTION_WINDOW));
  agents.on('stream', (stream) => {
    stream.respond({ ':status': 200 });
    stream.on(
      'data',
      parser((type, payload) => {
        const res = current.get(stream) as ServerResponse;
        if (type === HEAD) {
          const head = JSON.parse(payload.toString()) as { s: number; h: Record<string, string | string[]>; e: boolean };
          if (head.e) {
            res.writeHead(head.s, head.h).end();
            release(stream);
          } else res.writeHead(head.s, head.h);
        } else if (type === WHOLE) {
          const headLength = payload.readUInt32BE(0);
          const head = JSON.parse(payload.subarray(4, 4 + headLength).toString()) as { s: number; h: Record<string, string | string[]> };
          res.writeHead(head.s, head.h).end(payload.subarray(4 + headLength));
          release(stream);
        } else if (type === DATA) {
          // A client gone mid-response (autocannon closing its connections) never drains.
          res.write(payload);
          if (res.writableLength >= RELAY && !res.destroyed) {
            stream.pause();
            const resume = (): void => {
              res.off('drain', resume).off('close', resume);
              stream.resume();
            };
            res.on('drain', resume).on('close', resume);
          }
        } else {
          res.end();
          release(stream);
        }
      }),
    );
    release(stream);
  });

  const frontDoor = createServer((req, res) => {
    const stream = idle.pop();
    if (stream === undefined) waiting.push([req, res]);
    else send(stream, req, res);
  });
  frontDoor.keepAliveTimeout = 65_000;

  agents.listen(0, '127.0.0.1', () => {
    frontDoor.listen(0, '127.0.0.1', () => {
      const port = (server: { address(): unknown }): number => (server.address() as { port: number }).port;
      process.stdout.write(`${port(agents)} ${port(frontDoor)}\n`);
    });
  });
}

function agent(gatewayPort: number, vcsPort: number, streams: number): void {
  const vcs = new Pool(`http://127.0.0.1:${vcsPort}`, { connections: streams });
  const session = http2.connect(`http://127.0.0.1:${gatewayPort}`, { settings: SETTINGS, maxSessionMemory: 64 });
  session.on('connect', () => session.setLocalWindowSize(CONNECTION_WINDOW));
  for (let i = 0; i < streams; i++) {
    const stream = session.request({ ':method': 'POST', ':path': '/tunnel' }, { endStream: false });
    let body: Readable | undefined;
    stream.on(
      'data',
      parser((type, payload) => {
        if (type === HEAD) {
          const head = JSON.parse(payload.toString()) as { m: string; p: string; h: Record<string, string>; e: boolean };
          body = head.e ? undefined : new Readable({ read: () => stream.resume(), highWaterMark: MiB });
          vcs.dispatch({ method: head.m as 'GET', path: head.p, headers: head.h, body: body ?? null }, responder(stream, head.m === 'HEAD'));
        } else if (type === DATA) {
          if (!(body as Readable).push(payload)) stream.pause();
        } else (body as Readable).push(null);
      }),
    );
  }
}

/**
 * Sends one VCS response back: a small one (Content-Length up to 32 KiB) whole, as one WHOLE
 * frame in one write; a larger one as HEAD, DATA… and END, pausing undici while the stream is full.
 */
function responder(stream: http2.ClientHttp2Stream, isHead: boolean): Dispatcher.DispatchHandler {
  let whole: Buffer[] | undefined;
  let headJson: Buffer | undefined;
  return {
    onRequestStart() {},
    onResponseStart(controller, status, headers) {
      const length = Number(headers['content-length'] ?? -1);
      const head = { s: status, h: endToEnd(headers as Record<string, string | string[]>), e: isHead || length === 0 || status === 204 || status === 304 };
      if (!head.e && length > 0 && length <= 32 * 1024) {
        headJson = Buffer.from(JSON.stringify(head));
        whole = [];
        return;
      }
      stream.write(headFrame(head));
      if (!head.e) stream.on('drain', () => controller.resume());
    },
    onResponseData(controller, chunk) {
      if (whole !== undefined) return void whole.push(chunk);
      stream.cork();
      stream.write(header(DATA, chunk.length));
      stream.write(chunk);
      stream.uncork();
      if (stream.writableLength >= RELAY) controller.pause();
    },
    onResponseEnd() {
      stream.removeAllListeners('drain');
      if (whole === undefined) return void stream.write(END_FRAME);
      const json = headJson as Buffer;
      const bodyBytes = Buffer.concat(whole);
      const frame = Buffer.allocUnsafe(9 + json.length + bodyBytes.length);
      frame[0] = WHOLE;
      frame.writeUInt32BE(4 + json.length + bodyBytes.length, 1);
      frame.writeUInt32BE(json.length, 5);
      json.copy(frame, 9);
      bodyBytes.copy(frame, 9 + json.length);
      stream.write(frame);
    },
    onResponseError(_controller, error) {
      process.stderr.write(`framed-floor agent: ${error.message}\n`);
      stream.write(headFrame({ s: 502, h: {}, e: true }));
    },
  };
}

process.on('SIGINT', () => process.exit(0));
const [role, ...args] = process.argv.slice(2);
if (role === 'gateway') gateway();
else if (role === 'agent') agent(Number(args[0]), Number(args[1]), Number(args[2]));
else {
  process.stderr.write('usage: framed-floor.ts gateway | agent <gateway port> <vcs port> <streams>\n');
  process.exit(2);
}
