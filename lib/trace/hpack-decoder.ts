// A small HPACK decoder (RFC 7541) for the frame tracer. It only reads: the
// tracer sees the header blocks that Node's nghttp2 encoded or received and
// must show the fields, so it keeps one decoder per direction and feeds it
// every header block fragment in wire order, never resetting it (the dynamic
// table spans the whole connection, RFC 7541 Section 2.3.2).
//
// Fragments are decoded as they arrive, like Go's hpack.Decoder.Write: a field
// split across HEADERS and CONTINUATION frames stays pending until its last
// byte is seen, so the bytes held are at most one field representation.

import { huffmanDecode, HuffmanDecodingError } from './huffman.js';

/** One decoded header field. Name and value are raw octets, as on the wire. */
export interface HpackField {
  name: Buffer;
  value: Buffer;
  /** Sent as "literal never indexed" (RFC 7541 Section 6.2.3). */
  sensitive: boolean;
}

/** The header block cannot be decoded (RFC 7541 Section 3: COMPRESSION_ERROR). */
export class HpackDecodingError extends Error {}

// RFC 7541 Appendix A.
const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];
const STATIC: ReadonlyArray<{ name: Buffer; value: Buffer }> = STATIC_TABLE.map(([n, v]) => ({
  name: Buffer.from(n, 'latin1'),
  value: Buffer.from(v, 'latin1'),
}));

/** RFC 7541 Section 4.2: SETTINGS_HEADER_TABLE_SIZE starts at 4096. */
export const DEFAULT_HEADER_TABLE_SIZE = 4096;

// RFC 7541 Section 4.1: an entry costs its octets plus 32.
const ENTRY_OVERHEAD = 32;

/** Thrown internally when the pending bytes end inside a field representation. */
class NeedMore extends Error {}
const NEED_MORE = new NeedMore();

export class HpackDecoder {
  // Newest entry first (index 62 in the combined address space).
  private readonly dynamic: Array<{ name: Buffer; value: Buffer }> = [];
  private dynamicSize = 0;
  private maxSize: number;
  private pending: Buffer | null = null;

  /**
   * @param allowedMaxSize returns the largest dynamic table size the decoding
   *   side has allowed (its SETTINGS_HEADER_TABLE_SIZE); a size update above it
   *   is a decoding error (RFC 7541 Section 6.3).
   * @param initialMaxSize the table size before any size update (4096 in HTTP/2).
   */
  constructor(
    private readonly allowedMaxSize: () => number = () => DEFAULT_HEADER_TABLE_SIZE,
    initialMaxSize = DEFAULT_HEADER_TABLE_SIZE,
  ) {
    this.maxSize = initialMaxSize;
  }

  /** Current dynamic table size in RFC 7541 Section 4.1 units. */
  get tableSize(): number {
    return this.dynamicSize;
  }

  /** Number of dynamic table entries. */
  get tableLength(): number {
    return this.dynamic.length;
  }

  /** Bytes held between calls: the unfinished field, if any. */
  get bufferedBytes(): number {
    return this.pending?.length ?? 0;
  }

