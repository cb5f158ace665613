// The parsing half of the HTTP/2 tracer: turns the two byte streams of one
// connection into the lines Go's x/net/http2 prints with GODEBUG=http2debug.
//
// Which line at which level, as in Go (http2.go init, frame.go, transport.go,
// server.go, write.go):
//   level 1 (VerboseLogs):
//     client: "Transport creating client conn %p to %v", every frame the
//             transport reads as "Transport received <summary>" (a header
//             block once, after its last CONTINUATION), and every header it
//             sends as "Transport encoding header %q = %q";
//     server: "server connection from %v on %p", "server: client %v said
//             hello", "server read frame <summary>", "server encoding header".
//   level 2 adds (logFrameReads / logFrameWrites):
//     "Framer %p: wrote <summary>" for every frame sent (after the encoding
//     lines of its header block), "Framer %p: read <summary>" for every frame
//     received, and "decoded hpack field header field %q = %q" for each field
//     of a received header block.
// This class holds no socket; it is fed chunks in wire order per direction.

import {
  describeHeader,
  FLAG_END_HEADERS,
  FLAG_PADDED,
  FLAG_PRIORITY,
  FRAME_CONTINUATION,
  FRAME_HEADERS,
  FRAME_PUSH_PROMISE,
  FRAME_SETTINGS,
  type FrameHeader,
  summarizeFrame,
  summaryPayloadBytes,
} from './frame-summary.js';
import { goQuote } from './go-quote.js';
import { DEFAULT_HEADER_TABLE_SIZE, HpackDecoder, HpackDecodingError, type HpackField } from './hpack-decoder.js';
import { REDACTED, redactHeaderValue } from './redact.js';

/** RFC 9113 Section 3.4. */
const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME_HEADER_LENGTH = 9;
// A header block frame is held whole to be decoded; beyond this (64 times
// the default SETTINGS_MAX_FRAME_SIZE) the tracer gives up on header fields
// rather than hold megabytes.
const MAX_HEADER_FRAME_BYTES = 1 << 20;
const SETTINGS_HEADER_TABLE_SIZE = 0x1;

/** Options of {@link Http2FrameTracer}. */
export interface FrameTracerOptions {
  level: 1 | 2;
  role: 'client' | 'server';
  write: (line: string) => void;
  /** Printed for `%p` of the Framer, e.g. `0xc000100000`. */
  framerId: string;
  /** Printed for `%p` of the client or server connection. */
  connId: string;
  /** The peer, printed where Go prints the remote address. */
  peer: string;
}

type FrameSink = (h: FrameHeader, payload: Buffer) => void;

/** Incremental frame splitter for one direction; keeps only a partial frame header and the bytes a summary needs. */
class FrameReader {
  private prefaceOffset: number;
  private readonly header = Buffer.alloc(FRAME_HEADER_LENGTH);
  private headerFill = 0;
  private current: FrameHeader | null = null;
  private remaining = 0;
  private capture: Buffer = Buffer.alloc(0);
  private captured = 0;
  stopped = false;

  constructor(
    expectPreface: boolean,
    private readonly payloadBytes: (h: FrameHeader) => number,
    private readonly sink: FrameSink,
    private readonly onPreface: () => void,
    private readonly onStop: (reason: string) => void,
  ) {
    this.prefaceOffset = expectPreface ? 0 : CLIENT_PREFACE.length;
  }

