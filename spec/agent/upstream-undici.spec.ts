import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import { undiciUpstream } from '../../lib/agent/upstream-undici.js';
import type { UpstreamHandler } from '../../lib/agent/upstream-request.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * An undici Agent that records the chunks the body hands undici (a flowing Readable emits one
 * chunk per push, and undici writes each with its own socket write). It wraps push() rather
 * than listening: a 'data' listener of its own would start the flow before undici's.
 */
class RecordingAgent extends Agent {
  readonly chunkSizes: number[] = [];
  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const body = options.body;
    if (body instanceof Readable) {
      const push = body.push.bind(body);
      body.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
        if (chunk instanceof Buffer) this.chunkSizes.push(chunk.length);
        return push(chunk, encoding);
      };
    }
    return super.dispatch(options, handler);
  }
}

/** A VCS that answers with the byte count and sha256 of what it received. */
async function startVcs(): Promise<{ server: Server; origin: URL }> {
  const server = createServer((req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => res.end(JSON.stringify({ bytes, sha256: hash.digest('hex') })));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`) };
}

function collect(): { handler: UpstreamHandler; done: Promise<{ status: number; body: string }>; drains: () => number } {
  let drains = 0;
  const chunks: Buffer[] = [];
  let status = 0;
  let settle: (value: { status: number; body: string }) => void = () => {};
  let fail: (error: Error) => void = () => {};
  const done = new Promise<{ status: number; body: string }>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  return {
    drains: () => drains,
    done,
    handler: {
      onResponse: (code) => void (status = code),
      onData: (chunk) => chunks.push(chunk) > 0,
      onEnd: () => settle({ status, body: Buffer.concat(chunks).toString() }),
      onError: fail,
      onDrain: () => void drains++,
    },
  };
}

describe('agent: undici upstream, streamed request bodies', function () {
  this.timeout(10_000);
  let vcs: { server: Server; origin: URL };
  let dispatcher: RecordingAgent;

  beforeEach(async () => {
    vcs = await startVcs();
    dispatcher = new RecordingAgent();
  });
  afterEach(async () => {
    await dispatcher.destroy();
    vcs.server.close();
  });

  it('joins the chunks of one event-loop turn (16 KiB HTTP/2 DATA frames) into writes of at most 64 KiB, in order', async () => {
    const sent = createHash('sha256');
    const first = Array.from({ length: 8 }, (_, i) => Buffer.alloc(16 * 1024, i));
    const second = Array.from({ length: 3 }, (_, i) => Buffer.alloc(1000, 100 + i));
    const total = 8 * 16 * 1024 + 3 * 1000;
    const { handler, done } = collect();
    const request = undiciUpstream(dispatcher, 5_000, false).request(
      { origin: vcs.origin, method: 'POST', path: '/upload', headers: ['host', vcs.origin.host, 'content-length', String(total)], body: 'stream' },
      handler,
    );
    for (const chunk of first) {
      sent.update(chunk);
      expect(request.write(chunk)).to.equal(true);
    }
    await new Promise((resolve) => setImmediate(resolve));
    for (const chunk of second) {
      sent.update(chunk);
      request.write(chunk);
    }
    request.end();
    const answer = await done;
    expect(answer.status).to.equal(200);
    expect(JSON.parse(answer.body)).to.deep.equal({ bytes: total, sha256: sent.digest('hex') });
    expect(dispatcher.chunkSizes).to.deep.equal([65_536, 65_536, 3_000]);
  });

  it('refuses more past 1 MiB queued and asks for more (onDrain) once undici has read it; nothing is lost', async () => {
    const chunk = Buffer.alloc(16 * 1024, 7);
    const count = 80; // 1.25 MiB in one turn
    const { handler, done, drains } = collect();
    const request = undiciUpstream(dispatcher, 5_000, false).request(
      { origin: vcs.origin, method: 'PUT', path: '/big', headers: ['host', vcs.origin.host, 'content-length', String(count * chunk.length)], body: 'stream' },
      handler,
    );
    let written = 0;
    while (written < count && request.write(chunk)) written++;
    written++; // the refused chunk is queued all the same
    expect(written, 'chunks taken before the first refusal (1 MiB)').to.equal(64);
    await waitFor(() => drains() === 1, 5_000, 'onDrain after the refusal');
    while (written < count) {
      request.write(chunk);
      written++;
    }
    request.end();
    const answer = await done;
    expect(JSON.parse(answer.body).bytes).to.equal(count * chunk.length);
  });

  it('drops what is queued when the request is aborted (no write after the abort)', async () => {
    const { handler } = collect();
    const request = undiciUpstream(dispatcher, 5_000, false).request(
      { origin: vcs.origin, method: 'POST', path: '/aborted', headers: ['host', vcs.origin.host, 'content-length', '100000'], body: 'stream' },
      handler,
    );
    request.write(Buffer.alloc(1000));
    request.abort();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(dispatcher.chunkSizes).to.deep.equal([]);
  });
});
