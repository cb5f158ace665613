// Reproduces Go's `%q` verb (strconv.Quote) for byte strings, so trace lines
// read exactly like the ones x/net/http2 prints. Go treats a string as bytes:
// valid UTF-8 sequences are decoded to runes, every invalid byte becomes `\xNN`.

const HEX = '0123456789abcdef';

// Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the
// ASCII space. Everything else (controls, format characters, other spaces,
// unassigned code points) is escaped.
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

function hex2(b: number): string {
  return HEX[(b >> 4) & 0xf]! + HEX[b & 0xf]!;
}

function isCont(b: number | undefined): boolean {
  return b !== undefined && (b & 0xc0) === 0x80;
}

/**
 * Decodes one rune at `i` following utf8.DecodeRune's rules (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF).
 * Returns [rune, width]; rune -1 marks an invalid byte (width 1).
 */
function decodeRune(b: Uint8Array, i: number): [number, number] {
  const b0 = b[i]!;
  if (b0 < 0x80) return [b0, 1];
  const b1 = b[i + 1];
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    return isCont(b1) ? [((b0 & 0x1f) << 6) | (b1! & 0x3f), 2] : [-1, 1];
  }
  if (b0 >= 0xe0 && b0 <= 0xef) {
    if (b1 === undefined) return [-1, 1];
    const lo = b0 === 0xe0 ? 0xa0 : 0x80;
    const hi = b0 === 0xed ? 0x9f : 0xbf;
    if (b1 < lo || b1 > hi || !isCont(b[i + 2])) return [-1, 1];
    return [((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b[i + 2]! & 0x3f), 3];
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    if (b1 === undefined) return [-1, 1];
    const lo = b0 === 0xf0 ? 0x90 : 0x80;
    const hi = b0 === 0xf4 ? 0x8f : 0xbf;
    if (b1 < lo || b1 > hi || !isCont(b[i + 2]) || !isCont(b[i + 3])) return [-1, 1];
    return [((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b[i + 2]! & 0x3f) << 6) | (b[i + 3]! & 0x3f), 4];
  }
  return [-1, 1];
}

function escapeRune(r: number): string {
  if (r === 0x22) return '\\"';
  if (r === 0x5c) return '\\\\';
  if (r >= 0x20 && r < 0x7f) return String.fromCharCode(r);
  if (r >= 0x80 && PRINTABLE.test(String.fromCodePoint(r))) return String.fromCodePoint(r);
  switch (r) {
    case 0x07: return '\\a';
    case 0x08: return '\\b';
    case 0x0c: return '\\f';
    case 0x0a: return '\\n';
    case 0x0d: return '\\r';
    case 0x09: return '\\t';
    case 0x0b: return '\\v';
    default:
      if (r < 0x20 || r === 0x7f) return '\\x' + hex2(r);
      if (r < 0x10000) return '\\u' + r.toString(16).padStart(4, '0');
      return '\\U' + r.toString(16).padStart(8, '0');
  }
}

/** Formats bytes (or a JS string, taken as UTF-8) the way Go's `%q` does. */
export function goQuote(value: Uint8Array | string): string {
  const b = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  let out = '"';
  for (let i = 0; i < b.length; ) {
    const [r, w] = decodeRune(b, i);
    out += r < 0 ? '\\x' + hex2(b[i]!) : escapeRune(r);
    i += w;
  }
  return out + '"';
}
