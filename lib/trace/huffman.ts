// HPACK Huffman decoding (RFC 7541, Section 5.2 and Appendix B).
//
// The code of Appendix B is canonical: codes are assigned in order of (bit
// length, symbol), so the bit length of each of the 257 symbols (256 octets
// plus EOS) is enough to rebuild every code. Decoding walks the canonical code
// one bit at a time (the classic "count / first code / offset" method).

/** Bit length of the Huffman code of each symbol 0..255 and EOS (256), RFC 7541 Appendix B. */
export const HUFFMAN_CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0..15
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 16..31
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, // 32..47
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, // 48..63
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, // 64..79
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, // 80..95
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, // 96..111
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, // 112..127
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 128..143
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 144..159
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 160..175
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 176..191
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 192..207
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 208..223
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 224..239
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 240..255
  30, // 256 = EOS
];

const EOS = 256;
const MAX_BITS = 30;

// count[len]: how many codes have that length; symbols: all symbols sorted by
// (length, value), i.e. in code order.
const count = new Array<number>(MAX_BITS + 1).fill(0);
const symbols: number[] = [];
for (let len = 1; len <= MAX_BITS; len++) {
  for (let sym = 0; sym < HUFFMAN_CODE_LENGTHS.length; sym++) {
    if (HUFFMAN_CODE_LENGTHS[sym] === len) {
      count[len]!++;
      symbols.push(sym);
    }
  }
}

/** The Huffman-coded string is not valid per RFC 7541 Section 5.2. */
export class HuffmanDecodingError extends Error {}

/**
 * Decodes a Huffman-coded string literal. Rejects EOS inside the string,
 * padding longer than 7 bits and padding that is not the most significant
 * bits of EOS (all ones), as RFC 7541 Section 5.2 requires.
 */
export function huffmanDecode(input: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(Math.ceil((input.length * 8) / 5));
  let n = 0;
  let code = 0; // bits read so far for the current symbol
  let first = 0; // first code of the current length
  let index = 0; // index in symbols of the first code of the current length
  let len = 0;
  let allOnes = true; // whether the pending bits are all 1
  for (let i = 0; i < input.length; i++) {
    const byte = input[i]!;
    for (let bit = 7; bit >= 0; bit--) {
      const b = (byte >> bit) & 1;
      code = code * 2 + b;
      allOnes = allOnes && b === 1;
      len++;
      const c = count[len]!;
      if (code - first < c) {
        const sym = symbols[index + (code - first)]!;
        if (sym === EOS) throw new HuffmanDecodingError('EOS symbol inside a Huffman-coded string');
        out[n++] = sym;
        code = 0;
        first = 0;
        index = 0;
        len = 0;
        allOnes = true;
        continue;
      }
      index += c;
      first = (first + c) * 2;
      if (len >= MAX_BITS) throw new HuffmanDecodingError('invalid Huffman code');
    }
  }
  if (len > 7) throw new HuffmanDecodingError('Huffman padding longer than 7 bits');
  if (!allOnes) throw new HuffmanDecodingError('Huffman padding is not a prefix of EOS');
  // Copy so a stored dynamic-table entry does not pin the oversized scratch buffer.
  return Buffer.from(out.subarray(0, n));
}
