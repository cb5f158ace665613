/*
 * A raw HTTP/2 frame writer for abuse tests: it speaks just enough of RFC 9113 to send
 * the frames an attacker would (any type, flags, stream id, payload, in any order) over a
 * plain TCP socket (h2c with prior knowledge, as the gateway's cleartext listener takes),
 * and parses what comes back so a test can see GOAWAY and RST_STREAM codes.
 *
 * Header blocks are a static minimal HPACK encoding (RFC 7541 §6.2): literal fields with
 * literal names, no Huffman, plus the two representations the HPACK-bomb test needs
 * (insert into the dynamic table, refer to a dynamic entry by index).
 */
import { connect, type Socket } from 'node:net';

export const FrameType = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** One frame: 9-byte header (RFC 9113 §4.1) and payload. */
export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([header, payload]);
}

/** HPACK integer with an N-bit prefix (RFC 7541 §5.1); `first` carries the pattern bits. */
export function hpackInteger(value: number, prefixBits: number, first = 0): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([first | value]);
  const bytes = [first | max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

function hpackString(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  return Buffer.concat([hpackInteger(bytes.length, 7), bytes]);
}

/** Literal header field without indexing, new name (RFC 7541 §6.2.2). */
export function literal(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x00]), hpackString(name), hpackString(value)]);
}

/** Literal header field with incremental indexing, new name (§6.2.1): enters the dynamic table. */
export function literalIndexed(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x40]), hpackString(name), hpackString(value)]);
}

/** Indexed header field (§6.1); index 62 is the newest dynamic-table entry. */
export function indexed(index: number): Buffer {
  return hpackInteger(index, 7, 0x80);
}

/** The pseudo-headers of a request to the gateway's agent listener. */
export function requestBlock(path = '/v1/agent/stream', method = 'POST'): Buffer {
  return Buffer.concat([literal(':method', method), literal(':scheme', 'http'), literal(':path', path), literal(':authority', 'gateway')]);
}

export function settingsFrame(pairs: ReadonlyArray<[number, number]> = []): Buffer {
  const payload = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return frame(FrameType.SETTINGS, 0, 0, payload);
}

export function rstStreamFrame(streamId: number, code = 0x8): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(code);
  return frame(FrameType.RST_STREAM, 0, streamId, payload);
}

export function pingFrame(data = Buffer.alloc(8)): Buffer {
  return frame(FrameType.PING, 0, 0, data);
}

export interface ReceivedFrame {
  type: number;
  flags: number;
  streamId: number;
  length: number;
  /** GOAWAY / RST_STREAM error code. */
  errorCode?: number;
}

/** A raw client connection: the preface and an empty SETTINGS are sent on connect. */
export class RawH2Connection {
  readonly received: ReceivedFrame[] = [];
  /** Set once the peer closed or reset the TCP connection, or a write failed. */
  closed = false;
  goaway: number | undefined;
  bytesReceived = 0;
  private buffer: Buffer = Buffer.alloc(0);

  private constructor(readonly socket: Socket, private readonly parse: boolean) {
    socket.on('error', () => (this.closed = true));
    socket.on('close', () => (this.closed = true));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  /** Connects; with `read: false` the client never reads a byte (its receive window fills). */
  static open(port: number, options: { read?: boolean } = {}): Promise<RawH2Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      const connection = new RawH2Connection(socket, options.read !== false);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        if (options.read === false) {
          socket.pause();
          // A tiny receive buffer, so the server's writes back up at once, as with a real
          // client that stopped reading.
          socket.setNoDelay(true);
        }
        socket.write(Buffer.concat([PREFACE, settingsFrame()]));
        resolve(connection);
      });
    });
  }

  /** Writes, resolving when the bytes were handed to the kernel; never rejects (see `closed`). */
  write(data: Buffer): Promise<void> {
    if (this.closed || this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const ok = this.socket.write(data, (error) => {
        if (error) this.closed = true;
        if (!ok) resolve();
      });
      if (ok) resolve();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.bytesReceived += chunk.length;
    if (!this.parse) return;
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 9) {
      const length = this.buffer.readUIntBE(0, 3);
      if (this.buffer.length < 9 + length) break;
      const received: ReceivedFrame = { type: this.buffer[3] as number, flags: this.buffer[4] as number, streamId: this.buffer.readUInt32BE(5) & 0x7fffffff, length };
      if (received.type === FrameType.GOAWAY && length >= 8) {
        received.errorCode = this.buffer.readUInt32BE(9 + 4);
        this.goaway = received.errorCode;
      }
      if (received.type === FrameType.RST_STREAM && length >= 4) received.errorCode = this.buffer.readUInt32BE(9);
      // Keep a bounded record: floods send back tens of thousands of frames.
      if (this.received.length < 10_000) this.received.push(received);
      this.buffer = this.buffer.subarray(9 + length);
    }
  }
}
