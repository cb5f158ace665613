import { expect } from 'chai';
import { HpackDecoder, HpackDecodingError, type HpackField } from '../../lib/trace/hpack-decoder.js';
import { HUFFMAN_CODE_LENGTHS, huffmanDecode, HuffmanDecodingError } from '../../lib/trace/huffman.js';

function decodeAll(decoder: HpackDecoder, hex: string): Array<[string, string]> {
  const fields: Array<[string, string]> = [];
  decoder.write(Buffer.from(hex.replace(/\s+/g, ''), 'hex'), (f: HpackField) =>
    fields.push([f.name.toString('latin1'), f.value.toString('latin1')]),
  );
  decoder.endBlock();
  return fields;
}

describe('trace/hpack-decoder', () => {
  it('decodes RFC 7541 C.3 (requests, no Huffman) sharing one dynamic table', () => {
    const d = new HpackDecoder();
    expect(decodeAll(d, '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d')).to.deep.equal([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
    ]);
    expect(d.tableSize).to.equal(57);
    expect(decodeAll(d, '8286 84be 5808 6e6f 2d63 6163 6865')).to.deep.equal([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
      ['cache-control', 'no-cache'],
    ]);
    expect(d.tableSize).to.equal(110);
  });

  it('decodes RFC 7541 C.4 (requests, Huffman)', () => {
    const d = new HpackDecoder();
    expect(decodeAll(d, '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff')).to.deep.equal([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
    ]);
    expect(decodeAll(d, '8286 84be 5886 a8eb 1064 9cbf')).to.deep.include(['cache-control', 'no-cache']);
    expect(decodeAll(d, '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf')).to.deep.equal([
      [':method', 'GET'],
      [':scheme', 'https'],
      [':path', '/index.html'],
      [':authority', 'www.example.com'],
      ['custom-key', 'custom-value'],
    ]);
    expect(d.tableSize).to.equal(164);
  });

  it('decodes RFC 7541 C.6 (responses, Huffman, 256-octet table with eviction)', () => {
    const d = new HpackDecoder(() => 256, 256);
    expect(
      decodeAll(
        d,
        '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
      ),
    ).to.deep.equal([
      [':status', '302'],
      ['cache-control', 'private'],
      ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
      ['location', 'https://www.example.com'],
    ]);
    expect(d.tableSize).to.equal(222);
    expect(decodeAll(d, '4883 640e ffc1 c0bf')[0]).to.deep.equal([':status', '307']);
    expect(d.tableSize).to.equal(222);
    const third = decodeAll(
      d,
      '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
    );
    expect(third).to.deep.equal([
      [':status', '200'],
      ['cache-control', 'private'],
      ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
      ['location', 'https://www.example.com'],
      ['content-encoding', 'gzip'],
      ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
    ]);
    expect(d.tableSize).to.equal(215);
    expect(d.tableLength).to.equal(3);
  });

  it('keeps a field split across fragments pending until its last byte (CONTINUATION)', () => {
    const bytes = Buffer.from('828684418cf1e3c2e5f23a6ba0ab90f4ff', 'hex');
    for (let cut = 1; cut < bytes.length; cut++) {
      const d = new HpackDecoder();
      const names: string[] = [];
      d.write(bytes.subarray(0, cut), (f) => names.push(f.name.toString()));
      expect(d.bufferedBytes).to.be.lessThan(bytes.length);
      d.write(bytes.subarray(cut), (f) => names.push(f.name.toString()));
      d.endBlock();
      expect(names, `cut at ${cut}`).to.deep.equal([':method', ':scheme', ':path', ':authority']);
      expect(d.bufferedBytes).to.equal(0);
    }
  });

  it('marks never-indexed literals as sensitive and does not index them', () => {
    const d = new HpackDecoder();
    const fields: HpackField[] = [];
    // 0001 0000, literal name "password", value "secret" (RFC 7541 C.2.3).
    d.write(Buffer.from('100870617373776f726406736563726574', 'hex'), (f) => fields.push(f));
    expect(fields).to.have.length(1);
    expect(fields[0]!.sensitive).to.equal(true);
    expect(fields[0]!.name.toString()).to.equal('password');
    expect(d.tableLength).to.equal(0);
  });

  it('applies dynamic table size updates and rejects ones above the allowed size', () => {
    const d = new HpackDecoder(() => 4096);
    decodeAll(d, '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d');
    expect(d.tableLength).to.equal(1);
    decodeAll(d, '20'); // size update to 0 evicts everything
    expect(d.tableLength).to.equal(0);
    expect(() => decodeAll(d, '3fe21f')).to.throw(HpackDecodingError, /exceeds/); // 4097
  });

  it('rejects invalid indexes, truncated blocks and bad Huffman padding', () => {
    expect(() => decodeAll(new HpackDecoder(), '80')).to.throw(HpackDecodingError, /index 0/);
    expect(() => decodeAll(new HpackDecoder(), 'be')).to.throw(HpackDecodingError, /beyond/);
    expect(() => decodeAll(new HpackDecoder(), '4188')).to.throw(HpackDecodingError, /ends inside/);
    // "a" is 00011 (5 bits): padding with zeros instead of EOS ones.
    expect(() => huffmanDecode(Buffer.from([0b00011000]))).to.throw(HuffmanDecodingError, /EOS/);
    expect(huffmanDecode(Buffer.from([0b00011111])).toString()).to.equal('a');
    // A whole byte of padding is too long.
    expect(() => huffmanDecode(Buffer.from([0b00011111, 0xff]))).to.throw(HuffmanDecodingError, /longer/);
  });
});