  get bufferedBytes(): number {
    return this.headerFill + this.capture.length;
  }

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length && !this.stopped) {
      if (this.prefaceOffset < CLIENT_PREFACE.length) {
        const n = Math.min(CLIENT_PREFACE.length - this.prefaceOffset, chunk.length - off);
        if (chunk.compare(CLIENT_PREFACE, this.prefaceOffset, this.prefaceOffset + n, off, off + n) !== 0) {
          this.stop('the bytes do not start with the HTTP/2 client connection preface');
          return;
        }
        this.prefaceOffset += n;
        off += n;
        if (this.prefaceOffset === CLIENT_PREFACE.length) this.onPreface();
        continue;
      }
      if (this.current === null) {
        const n = Math.min(FRAME_HEADER_LENGTH - this.headerFill, chunk.length - off);
        chunk.copy(this.header, this.headerFill, off, off + n);
        this.headerFill += n;
        off += n;
        if (this.headerFill < FRAME_HEADER_LENGTH) return;
        this.headerFill = 0;
        const h: FrameHeader = {
          length: this.header.readUIntBE(0, 3),
          type: this.header[3]!,
          flags: this.header[4]!,
          // RFC 9113 Section 4.1: the reserved bit is ignored.
          streamId: this.header.readUInt32BE(5) & 0x7fffffff,
        };
        this.current = h;
        this.remaining = h.length;
        const want = this.payloadBytes(h);
        this.capture = want > 0 ? Buffer.allocUnsafe(want) : Buffer.alloc(0);
        this.captured = 0;
      } else {
        const n = Math.min(this.remaining, chunk.length - off);
        const keep = Math.min(n, this.capture.length - this.captured);
        if (keep > 0) {
          chunk.copy(this.capture, this.captured, off, off + keep);
          this.captured += keep;
        }
        this.remaining -= n;
        off += n;
      }
      if (this.current !== null && this.remaining === 0) {
        const h = this.current;
        const payload = this.capture;
        this.current = null;
        this.capture = Buffer.alloc(0);
        this.sink(h, payload);
      }
    }
  }

  private stop(reason: string): void {
    this.stopped = true;
    this.capture = Buffer.alloc(0);
    this.onStop(reason);
  }
}

/** The state of a header block (HEADERS or PUSH_PROMISE plus CONTINUATIONs) in progress. */
interface HeaderBlock {
  kind: 'headers' | 'push';
  /** Summary of the first frame: what Go's transport/server logs for the whole block. */
  first: string;
  /** Level-2 "wrote" lines held until END_HEADERS (outgoing only). */
  held: string[];
}

/** Turns both directions of one HTTP/2 connection into Go-format trace lines. */
export class Http2FrameTracer {
  private readonly outgoing: FrameReader;
  private readonly incoming: FrameReader;
  private outDecoder: HpackDecoder | null;
  private inDecoder: HpackDecoder | null;
  private outBlock: HeaderBlock | null = null;
  private inBlock: HeaderBlock | null = null;
  // Largest SETTINGS_HEADER_TABLE_SIZE each side advertised: the bound a
  // dynamic table size update from the other side may not exceed.
  private localTableLimit = DEFAULT_HEADER_TABLE_SIZE;
  private peerTableLimit = DEFAULT_HEADER_TABLE_SIZE;
  private readonly receivedPrefix: string;
  private readonly encodingPrefix: string;

  constructor(private readonly options: FrameTracerOptions) {
    const client = options.role === 'client';
    this.receivedPrefix = client ? 'http2: Transport received ' : 'http2: server read frame ';
    this.encodingPrefix = client ? 'http2: Transport encoding header ' : 'http2: server encoding header ';
    // Our own blocks are always decoded (level 1 prints what we encode); the
    // peer's only at level 2, where Go prints decoded fields.
    this.outDecoder = new HpackDecoder(() => this.peerTableLimit);
    this.inDecoder = options.level >= 2 ? new HpackDecoder(() => this.localTableLimit) : null;
    this.outgoing = new FrameReader(
      client,
      (h) => this.payloadBytes(h, this.outDecoder !== null),
      (h, p) => this.onOutgoing(h, p),
      () => {},
      (reason) => this.stopped('outgoing', reason),
    );
    this.incoming = new FrameReader(
      !client,
      (h) => this.payloadBytes(h, this.inDecoder !== null),
      (h, p) => this.onIncoming(h, p),
      () => this.emit(`http2: server: client ${options.peer} said hello`),
      (reason) => this.stopped('incoming', reason),
    );
    if (client) this.emit(`http2: Transport creating client conn ${options.connId} to ${options.peer}`);
    else this.emit(`http2: server connection from ${options.peer} on ${options.connId}`);
  }

  /** Bytes held between chunks (partial frame headers, summary bytes, an unfinished header field). */
  get bufferedBytes(): number {
    return (
      this.outgoing.bufferedBytes +
      this.incoming.bufferedBytes +
      (this.outDecoder?.bufferedBytes ?? 0) +
      (this.inDecoder?.bufferedBytes ?? 0)
    );
  }

