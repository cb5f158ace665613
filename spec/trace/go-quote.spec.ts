import { expect } from 'chai';
import { goQuote } from '../../lib/trace/go-quote.js';
import { goLogTimestamp } from '../../lib/trace/go-log.js';

describe('trace/go-quote', () => {
  // Expected strings are what Go's fmt.Sprintf("%q", []byte(...)) prints.
  it('escapes like strconv.Quote', () => {
    expect(goQuote(Buffer.alloc(8))).to.equal('"\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00"');
    expect(goQuote('a"b\\c')).to.equal('"a\\"b\\\\c"');
    expect(goQuote('\x07\b\f\n\r\t\v\x7f\x1b')).to.equal('"\\a\\b\\f\\n\\r\\t\\v\\x7f\\x1b"');
    expect(goQuote('text/plain; charset=utf-8')).to.equal('"text/plain; charset=utf-8"');
    expect(goQuote('')).to.equal('""');
  });

  it('keeps printable runes and escapes the others by code point', () => {
    expect(goQuote('héllo 世界 😀')).to.equal('"héllo 世界 😀"');
    expect(goQuote('\u00a0\u200b\ufeff')).to.equal('"\\u00a0\\u200b\\ufeff"');
    expect(goQuote('\u{e0001}')).to.equal('"\\U000e0001"');
    expect(goQuote('\ufffd')).to.equal('"\ufffd"');
  });

  it('escapes each byte of invalid UTF-8 as \\xNN', () => {
    expect(goQuote(Buffer.from([0xff, 0x61, 0xc3]))).to.equal('"\\xffa\\xc3"');
    expect(goQuote(Buffer.from([0xc0, 0x80]))).to.equal('"\\xc0\\x80"'); // overlong
    expect(goQuote(Buffer.from([0xed, 0xa0, 0x80]))).to.equal('"\\xed\\xa0\\x80"'); // surrogate
    expect(goQuote(Buffer.from([0xf4, 0x90, 0x80, 0x80]))).to.equal('"\\xf4\\x90\\x80\\x80"'); // > U+10FFFF
  });

  it('formats the Go log timestamp prefix', () => {
    expect(goLogTimestamp(new Date(2009, 10, 10, 23, 4, 5))).to.equal('2009/11/10 23:04:05 ');
  });
});
