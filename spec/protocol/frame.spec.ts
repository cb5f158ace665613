import { expect } from 'chai';
import fc from 'fast-check';
import { ProtocolError } from '../../lib/errors.js';
import { FrameParser, FrameType, encodeHead, endFrame, frameHeader } from '../../lib/protocol/frame.js';

interface Event {
  kind: 'head' | 'body' | 'end';
  value: unknown;
}

function parseAll(chunks: Buffer[]): Event[] {
  const events: Event[] = [];
  const parser = new FrameParser({
    onHead: (type, head) => events.push({ kind: 'head', value: { type, head } }),
    onBody: (chunk) => events.push({ kind: 'body', value: Buffer.from(chunk) }),
    onEnd: () => events.push({ kind: 'end', value: null }),
  });
  for (const chunk of chunks) parser.push(chunk);
  return events;
}

/** Collapses consecutive body events (the parser may split a frame anywhere). */
function normalise(events: Event[]): Array<{ kind: string; value: unknown }> {
  const out: Array<{ kind: string; value: unknown }> = [];
  for (const event of events) {
    const last = out[out.length - 1];
    if (event.kind === 'body' && last?.kind === 'body') last.value = Buffer.concat([last.value as Buffer, event.value as Buffer]);
    else out.push({ ...event });
  }
  return out.map((event) => (event.kind === 'body' ? { kind: 'body', value: (event.value as Buffer).toString('hex') } : event));
}

describe('protocol framing', () => {
  const head = { id: 'r1', method: 'POST', path: '/a?b=1', headers: ['X-A', '1', 'X-A', '2'], body: true };

  it('round-trips a head, body frames and end', () => {
    const wire = Buffer.concat([encodeHead(FrameType.RequestHead, head), frameHeader(FrameType.Body, 3), Buffer.from('abc'), endFrame()]);
    expect(normalise(parseAll([wire]))).to.deep.equal([
      { kind: 'head', value: { type: FrameType.RequestHead, head } },
      { kind: 'body', value: Buffer.from('abc').toString('hex') },
      { kind: 'end', value: null },
    ]);
  });

  it('coalesces head, small body and end into one buffer', () => {
    const wire = encodeHead(FrameType.ResponseHead, { status: 200, headers: [], body: true }, Buffer.from('hello'));
    expect(normalise(parseAll([wire]))).to.deep.equal([
      { kind: 'head', value: { type: FrameType.ResponseHead, head: { status: 200, headers: [], body: true } } },
      { kind: 'body', value: Buffer.from('hello').toString('hex') },
      { kind: 'end', value: null },
    ]);
  });

  it('gives the same events however the bytes are split (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 50 }), (body, cuts) => {
        const wire = Buffer.concat([encodeHead(FrameType.RequestHead, head), frameHeader(FrameType.Body, body.length), Buffer.from(body), endFrame()]);
        const chunks: Buffer[] = [];
        let offset = 0;
        let i = 0;
        while (offset < wire.length) {
          const size = cuts[i++ % cuts.length] as number;
          chunks.push(wire.subarray(offset, offset + size));
          offset += size;
        }
        expect(normalise(parseAll(chunks))).to.deep.equal(normalise(parseAll([wire])));
      }),
    );
  });

  it('hands body bytes on without copying the whole frame first', () => {
    const events: Buffer[] = [];
    const parser = new FrameParser({ onHead: () => {}, onBody: (chunk) => events.push(chunk), onEnd: () => {} });
    parser.push(frameHeader(FrameType.Body, 1_000_000));
    parser.push(Buffer.alloc(10));
    expect(events.map((chunk) => chunk.length)).to.deep.equal([10]);
  });

  it('hands on the body bytes of one pushed chunk as one piece, however many body frames it holds', () => {
    const events: string[] = [];
    const parser = new FrameParser({ onHead: () => {}, onBody: (chunk) => events.push(chunk.toString()), onEnd: () => events.push('<end>') });
    // A DATA frame holding the last bytes of one body frame, the next frame's header and its start.
    parser.push(Buffer.concat([frameHeader(FrameType.Body, 6), Buffer.from('abc')]));
    parser.push(Buffer.concat([Buffer.from('def'), frameHeader(FrameType.Body, 4), Buffer.from('gh')]));
    parser.push(Buffer.concat([Buffer.from('ij'), endFrame(), frameHeader(FrameType.Body, 0)]));
    // The End is delivered after the body bytes before it, never ahead of them.
    expect(events).to.deep.equal(['abc', 'defgh', 'ij', '<end>']);
  });

  it('hands on nothing more of a chunk once a frame in it is malformed', () => {
    const events: string[] = [];
    const parser = new FrameParser({ onHead: () => {}, onBody: (chunk) => events.push(chunk.toString()), onEnd: () => {} });
    expect(() => parser.push(Buffer.concat([frameHeader(FrameType.Body, 2), Buffer.from('ab'), Buffer.from([0x7f, 0, 0, 0, 0])]))).to.throw(ProtocolError);
    expect(events).to.deep.equal([]);
  });

  it('rejects unknown frame types, oversized heads, non-JSON heads and End with a payload', () => {
    const parser = (): FrameParser => new FrameParser({ onHead: () => {}, onBody: () => {}, onEnd: () => {} });
    expect(() => parser().push(Buffer.from([0x7f, 0, 0, 0, 0]))).to.throw(ProtocolError, /Unknown frame type 0x7f/);
    expect(() => parser().push(frameHeader(FrameType.RequestHead, 10 * 1024 * 1024))).to.throw(ProtocolError, /exceeds/);
    expect(() => parser().push(Buffer.concat([frameHeader(FrameType.RequestHead, 3), Buffer.from('{{{')]))).to.throw(ProtocolError, /not valid JSON/);
    expect(() => parser().push(frameHeader(FrameType.End, 1))).to.throw(ProtocolError, /End frame/);
  });
});