  /** Bytes this side sends, in order. Never throws. */
  wrote(chunk: Buffer): void {
    this.guard('outgoing', () => this.outgoing.push(chunk));
  }

  /** Bytes this side receives, in order. Never throws. */
  read(chunk: Buffer): void {
    this.guard('incoming', () => this.incoming.push(chunk));
  }

  private guard(direction: 'outgoing' | 'incoming', fn: () => void): void {
    const reader = direction === 'outgoing' ? this.outgoing : this.incoming;
    if (reader.stopped) return;
    try {
      fn();
    } catch (err) {
      // A tracer bug must never disturb the connection: stop tracing instead.
      reader.stopped = true;
      this.stopped(direction, `internal error: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private payloadBytes(h: FrameHeader, decoding: boolean): number {
    if (h.type === FRAME_HEADERS || h.type === FRAME_CONTINUATION || h.type === FRAME_PUSH_PROMISE) {
      return decoding && h.length <= MAX_HEADER_FRAME_BYTES ? h.length : 0;
    }
    return summaryPayloadBytes(h);
  }

  private onOutgoing(h: FrameHeader, payload: Buffer): void {
    const level2 = this.options.level >= 2;
    const wrote = level2 ? `http2: Framer ${this.options.framerId}: wrote ${summarizeFrame(h, payload)}` : null;
    if (h.type === FRAME_SETTINGS) this.noteTableSize(payload, 'local');
    const open = this.outBlock;
    const block = this.startOrContinueBlock(h, open, 'outgoing');
    if (open !== null && block !== open) {
      // The block was cut short (a protocol error on our side): show what was held.
      for (const l of open.held) this.emit(l);
      this.outBlock = null;
    }
    if (block === null) {
      if (wrote !== null) this.emit(wrote);
      return;
    }
    this.outBlock = block;
    this.decodeFragment(h, payload, 'outgoing', (f) => this.emit(this.encodingPrefix + this.fieldText(f)));
    // Go logs every "encoding header" before the frames of the block are written.
    if (wrote !== null) block.held.push(wrote);
    if (h.flags & FLAG_END_HEADERS) {
      this.outBlock = null;
      this.finishBlock('outgoing');
      for (const l of block.held) this.emit(l);
    }
  }

  private onIncoming(h: FrameHeader, payload: Buffer): void {
    const level2 = this.options.level >= 2;
    if (h.type === FRAME_SETTINGS) this.noteTableSize(payload, 'peer');
    if (level2) this.emit(`http2: Framer ${this.options.framerId}: read ${summarizeFrame(h, payload)}`);
    const block = this.startOrContinueBlock(h, this.inBlock, 'incoming');
    if (block !== this.inBlock) this.inBlock = null;
    if (block === null) {
      this.emit(this.receivedPrefix + summarizeFrame(h, payload));
      return;
    }
    this.inBlock = block;
    // Go decodes pushed request headers only to reject them: keep the table in step, print nothing.
    const show = block.kind === 'headers';
    this.decodeFragment(h, payload, 'incoming', (f) => {
      if (show) this.emit(`http2: decoded hpack field header field ${this.fieldText(f, true)}`);
    });
    const end = (h.flags & FLAG_END_HEADERS) !== 0;
    if (end) {
      this.inBlock = null;
      this.finishBlock('incoming');
    }
    // Go's transport sees HEADERS+CONTINUATION as one MetaHeadersFrame,
    // summarized by its first frame; PUSH_PROMISE and its CONTINUATIONs are
    // handed over one by one.
    if (block.kind === 'push') this.emit(this.receivedPrefix + summarizeFrame(h, payload));
    else if (end) this.emit(this.receivedPrefix + block.first);
  }

  /** Returns the block `h` starts or continues, or null when `h` is not part of a header block. */
  private startOrContinueBlock(h: FrameHeader, open: HeaderBlock | null, direction: 'outgoing' | 'incoming'): HeaderBlock | null {
    if (h.type === FRAME_HEADERS || h.type === FRAME_PUSH_PROMISE) {
      if (open !== null) this.abandonDecoding(direction, 'a new header block started before END_HEADERS');
      return { kind: h.type === FRAME_HEADERS ? 'headers' : 'push', first: describeHeader(h), held: [] };
    }
    if (h.type === FRAME_CONTINUATION && open !== null) return open;
    if (open !== null) this.abandonDecoding(direction, `${describeHeader(h)} interrupted a header block`);
    return null;
  }

  private decodeFragment(h: FrameHeader, payload: Buffer, direction: 'outgoing' | 'incoming', emit: (f: HpackField) => void): void {
    const decoder = direction === 'outgoing' ? this.outDecoder : this.inDecoder;
    if (decoder === null) return;
    if (payload.length !== h.length) {
      this.abandonDecoding(direction, `header block frame of ${h.length} bytes is too large to decode`);
      return;
    }
    const fragment = headerBlockFragment(h, payload);
    if (fragment === null) {
      this.abandonDecoding(direction, `malformed ${describeHeader(h)}`);
      return;
    }
    try {
      decoder.write(fragment, emit);
    } catch (err) {
      if (!(err instanceof HpackDecodingError)) throw err;
      this.abandonDecoding(direction, err.message);
    }
  }

  private finishBlock(direction: 'outgoing' | 'incoming'): void {
    const decoder = direction === 'outgoing' ? this.outDecoder : this.inDecoder;
    try {
      decoder?.endBlock();
    } catch (err) {
      if (!(err instanceof HpackDecodingError)) throw err;
      this.abandonDecoding(direction, err.message);
    }
  }

  // Once a block is lost the dynamic table is unknown: later fields would be
  // wrong, so stop showing them instead of guessing.
  private abandonDecoding(direction: 'outgoing' | 'incoming', reason: string): void {
    if (direction === 'outgoing') {
      if (this.outDecoder === null) return;
      this.outDecoder = null;
    } else {
      if (this.inDecoder === null) return;
      this.inDecoder = null;
    }
    this.emit(
      `http2: Framer ${this.options.framerId}: trace: cannot decode ${direction} header blocks (${reason}); ` +
        'their header fields are no longer shown on this connection',
    );
  }

  private stopped(direction: 'outgoing' | 'incoming', reason: string): void {
    this.emit(`http2: Framer ${this.options.framerId}: trace: ${direction} frames are no longer traced on this connection: ${reason}`);
  }

  private noteTableSize(payload: Buffer, side: 'local' | 'peer'): void {
    for (let i = 0; i + 6 <= payload.length; i += 6) {
      if (payload.readUInt16BE(i) !== SETTINGS_HEADER_TABLE_SIZE) continue;
      const v = payload.readUInt32BE(i + 2);
      if (side === 'local') this.localTableLimit = Math.max(this.localTableLimit, v);
      else this.peerTableLimit = Math.max(this.peerTableLimit, v);
    }
  }

  /** `"name" = "value"`, with secrets replaced; Go's HeaderField.String adds " (sensitive)". */
  private fieldText(f: HpackField, withSensitive = false): string {
    // latin1 maps bytes 1:1, so unmasked values are quoted byte-exactly.
    const name = f.name.toString('latin1');
    const shown = redactHeaderValue(name, f.value.toString('latin1'));
    const value = shown === null ? REDACTED : goQuote(Buffer.from(shown, 'latin1'));
    return `${goQuote(f.name)} = ${value}${withSensitive && f.sensitive ? ' (sensitive)' : ''}`;
  }

  private emit(line: string): void {
    try {
      this.options.write(line);
    } catch {
      // The sink failing must not break the connection; the line is lost.
    }
  }
}

/** The header block fragment of a HEADERS, PUSH_PROMISE or CONTINUATION payload (RFC 9113 Sections 6.2, 6.6, 6.10). */
function headerBlockFragment(h: FrameHeader, p: Buffer): Buffer | null {
  let start = 0;
  let end = p.length;
  if (h.type !== FRAME_CONTINUATION && h.flags & FLAG_PADDED) {
    if (p.length < 1) return null;
    start = 1;
    end -= p[0]!;
  }
  if (h.type === FRAME_HEADERS && h.flags & FLAG_PRIORITY) start += 5;
  if (h.type === FRAME_PUSH_PROMISE) start += 4;
  return start <= end ? p.subarray(start, end) : null;
}
