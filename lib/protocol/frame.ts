import type { Writable } from 'node:stream';
import { ProtocolError } from '../errors.js';

/**
 * Message framing on a long-lived tunnel stream (docs/protocol.md § Framing):
 * `type:u8 | length:u32be | payload`. One HTTP/2 stream carries one exchange at a time,
 * so frames need no request id.
 */
export const FrameType = {
  /** gateway → agent: JSON `RequestHead`. */
  RequestHead: 0x01,
  /** either way: raw body bytes of the current request or response. */
  Body: 0x02,
  /** either way: the current body is complete. */
  End: 0x03,
  /** agent → gateway: JSON `ResponseHead`. */
  ResponseHead: 0x11,
  /** either way, on the connect (control) stream only: JSON `ControlMessage`. */
  Control: 0x21,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const FRAME_HEADER_SIZE = 5;

/** Heads are JSON and small; anything larger is a protocol violation, not a big request. */
export const MAX_HEAD_SIZE = 256 * 1024;

export interface RequestHead {
  /** Gateway-assigned request id, shared by the gateway's and the agent's log lines. */
  id: string;
  method: string;
  /** Request target in origin form, byte for byte as the caller sent it. */
  path: string;
  /** Flat raw header pairs `[name, value, …]`. */
  headers: string[];
  /** Whether Body/End frames follow. */
  body: boolean;
}

/** Messages on the control stream (docs/protocol.md § Control stream). */
export type ControlMessage =
  /** agent → gateway: stop dispatching to this connection; gateway answers `drain-ack`. */
  | { type: 'drain' }
  | { type: 'drain-ack' }
  /** either way: application-level keepalive for load balancers that ignore HTTP/2 PING. */
  | { type: 'ping'; id: number }
  | { type: 'pong'; id: number };

export interface ResponseHead {
  status: number;
  headers: string[];
  /** Whether Body/End frames follow. When false the exchange is complete. */
  body: boolean;
}

const END_FRAME = Buffer.from([FrameType.End, 0, 0, 0, 0]);

export function frameHeader(type: FrameType, length: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_SIZE);
  header[0] = type;
  header.writeUInt32BE(length, 1);
  return header;
}

/** A head frame (JSON payload) as one buffer, optionally followed by a small body and End. */
export function encodeHead(type: FrameType, head: RequestHead | ResponseHead | ControlMessage, body?: Buffer): Buffer {
  // The JSON is written straight into the frame: no intermediate Buffer and copy per head.
  const json = JSON.stringify(head);
  const jsonLength = Buffer.byteLength(json);
  // Coalesced head + body + end: one write, one DATA frame for small messages (perf-facts).
  const bodyFrame = body === undefined ? 0 : (body.length > 0 ? FRAME_HEADER_SIZE + body.length : 0) + FRAME_HEADER_SIZE;
  const out = Buffer.allocUnsafe(FRAME_HEADER_SIZE + jsonLength + bodyFrame);
  out[0] = type;
  out.writeUInt32BE(jsonLength, 1);
  let offset = FRAME_HEADER_SIZE + out.write(json, FRAME_HEADER_SIZE, 'utf8');
  if (body === undefined) return out;
  if (body.length > 0) {
    out[offset] = FrameType.Body;
    out.writeUInt32BE(body.length, offset + 1);
    offset += FRAME_HEADER_SIZE;
    offset += body.copy(out, offset);
  }
  END_FRAME.copy(out, offset);
  return out;
}

/** A RequestHead frame, optionally coalesced with the whole (small) body and End. */
export function encodeRequestHead(head: RequestHead, body?: Buffer): Buffer {
  return encodeHead(FrameType.RequestHead, head, body);
}

/** A ResponseHead frame, optionally coalesced with the whole (small) body and End. */
export function encodeResponseHead(head: ResponseHead, body?: Buffer): Buffer {
  return encodeHead(FrameType.ResponseHead, head, body);
}

/** A Control frame for the connect stream. */
export function encodeControl(message: ControlMessage): Buffer {
  return encodeHead(FrameType.Control, message);
}

function isHeaderList(value: unknown): value is string[] {
  if (!Array.isArray(value) || value.length % 2 !== 0) return false;
  for (let i = 0; i < value.length; i++) if (typeof value[i] !== 'string') return false;
  return true;
}

/** Checks a parsed RequestHead payload; a `ProtocolError` when it is not one. */
export function decodeRequestHead(raw: unknown): RequestHead {
  const head = raw as RequestHead;
  if (
    typeof head !== 'object' || head === null || typeof head.id !== 'string' || typeof head.method !== 'string' ||
    typeof head.path !== 'string' || !isHeaderList(head.headers) || typeof head.body !== 'boolean'
  ) {
    throw new ProtocolError('Malformed request head from the gateway');
  }
  return head;
}

/** Checks a parsed ResponseHead payload; a `ProtocolError` when it is not one. */
export function decodeResponseHead(raw: unknown): ResponseHead {
  const head = raw as ResponseHead;
  if (
    typeof head !== 'object' || head === null || !Number.isInteger(head.status) || head.status < 100 || head.status > 599 ||
    !isHeaderList(head.headers) || typeof head.body !== 'boolean'
  ) {
    throw new ProtocolError('Malformed response head from the agent');
  }
  return head;
}

