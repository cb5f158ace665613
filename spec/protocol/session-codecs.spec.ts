import { PassThrough } from 'node:stream';
import type { Http2Stream } from 'node:http2';
import { expect } from 'chai';
import { InvalidOptionError, ProtocolError } from '../../lib/errors.js';
import { ControlChannel } from '../../lib/protocol/control-channel.js';
import { FrameParser, FrameType, decodeRequestHead, decodeResponseHead, encodeControl, encodeRequestHead, encodeResponseHead, endFrame } from '../../lib/protocol/frame.js';
import { decodeMetadata, encodeMetadata, validateMetadata } from '../../lib/protocol/metadata.js';
import { parseRefusal } from '../../lib/protocol/handshake.js';

function heads(buffer: Buffer): unknown[] {
  const out: unknown[] = [];
  new FrameParser({ onHead: (_type, head) => out.push(head), onBody: () => {}, onEnd: () => {} }).push(buffer);
  return out;
}

describe('protocol: typed heads, metadata and the control channel', () => {
  it('round-trips both head types and rejects malformed ones with a ProtocolError', () => {
    const request = { id: 'r1', method: 'GET', path: '/x', headers: ['a', 'b'], body: false };
    const response = { status: 204, headers: [], body: false };
    expect(decodeRequestHead(heads(encodeRequestHead(request))[0])).to.deep.equal(request);
    expect(decodeResponseHead(heads(encodeResponseHead(response))[0])).to.deep.equal(response);
    expect(() => decodeRequestHead({ ...request, headers: ['odd'] })).to.throw(ProtocolError);
    expect(() => decodeRequestHead({ ...request, headers: ['a', 1] })).to.throw(ProtocolError);
    expect(() => decodeResponseHead({ ...response, status: 99 })).to.throw(ProtocolError);
    expect(() => decodeResponseHead(null)).to.throw(ProtocolError);
  });

  it('checks metadata on both sides: option errors for the agent, protocol errors for the gateway', () => {
    const tags = validateMetadata({ region: 'eu-1' });
    expect(decodeMetadata(encodeMetadata(tags))).to.deep.equal({ region: 'eu-1' });
    expect(decodeMetadata(undefined)).to.deep.equal({});
    expect(() => validateMetadata({ 'bad name': 'x' })).to.throw(InvalidOptionError).with.property('option', 'metadata');
    expect(() => decodeMetadata('[1]')).to.throw(ProtocolError);
    expect(() => decodeMetadata('{"a": 1}')).to.throw(ProtocolError);
    expect(() => decodeMetadata('not json')).to.throw(ProtocolError);
  });

  it('reads the refusal body when it is ours, and nothing otherwise', () => {
    expect(parseRefusal('{"error":{"code":"VCS_AUTH_FAILED","message":"Unknown pool","reason":"unknown_pool"}}')).to.deep.equal({ message: 'Unknown pool', reason: 'unknown_pool' });
    expect(parseRefusal('<html>')).to.deep.equal({});
  });

  it('answers ping with pong, hands drain, drain-ack and pong on, ignores unknown messages, and reports other frames', () => {
    const wire = new PassThrough();
    const events: string[] = [];
    const channel = new ControlChannel(wire as unknown as Http2Stream, {
      onDrain: () => events.push('drain'),
      onDrainAck: () => events.push('drain-ack'),
      onPong: (id) => events.push(`pong ${id}`),
      onProtocolError: (error) => events.push(`error ${error.code}`),
    });
    const written: Buffer[] = [];
    wire.write = ((chunk: Buffer) => {
      written.push(chunk);
      return true;
    }) as typeof wire.write;
    wire.emit('data', Buffer.concat([encodeControl({ type: 'ping', id: 5 }), encodeControl({ type: 'drain' }), encodeControl({ type: 'drain-ack' })]));
    wire.emit('data', encodeControl({ type: 'pong', id: 9 }));
    wire.emit('data', Buffer.from([FrameType.Control, 0, 0, 0, 17, ...Buffer.from('{"type":"future"}')]));
    expect(events).to.deep.equal(['drain', 'drain-ack', 'pong 9']);
    expect(heads(Buffer.concat(written))).to.deep.equal([{ type: 'pong', id: 5 }]);
    channel.ping();
    expect(heads(written.at(-1) as Buffer)).to.deep.equal([{ type: 'ping', id: 1 }]);
    wire.emit('data', endFrame());
    expect(events.at(-1)).to.equal('error VCS_PROTOCOL_ERROR');
  });
});