  /** Decodes as many whole fields as `fragment` (plus earlier leftovers) holds. */
  write(fragment: Uint8Array, emit: (field: HpackField) => void): void {
    let buf: Buffer;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, fragment]);
      this.pending = null;
    } else {
      buf = Buffer.from(fragment.buffer, fragment.byteOffset, fragment.byteLength);
    }
    let off = 0;
    while (off < buf.length) {
      let next: number;
      let field: HpackField | null;
      try {
        [next, field] = this.decodeOne(buf, off);
      } catch (err) {
        if (err === NEED_MORE) {
          // Copy: the caller's buffer is not ours to keep.
          this.pending = Buffer.from(buf.subarray(off));
          return;
        }
        throw err;
      }
      off = next;
      if (field !== null) emit(field);
    }
  }

  /** Ends a header block: a field cut off by END_HEADERS is an error. */
  endBlock(): void {
    if (this.pending !== null) {
      this.pending = null;
      throw new HpackDecodingError('header block ends inside a field representation');
    }
  }

  // RFC 7541 Section 6: one representation starting at `off`.
  private decodeOne(buf: Buffer, off: number): [number, HpackField | null] {
    const b = buf[off]!;
    if (b & 0x80) {
      // 6.1 Indexed Header Field.
      const [index, next] = decodeInteger(buf, off, 7);
      const entry = this.lookup(index);
      return [next, { name: entry.name, value: entry.value, sensitive: false }];
    }
    if ((b & 0xe0) === 0x20) {
      // 6.3 Dynamic Table Size Update.
      const [size, next] = decodeInteger(buf, off, 5);
      if (size > this.allowedMaxSize()) {
        throw new HpackDecodingError(`dynamic table size update ${size} exceeds the allowed ${this.allowedMaxSize()}`);
      }
      this.maxSize = size;
      this.evict();
      return [next, null];
    }
    // 6.2.1 with incremental indexing (01), 6.2.2 without (0000), 6.2.3 never indexed (0001).
    const incremental = (b & 0xc0) === 0x40;
    const prefix = incremental ? 6 : 4;
    const [nameIndex, afterIndex] = decodeInteger(buf, off, prefix);
    let name: Buffer;
    let pos = afterIndex;
    if (nameIndex === 0) {
      [name, pos] = decodeString(buf, pos);
    } else {
      name = this.lookup(nameIndex).name;
    }
    const [value, next] = decodeString(buf, pos);
    if (incremental) this.add(name, value);
    return [next, { name, value, sensitive: (b & 0xf0) === 0x10 }];
  }

  // RFC 7541 Section 2.3.3: 1..61 static, 62.. dynamic (newest first).
  private lookup(index: number): { name: Buffer; value: Buffer } {
    if (index === 0) throw new HpackDecodingError('index 0 is not valid');
    if (index <= STATIC.length) return STATIC[index - 1]!;
    const entry = this.dynamic[index - STATIC.length - 1];
    if (entry === undefined) throw new HpackDecodingError(`index ${index} is beyond the dynamic table`);
    return entry;
  }

  // RFC 7541 Section 4.4.
  private add(name: Buffer, value: Buffer): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    if (size > this.maxSize) {
      this.dynamic.length = 0;
      this.dynamicSize = 0;
      return;
    }
    this.dynamic.unshift({ name, value });
    this.dynamicSize += size;
    this.evict();
  }

  // RFC 7541 Section 4.3.
  private evict(): void {
    while (this.dynamicSize > this.maxSize) {
      const old = this.dynamic.pop()!;
      this.dynamicSize -= old.name.length + old.value.length + ENTRY_OVERHEAD;
    }
  }
}

// RFC 7541 Section 5.1. Values above 2^32 are refused: no HTTP/2 quantity
// needs more, and it keeps the arithmetic exact.
function decodeInteger(buf: Buffer, off: number, prefixBits: number): [number, number] {
  const mask = (1 << prefixBits) - 1;
  let value = buf[off]! & mask;
  let pos = off + 1;
  if (value < mask) return [value, pos];
  let shift = 0;
  for (;;) {
    if (pos >= buf.length) throw NEED_MORE;
    const b = buf[pos++]!;
    value += (b & 0x7f) * 2 ** shift;
    if (value > 0xffffffff) throw new HpackDecodingError('integer overflow');
    if ((b & 0x80) === 0) return [value, pos];
    shift += 7;
  }
}

// RFC 7541 Section 5.2.
function decodeString(buf: Buffer, off: number): [Buffer, number] {
  if (off >= buf.length) throw NEED_MORE;
  const huffman = (buf[off]! & 0x80) !== 0;
  const [length, start] = decodeInteger(buf, off, 7);
  const end = start + length;
  if (end > buf.length) throw NEED_MORE;
  const raw = buf.subarray(start, end);
  if (!huffman) return [Buffer.from(raw), end];
  try {
    return [huffmanDecode(raw), end];
  } catch (err) {
    if (err instanceof HuffmanDecodingError) throw new HpackDecodingError(err.message);
    throw err;
  }
}
