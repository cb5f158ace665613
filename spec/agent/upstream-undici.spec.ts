/*
 * The undici adapter on its own, against a real local server: the request body's
 * backpressure (write() → false, then onDrain) and its Content-Length checks.
 */
import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import type { UpstreamHandler, UpstreamRequest, UpstreamRequestHead } from '../../lib/agent/upstream-request.js';
import { undiciUpstream } from '../../lib/agent/upstream-undici.js';
import { waitFor } from '../helpers/wait-for.js';

interface Seen {
  status: number;
  body: Buffer[];
  ended: boolean;
  error: Error | undefined;
  drains: number;
}

function recorder(): { seen: Seen; handler: UpstreamHandler } {
  const seen: Seen = { status: 0, body: [], ended: false, error: undefined, drains: 0 };
  return {
    seen,
    handler: {
      onResponse: (status) => void (seen.status = status),
      onData: (chunk) => seen.body.push(chunk) > 0,
      onEnd: () => void (seen.ended = true),
      onError: (error) => void (seen.error = error),
      onDrain: () => void seen.drains++,
    },
  };
}

async function listen(handler: (req: IncomingMessage, respond: (text: string) => void) => void): Promise<{ server: Server; origin: URL }> {
  const server = createServer((req, res) => handler(req, (text) => res.writeHead(200, { 'content-length': Buffer.byteLength(text) }).end(text)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`) };
}

/** A VCS that takes an upload's head and reads nothing of its body until `startReading()`; it answers with the body's length. */
async function heldVcs(): Promise<{ server: Server; origin: URL; startReading: () => void; headSeen: () => boolean }> {
  let startReading!: () => void;
  const reading = new Promise<void>((resolve) => (startReading = resolve));
  let headSeen = false;
  const { server, origin } = await listen((req, respond) => {
    headSeen = true;
    req.pause();
    void reading.then(() => {
      let received = 0;
      req.on('data', (chunk: Buffer) => (received += chunk.length));
      req.on('end', () => respond(String(received)));
      req.resume();
    });
  });
  return { server, origin, startReading, headSeen: () => headSeen };
}

function uploadHead(origin: URL, total: number): UpstreamRequestHead {
  return { origin, method: 'POST', path: '/upload', headers: ['host', origin.host, 'content-length', String(total)], body: 'stream' };
}

/** Writes `total` bytes in `chunkSize` chunks as the tunnel does: on a refused write, it waits for onDrain. */
function writeUpload(request: UpstreamRequest, seen: Seen, total: number, chunkSize: number): { done: Promise<void>; written: () => number; stalled: () => boolean } {
  const chunk = Buffer.alloc(chunkSize, 'u');
  let written = 0;
  let stalled = false;
  const done = (async () => {
    while (written < total) {
      written += chunk.length;
      if (request.write(chunk)) continue;
      stalled = true;
      const drains = seen.drains;
      await waitFor(() => seen.drains > drains || seen.error !== undefined, 20_000, 'onDrain');
      stalled = false;
    }
    request.end();
  })();
  return { done, written: () => written, stalled: () => stalled };
}

describe('undici VCS client', function () {
  this.timeout(30_000);
  let dispatcher: Agent;
  beforeEach(() => {
    dispatcher = new Agent({ connections: 1 });
  });
  afterEach(async () => {
    await dispatcher.destroy();
  });

  it('holds an upload back while the VCS does not read, and delivers every byte once it does', async () => {
    const total = 32 * 1024 * 1024;
    const vcs = await heldVcs();
    try {
      const { seen, handler } = recorder();
      const request = undiciUpstream(dispatcher, 10_000, false).request(uploadHead(vcs.origin, total), handler);
      const writer = writeUpload(request, seen, total, 64 * 1024);
      await waitFor(() => vcs.headSeen() && writer.stalled(), 10_000, 'the VCS to get the head and the writer to stall');
      // Socket buffers and the body stream's own buffer hold a few MiB at most.
      expect(writer.written()).to.be.below(total / 2);
      vcs.startReading();
      await writer.done;
      await waitFor(() => seen.ended || seen.error !== undefined, 20_000, 'the response');
      expect(seen.error).to.equal(undefined);
      expect(seen.status).to.equal(200);
      expect(Buffer.concat(seen.body).toString()).to.equal(String(total));
      expect(seen.drains).to.be.greaterThan(0);
    } finally {
      vcs.server.close();
    }
  });

  it('corks the VCS sockets for the tick in which a held upload resumes, so the held chunks leave together', async () => {
    const total = 32 * 1024 * 1024;
    const chunkSize = 16 * 1024;
    const vcs = await heldVcs();
    try {
      const { seen, handler } = recorder();
      const corking = { turns: 0, ticks: 0, turn: () => void corking.turns++, tick: () => void corking.ticks++ };
      const request = undiciUpstream(dispatcher, 10_000, false, corking).request(uploadHead(vcs.origin, total), handler);
      const writer = writeUpload(request, seen, total, chunkSize);
      // The VCS reads nothing: the socket fills, undici holds the body back, and its buffer fills.
      await waitFor(() => writer.stalled(), 10_000, 'the writer to stall');
      vcs.startReading();
      await writer.done;
      await waitFor(() => seen.ended || seen.error !== undefined, 20_000, 'the response');
      expect(seen.error).to.equal(undefined);
      expect(Buffer.concat(seen.body).toString()).to.equal(String(total));
      expect(corking.turns, 'a cork per written chunk at most').to.be.within(1, total / chunkSize);
      expect(corking.ticks, 'the held body resumed under a cork').to.be.greaterThan(0);
    } finally {
      vcs.server.close();
    }
  });

  it('fails a streamed body shorter than its Content-Length, and one longer, without sending more', async () => {
    const bodies: number[] = [];
    const { server, origin } = await listen((req, respond) => {
      let size = 0;
      req.on('data', (chunk: Buffer) => (size += chunk.length));
      req.on('end', () => {
        bodies.push(size);
        respond('ok');
      });
    });
    try {
      const head = { origin, method: 'GET', path: '/', headers: ['host', origin.host, 'content-length', '10'], body: 'stream' as const };
      const short = recorder();
      const shortRequest = undiciUpstream(dispatcher, 10_000, false).request(head, short.handler);
      shortRequest.write(Buffer.alloc(4));
      shortRequest.end();
      await waitFor(() => short.seen.error !== undefined, 5_000, 'the short body to fail');
      expect(short.seen.error?.message).to.match(/shorter than its Content-Length/);
      const long = recorder();
      const longRequest = undiciUpstream(dispatcher, 10_000, false).request(head, long.handler);
      longRequest.write(Buffer.alloc(8));
      longRequest.write(Buffer.alloc(8));
      longRequest.end();
      await waitFor(() => long.seen.error !== undefined, 5_000, 'the long body to fail');
      expect(long.seen.error?.message).to.match(/longer than its Content-Length/);
      const whole = recorder();
      undiciUpstream(dispatcher, 10_000, false).request({ ...head, body: Buffer.alloc(3) }, whole.handler);
      await waitFor(() => whole.seen.error !== undefined, 5_000, 'the whole body to fail');
      expect(whole.seen.error?.message).to.match(/does not match its Content-Length/);
      // A correct one still goes through, and nothing of the failed ones reached the server whole.
      const good = recorder();
      const goodRequest = undiciUpstream(dispatcher, 10_000, false).request(head, good.handler);
      goodRequest.write(Buffer.alloc(10));
      goodRequest.end();
      await waitFor(() => good.seen.ended, 5_000, 'the good request');
      expect(bodies).to.deep.equal([10]);
    } finally {
      server.close();
    }
  });

  it('reports an error raised inside dispatch() only after request() has returned', async () => {
    const { seen, handler } = recorder();
    await dispatcher.destroy();
    const request = undiciUpstream(dispatcher, 10_000, false).request(
      { origin: new URL('http://127.0.0.1:1'), method: 'GET', path: '/', headers: ['host', '127.0.0.1:1'], body: null },
      handler,
    );
    expect(request).to.be.an('object');
    expect(seen.error).to.equal(undefined);
    await waitFor(() => seen.error !== undefined, 1_000, 'the deferred error');
    expect(seen.error?.message).to.match(/destroyed/i);
    dispatcher = new Agent();
  });
});