/** Checks a parsed Control payload: a known message, or undefined for one this version does not know (ignored, § Versioning). */
export function decodeControl(raw: unknown): ControlMessage | undefined {
  if (typeof raw !== 'object' || raw === null) throw new ProtocolError('Malformed control message');
  const message = raw as { type?: unknown; id?: unknown };
  switch (message.type) {
    case 'drain':
    case 'drain-ack':
      return { type: message.type };
    case 'ping':
    case 'pong':
      return { type: message.type, id: typeof message.id === 'number' ? message.id : 0 };
    default:
      return undefined;
  }
}

/**
 * Writes one Body frame: header and payload corked together so they leave as one write
 * (one HTTP/2 DATA frame) without copying the payload. Returns the stream's backpressure
 * signal for the payload.
 */
export function writeBodyFrame(stream: Writable, chunk: Buffer): boolean {
  stream.cork();
  stream.write(frameHeader(FrameType.Body, chunk.length));
  const ok = stream.write(chunk);
  stream.uncork();
  return ok;
}

export function endFrame(): Buffer {
  return END_FRAME;
}

export interface FrameHandler {
  onHead(type: FrameType, head: unknown): void;
  onBody(chunk: Buffer): void;
  onEnd(): void;
}

/**
 * Incremental frame parser. Body payloads are handed on as slices of the incoming
 * chunks (no copy, no waiting for a whole frame), so a 1 GiB body never sits in memory.
 */
export class FrameParser {
  private readonly header = Buffer.allocUnsafe(FRAME_HEADER_SIZE);
  private headerFilled = 0;
  private type: FrameType | 0 = 0;
  private remaining = 0;
  private headParts: Buffer[] = [];
  private headSize = 0;
  /*
   * Body bytes of the chunk being pushed, handed on once per push. Node sends a stream's
   * writes as 16 KiB DATA frames packed end to end, whatever SETTINGS_MAX_FRAME_SIZE the peer
   * allows (strace of the wire: 16,384-byte frames), and each DATA frame reaches the peer as
   * one chunk, or two where a socket read ends inside it. A body frame is 5 bytes longer than
   * the chunk it carries, so its boundaries drift through the DATA frames: one 64 KiB body
   * frame spans five of them, and the chunk that holds its end and the next frame's start
   * split into two slices, the first often a sliver of a few bytes. Each slice was a write of
   * its own at the far end (an upload's socket write to the VCS: 89 writes per MiB where 64
   * DATA frames arrive). Joined, the boundary chunk costs a copy of at most 16 KiB, 16 per
   * MiB of 64 KiB body frames.
   */
  private readonly bodyParts: Buffer[] = [];

  constructor(private readonly handler: FrameHandler) {}

  push(chunk: Buffer): void {
    try {
      this.parse(chunk);
    } catch (error) {
      this.bodyParts.length = 0; // a protocol error fails the exchange: nothing more is handed on
      throw error;
    }
    this.flushBody();
  }

  private flushBody(): void {
    const parts = this.bodyParts;
    if (parts.length === 0) return;
    const body = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
    parts.length = 0;
    this.handler.onBody(body);
  }

  private parse(chunk: Buffer): void {
    let offset = 0;
    const length = chunk.length;
    while (offset < length) {
      if (this.type === 0) {
        // Fast path: a whole header inside this chunk.
        if (this.headerFilled === 0 && length - offset >= FRAME_HEADER_SIZE) {
          this.begin(chunk[offset] as number, chunk.readUInt32BE(offset + 1));
          offset += FRAME_HEADER_SIZE;
        } else {
          const take = Math.min(FRAME_HEADER_SIZE - this.headerFilled, length - offset);
          chunk.copy(this.header, this.headerFilled, offset, offset + take);
          this.headerFilled += take;
          offset += take;
          if (this.headerFilled < FRAME_HEADER_SIZE) return;
          this.headerFilled = 0;
          this.begin(this.header[0] as number, this.header.readUInt32BE(1));
        }
        if (this.type !== 0 && this.remaining === 0) this.complete();
        continue;
      }
      const take = Math.min(this.remaining, length - offset);
      const slice = take === length && offset === 0 ? chunk : chunk.subarray(offset, offset + take);
      offset += take;
      this.remaining -= take;
      if (this.type === FrameType.Body) {
        this.bodyParts.push(slice);
        if (this.remaining === 0) this.type = 0;
      } else {
        this.headParts.push(slice);
        this.headSize += take;
        if (this.remaining === 0) this.complete();
      }
    }
  }

  private begin(type: number, size: number): void {
    switch (type) {
      case FrameType.Body:
        break;
      case FrameType.End:
        if (size !== 0) throw new ProtocolError(`End frame with a ${size}-byte payload`);
        break;
      case FrameType.RequestHead:
      case FrameType.ResponseHead:
      case FrameType.Control:
        if (size > MAX_HEAD_SIZE) throw new ProtocolError(`Head frame of ${size} bytes exceeds ${MAX_HEAD_SIZE}`);
        break;
      default:
        throw new ProtocolError(`Unknown frame type 0x${type.toString(16)}`);
    }
    this.type = type as FrameType;
    this.remaining = size;
  }

  private complete(): void {
    const type = this.type as FrameType;
    this.type = 0;
    if (type === FrameType.Body) return; // empty body frame: nothing to deliver
    // What came before the End or head is handed on first.
    this.flushBody();
    if (type === FrameType.End) {
      this.handler.onEnd();
      return;
    }
    const raw = this.headParts.length === 1 ? (this.headParts[0] as Buffer) : Buffer.concat(this.headParts, this.headSize);
    this.headParts = [];
    this.headSize = 0;
    let head: unknown;
    try {
      head = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new ProtocolError('Head frame is not valid JSON');
    }
    this.handler.onHead(type, head);
  }
}
