// Go-compatible one-line frame summaries: the text x/net/http2's
// summarizeFrame produces (FrameHeader.writeDebug plus a per-type tail), so a
// Node agent's trace can be read side by side with a Go program's.
// Deliberate deviation: DATA payload bytes are never printed (Go prints up to
// 256 of them as data="..."); only the frame length is shown.

import { goQuote } from './go-quote.js';

/** The 9-octet frame header (RFC 9113 Section 4.1). */
export interface FrameHeader {
  length: number;
  type: number;
  flags: number;
  streamId: number;
}

export const FRAME_DATA = 0x0;
export const FRAME_HEADERS = 0x1;
export const FRAME_PRIORITY = 0x2;
export const FRAME_RST_STREAM = 0x3;
export const FRAME_SETTINGS = 0x4;
export const FRAME_PUSH_PROMISE = 0x5;
export const FRAME_PING = 0x6;
export const FRAME_GOAWAY = 0x7;
export const FRAME_WINDOW_UPDATE = 0x8;
export const FRAME_CONTINUATION = 0x9;

export const FLAG_END_STREAM = 0x1;
export const FLAG_ACK = 0x1;
export const FLAG_END_HEADERS = 0x4;
export const FLAG_PADDED = 0x8;
export const FLAG_PRIORITY = 0x20;

const FRAME_NAMES: Record<number, string> = {
  0x0: 'DATA',
  0x1: 'HEADERS',
  0x2: 'PRIORITY',
  0x3: 'RST_STREAM',
  0x4: 'SETTINGS',
  0x5: 'PUSH_PROMISE',
  0x6: 'PING',
  0x7: 'GOAWAY',
  0x8: 'WINDOW_UPDATE',
  0x9: 'CONTINUATION',
  0x10: 'PRIORITY_UPDATE', // RFC 9218
};

const FLAG_NAMES: Record<number, Record<number, string>> = {
  [FRAME_DATA]: { 0x1: 'END_STREAM', 0x8: 'PADDED' },
  [FRAME_HEADERS]: { 0x1: 'END_STREAM', 0x4: 'END_HEADERS', 0x8: 'PADDED', 0x20: 'PRIORITY' },
  [FRAME_SETTINGS]: { 0x1: 'ACK' },
  [FRAME_PING]: { 0x1: 'ACK' },
  [FRAME_CONTINUATION]: { 0x4: 'END_HEADERS' },
  [FRAME_PUSH_PROMISE]: { 0x4: 'END_HEADERS', 0x8: 'PADDED' },
};

// RFC 9113 Section 6.5.2, RFC 8441, RFC 9218.
const SETTING_NAMES: Record<number, string> = {
  0x1: 'HEADER_TABLE_SIZE',
  0x2: 'ENABLE_PUSH',
  0x3: 'MAX_CONCURRENT_STREAMS',
  0x4: 'INITIAL_WINDOW_SIZE',
  0x5: 'MAX_FRAME_SIZE',
  0x6: 'MAX_HEADER_LIST_SIZE',
  0x8: 'ENABLE_CONNECT_PROTOCOL',
  0x9: 'NO_RFC7540_PRIORITIES',
};

// RFC 9113 Section 7.
const ERROR_NAMES = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
];

/** Go's FrameType.String(). */
export function frameTypeName(type: number): string {
  return FRAME_NAMES[type] ?? `UNKNOWN_FRAME_TYPE_${type}`;
}

/** Go's SettingID.String(). */
export function settingName(id: number): string {
  return SETTING_NAMES[id] ?? `UNKNOWN_SETTING_${id}`;
}

/** Go's ErrCode.String(). */
export function errorCodeName(code: number): string {
  return ERROR_NAMES[code] ?? `unknown error code 0x${code.toString(16)}`;
}

/** Go's FrameHeader.writeDebug: `TYPE flags=A|B stream=N len=N`. */
export function describeHeader(h: FrameHeader): string {
  let s = frameTypeName(h.type);
  if (h.flags !== 0) {
    const names: string[] = [];
    for (let i = 0; i < 8; i++) {
      const bit = 1 << i;
      if ((h.flags & bit) === 0) continue;
      names.push(FLAG_NAMES[h.type]?.[bit] ?? `0x${bit.toString(16)}`);
    }
    s += ` flags=${names.join('|')}`;
  }
  if (h.streamId !== 0) s += ` stream=${h.streamId}`;
  return s + ` len=${h.length}`;
}

/**
 * Go's summarizeFrame for one frame. `payload` holds the first bytes of the
 * frame payload the summary needs (see {@link summaryPayloadBytes}); a frame
 * whose payload does not fit its type gets the header part only, as Go would
 * refuse to parse it.
 */
export function summarizeFrame(h: FrameHeader, payload: Buffer): string {
  const head = describeHeader(h);
  switch (h.type) {
    case FRAME_SETTINGS: {
      if (h.length % 6 !== 0) return head;
      const parts: string[] = [];
      for (let i = 0; i + 6 <= payload.length; i += 6) {
        parts.push(`${settingName(payload.readUInt16BE(i))}=${payload.readUInt32BE(i + 2)}`);
      }
      if (parts.length === 0) return head;
      const omitted = h.length - payload.length;
      return `${head}, settings: ${parts.join(', ')}${omitted > 0 ? ` (${omitted / 6} settings omitted)` : ''}`;
    }
    case FRAME_WINDOW_UPDATE:
      if (h.length !== 4 || payload.length < 4) return head;
      return `${head}${h.streamId === 0 ? ' (conn)' : ''} incr=${payload.readUInt32BE(0) & 0x7fffffff}`;
    case FRAME_PING:
      if (h.length !== 8 || payload.length < 8) return head;
      return `${head} ping=${goQuote(payload.subarray(0, 8))}`;
    case FRAME_GOAWAY: {
      if (h.length < 8 || payload.length < 8) return head;
      const debug = payload.subarray(8);
      const omitted = h.length - payload.length;
      return (
        `${head} LastStreamID=${payload.readUInt32BE(0) & 0x7fffffff} ` +
        `ErrCode=${errorCodeName(payload.readUInt32BE(4))} Debug=${goQuote(debug)}` +
        (omitted > 0 ? ` (${omitted} bytes omitted)` : '')
      );
    }
    case FRAME_RST_STREAM:
      if (h.length !== 4 || payload.length < 4) return head;
      return `${head} ErrCode=${errorCodeName(payload.readUInt32BE(0))}`;
    default:
      // DATA: Go appends data="<up to 256 bytes>"; we never print payload bytes.
      return head;
  }
}

// Caps keep what a summary holds small whatever the peer sends.
const MAX_SETTINGS_BYTES = 6 * 64;
const MAX_GOAWAY_DEBUG_BYTES = 256;

/** How many payload bytes {@link summarizeFrame} needs for a frame of this header. */
export function summaryPayloadBytes(h: FrameHeader): number {
  switch (h.type) {
    case FRAME_SETTINGS:
      return Math.min(h.length, MAX_SETTINGS_BYTES);
    case FRAME_WINDOW_UPDATE:
    case FRAME_RST_STREAM:
      return Math.min(h.length, 4);
    case FRAME_PING:
      return Math.min(h.length, 8);
    case FRAME_GOAWAY:
      return Math.min(h.length, 8 + MAX_GOAWAY_DEBUG_BYTES);
    default:
      return 0;
  }
}
