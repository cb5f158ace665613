import { expect } from 'chai';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { listenToBody } from '../../lib/util/request-body.js';

function recorder(): { events: string[]; listeners: Parameters<typeof listenToBody>[1] } {
  const events: string[] = [];
  return {
    events,
    listeners: {
      onData: (chunk) => events.push(`data:${chunk.toString()}`),
      onEnd: () => events.push('end'),
      onError: (error) => events.push(`error:${error.message}`),
    },
  };
}

describe('listenToBody', function () {
  it('hands on the chunks, then ends once in onEnd (the close after the end is not a failure)', async function () {
    const body = new PassThrough();
    const { events, listeners } = recorder();
    listenToBody(body, listeners);
    body.end('abc');
    await once(body, 'close');
    expect(events).to.deep.equal(['data:abc', 'end']);
  });

  it('reports a body destroyed without an error as a failure, once', async function () {
    const body = new PassThrough();
    const { events, listeners } = recorder();
    listenToBody(body, listeners);
    body.write('a');
    await new Promise((resolve) => setImmediate(resolve));
    body.destroy();
    await once(body, 'close');
    expect(events).to.deep.equal(['data:a', 'error:The request body stream was destroyed before its end']);
  });

  it('reports a body that failed with its error, once (not again at its close)', async function () {
    const body = new PassThrough();
    const { events, listeners } = recorder();
    listenToBody(body, listeners);
    const closed = new Promise((resolve) => body.on('close', resolve));
    body.destroy(new Error('socket hang up'));
    await closed;
    expect(events).to.deep.equal(['error:socket hang up']);
  });

  it('hears nothing more once detached', async function () {
    const body = new PassThrough();
    const { events, listeners } = recorder();
    const detach = listenToBody(body, listeners);
    detach();
    body.on('data', () => undefined);
    body.end('late');
    await once(body, 'close');
    expect(events).to.deep.equal([]);
    expect(body.listenerCount('close')).to.equal(0);
  });
});