describe('trace/huffman', () => {
  // Rebuild the canonical code of RFC 7541 Appendix B from the lengths.
  function codes(): Array<{ code: bigint; bits: number }> {
    const order = HUFFMAN_CODE_LENGTHS.map((bits, sym) => ({ sym, bits })).sort((a, b) => a.bits - b.bits || a.sym - b.sym);
    const out: Array<{ code: bigint; bits: number }> = [];
    let code = 0n;
    let prev = order[0]!.bits;
    order.forEach(({ sym, bits }, i) => {
      if (i > 0) code = (code + 1n) << BigInt(bits - prev);
      prev = bits;
      out[sym] = { code, bits };
    });
    return out;
  }

  function encode(input: Buffer): Buffer {
    const table = codes();
    let acc = 0n;
    let n = 0;
    for (const b of input) {
      acc = (acc << BigInt(table[b]!.bits)) | table[b]!.code;
      n += table[b]!.bits;
    }
    const pad = (8 - (n % 8)) % 8;
    acc = (acc << BigInt(pad)) | ((1n << BigInt(pad)) - 1n);
    const hex = acc.toString(16).padStart(((n + pad) / 8) * 2, '0');
    return Buffer.from(hex, 'hex');
  }

  it('has the codes RFC 7541 Appendix B lists', () => {
    const t = codes();
    expect(t[0x30]).to.deep.equal({ code: 0x0n, bits: 5 }); // '0'
    expect(t[0x61]).to.deep.equal({ code: 0x3n, bits: 5 }); // 'a'
    expect(t[0x00]).to.deep.equal({ code: 0x1ff8n, bits: 13 });
    expect(t[0xff]).to.deep.equal({ code: 0x3ffffeen, bits: 26 });
    expect(t[256]).to.deep.equal({ code: 0x3fffffffn, bits: 30 }); // EOS
  });

  it('round-trips every octet value', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect(huffmanDecode(encode(all)).equals(all)).to.equal(true);
    for (let i = 0; i < 256; i++) {
      const one = Buffer.from([i, 255 - i, i]);
      expect(huffmanDecode(encode(one)).equals(one), `octet ${i}`).to.equal(true);
    }
  });
});
