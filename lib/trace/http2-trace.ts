// The socket wrapper the agent puts between its own socket (TCP, TLS, or a
// tunnel through a CONNECT proxy) and Node's http2 session when GODEBUG asks
// for http2debug. Bytes pass through unchanged in both directions and are
// not copied: the tracer only looks at each chunk before it is forwarded.
// When tracing is off the agent never calls this, so the data path is the
// bare socket.

import { Duplex } from 'node:stream';
import { InvalidOptionError } from '../errors.js';
import { Http2FrameTracer } from './frame-tracer.js';

/** Options of {@link traceHttp2Socket}. */
export interface Http2TraceOptions {
  /** 1 = Go's http2debug=1 lines, 2 = also every frame and decoded header field. */
  level: 1 | 2;
  /** Receives one trace line at a time, without newline or timestamp. */
  write: (line: string) => void;
  /** Which end of the connection this socket is; `client` (default) skips the outgoing connection preface. */
  role?: 'client' | 'server';
  /** Names the peer in the first line (Go prints the remote address); defaults to the socket's remote address. */
  connectionLabel?: string;
}

// Go prints real pointers (`%p`); a per-process counter gives stable,
// distinct, pointer-looking ids instead.
let connectionCounter = 0;
const FAKE_HEAP_BASE = 0xc000100000;

function peerOf(socket: Duplex): string {
  const s = socket as Duplex & { remoteAddress?: unknown; remotePort?: unknown };
  if (typeof s.remoteAddress !== 'string' || typeof s.remotePort !== 'number') return 'unknown';
  return s.remoteAddress.includes(':') ? `[${s.remoteAddress}]:${s.remotePort}` : `${s.remoteAddress}:${s.remotePort}`;
}

/**
 * Wraps `socket` in a Duplex that forwards every byte unchanged, both ways,
 * with the socket's backpressure, and writes Go-format HTTP/2 frame trace
 * lines (`GODEBUG=http2debug=1|2`) to `options.write`. Hand the result to
 * `http2.connect(url, { createConnection: () => traced })`. Secret header
 * values are printed as `[redacted]`; DATA payloads are never printed.
 * Destroying either side destroys the other.
 *
 * @throws InvalidOptionError when `level`, `role` or `write` is not valid.
 */
export function traceHttp2Socket(
  socket: Duplex,
  options: Http2TraceOptions,
): Duplex {
  if (options.level !== 1 && options.level !== 2) {
    throw new InvalidOptionError('level', `trace level must be 1 or 2, got ${String(options.level)}`);
  }
  const role = options.role ?? 'client';
  if (role !== 'client' && role !== 'server') {
    throw new InvalidOptionError('role', `trace role must be "client" or "server", got ${String(role)}`);
  }
  if (typeof options.write !== 'function') {
    throw new InvalidOptionError('write', 'trace write must be a function taking one line');
  }
  const n = connectionCounter++;
  const framer = FAKE_HEAP_BASE + n * 0x4000;
  const tracer = new Http2FrameTracer({
    level: options.level,
    role,
    write: options.write,
    framerId: `0x${framer.toString(16)}`,
    connId: `0x${(framer + 0x2000).toString(16)}`,
    peer: options.connectionLabel ?? peerOf(socket),
  });
  return new TracedSocket(socket, tracer);
}

/** The passthrough Duplex {@link traceHttp2Socket} returns. */
class TracedSocket extends Duplex {
  private reading = false;
  private innerEnded = false;

  constructor(
    private readonly inner: Duplex,
    private readonly tracer: Http2FrameTracer,
  ) {
    // Half-open like the wrapped socket decides; the http2 session closes both ends itself.
    super({ allowHalfOpen: true });
    inner.on('end', () => {
      this.innerEnded = true;
      this.push(null);
    });
    inner.on('error', (err: Error) => this.destroy(err));
    inner.on('close', () => {
      // Let data already pushed be read before tearing down; a consumer that
      // reads (as the http2 session does) gets 'end' then 'close'.
      if (this.innerEnded && !this.readableEnded && this.readableLength > 0) {
        this.once('end', () => this.destroy());
      } else {
        this.destroy();
      }
    });
  }

  /** Bytes the tracer holds between chunks (for tests of its memory use). */
  get traceBufferedBytes(): number {
    return this.tracer.bufferedBytes;
  }

  override _read(): void {
    if (!this.reading) {
      this.reading = true;
      this.inner.on('data', (chunk: Buffer) => {
        this.tracer.read(chunk);
        if (!this.push(chunk)) this.inner.pause();
      });
    }
    this.inner.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.tracer.wrote(chunk);
    // Report the write done only once the socket took it, so the socket's
    // backpressure reaches whoever writes to us.
    if (this.inner.write(chunk)) callback();
    else this.inner.once('drain', () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.inner.end(() => callback());
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.inner.destroyed) this.inner.destroy(err ?? undefined);
    callback(err);
  }
}
