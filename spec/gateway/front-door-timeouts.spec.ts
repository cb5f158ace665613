import { expect } from 'chai';
import { connect, type Socket } from 'node:net';
import { InvalidOptionError } from '../../lib/errors.js';
import { FrontDoor, type FrontDoorOptions } from '../../lib/gateway/front-door.js';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { waitFor } from '../helpers/wait-for.js';

/*
 * Issue 13, bug 5: slow callers held the pool. Two chunked POSTs trickling a byte every few
 * seconds occupied both streams of a parallelism-2 agent (everyone else got 503), and a
 * connection trickling its headers stayed open for good. The front door now bounds the
 * headers, the silence inside a body, and the whole request, and says which bound it hit.
 */

interface Outcome {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The front door closed the connection after answering. */
  closed: boolean;
}

/** A raw caller: `send` writes what it wants, when it wants; resolves with the answer once the connection closes (bounded). */
function rawCall(port: number, timeoutMs: number, send: (socket: Socket) => void): { socket: Socket; outcome: Promise<Outcome> } {
  const socket = connect({ host: '127.0.0.1', port });
  const outcome = new Promise<Outcome>((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`Timed out after ${timeoutMs} ms: the front door neither answered nor closed (read ${JSON.stringify(buffer.slice(0, 80))})`));
    }, timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
    });
    socket.on('error', () => {}); // a write after the close; the answer is what counts
    socket.on('close', () => {
      clearTimeout(timer);
      const end = buffer.indexOf('\r\n\r\n');
      const [statusLine, ...lines] = (end === -1 ? buffer : buffer.slice(0, end)).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
      resolve({ status: Number(statusLine?.split(' ')[1] ?? 0), headers, body: end === -1 ? '' : buffer.slice(end + 4), closed: true });
    });
    socket.once('connect', () => send(socket));
  });
  return { socket, outcome };
}

/** Writes `bytes` one byte every `everyMs` until the socket closes (a slow caller). */
function trickle(socket: Socket, bytes: string, everyMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || !socket.writable || i >= bytes.length) return clearInterval(timer);
    socket.write(bytes[i++] as string);
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
}

describe('front door: bounds on slow callers', function () {
  this.timeout(60_000);
  let harness: Harness;
  let frontDoor: FrontDoor | undefined;
  let port: number;
  const sockets: Socket[] = [];
  let releaseHeld: () => void = () => {};

  async function open(options: FrontDoorOptions): Promise<void> {
    frontDoor?.destroy();
    frontDoor = new FrontDoor(harness.gateway, options);
    port = (await frontDoor.listen({ host: '127.0.0.1', port: 0 })).port;
  }

  function call(send: (socket: Socket) => void, timeoutMs = 10_000): Promise<Outcome> {
    const { socket, outcome } = rawCall(port, timeoutMs, send);
    sockets.push(socket);
    return outcome;
  }

  async function get(path: string): Promise<number> {
    const response = await fetch(`http://127.0.0.1:${port}/${harness.pool}${path}`, { signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer();
    return response.status;
  }

  function accessCodes(): unknown[] {
    return harness.gatewayLogger.entries.filter((entry) => entry.message === 'access' && entry.errorCode !== undefined).map((entry) => entry.errorCode);
  }

  before(async () => {
    const held: Array<() => void> = [];
    releaseHeld = () => {
      for (const go of held.splice(0)) go();
    };
    harness = await startHarness({
      policy: testPolicy,
      parallelism: 2,
      gateway: { queueTimeoutMs: 5_000 },
      vcs(req, res) {
        let size = 0;
        req.on('data', (chunk: Buffer) => {
          size += chunk.length;
        });
        req.on('end', () => {
          const answer = (): void => {
            const body = JSON.stringify({ url: req.url, size });
            res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
            res.end(body);
          };
          if ((req.url ?? '').includes('slow')) held.push(answer);
          else answer();
        });
      },
    });
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
    releaseHeld();
    frontDoor?.destroy();
    frontDoor = undefined;
    harness.gatewayLogger.entries.length = 0;
  });
  after(() => harness.close());

  it('answers 408 VCS_HEADERS_TIMEOUT to a caller trickling its headers, and closes', async () => {
    await open({ headersTimeoutMs: 300, requestTimeoutMs: 5_000 });
    const startedAt = Date.now();
    const outcome = await call((socket) => trickle(socket, `GET /${harness.pool}/allowed/x HTTP/1.1\r\nHost: a\r\nX-Slow: ${'y'.repeat(200)}\r\n\r\n`, 20));
    const elapsed = Date.now() - startedAt;
    expect(outcome.status).to.equal(408);
    expect(outcome.headers['vcs-gateway-error']).to.equal('VCS_HEADERS_TIMEOUT');
    expect(JSON.parse(outcome.body).error.message).to.match(/headers did not arrive within 300 ms/);
    expect(elapsed).to.be.below(4_000);
    expect(await get('/allowed/after')).to.equal(200);
  });

  it('answers 408 VCS_HEADERS_TIMEOUT to a connection that sends nothing', async () => {
    await open({ headersTimeoutMs: 300, requestTimeoutMs: 5_000 });
    const outcome = await call(() => {});
    expect(outcome.status).to.equal(408);
    expect(outcome.headers['vcs-gateway-error']).to.equal('VCS_HEADERS_TIMEOUT');
  });

  it('answers 408 VCS_BODY_IDLE_TIMEOUT when a body stops, frees the stream, and logs the code', async () => {
    await open({ bodyIdleTimeoutMs: 300, requestTimeoutMs: 0 });
    const outcome = await call((socket) => socket.write(`POST /${harness.pool}/allowed/upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`));
    expect(outcome.status).to.equal(408);
    expect(outcome.headers['vcs-gateway-error']).to.equal('VCS_BODY_IDLE_TIMEOUT');
    expect(outcome.headers.connection).to.equal('close');
    expect(JSON.parse(outcome.body).error.code).to.equal('VCS_BODY_IDLE_TIMEOUT');
    await waitFor(() => accessCodes().includes('VCS_BODY_IDLE_TIMEOUT'), 5_000, 'the access log line');
    await waitFor(() => harness.gateway.poolStats().every((pool) => pool.streamsBusy === 0), 5_000, 'the stream to be free');
  });

  it('frees a parallelism-2 pool held by two chunked POSTs trickling a byte at a time (VCS_REQUEST_TIMEOUT)', async () => {
    // The trickle is never idle for the body-idle bound; the whole-request bound ends it.
    await open({ bodyIdleTimeoutMs: 5_000, requestTimeoutMs: 600, headersTimeoutMs: 300 });
    const slowPost = (): Promise<Outcome> =>
      call((socket) => {
        socket.write(`POST /${harness.pool}/allowed/trickle HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n`);
        trickle(socket, '1\r\na\r\n'.repeat(200), 25);
      });
    const trickles = [slowPost(), slowPost()];
    await waitFor(() => harness.gateway.poolStats().some((pool) => pool.streamsBusy === 2), 5_000, 'both streams to be taken by the trickles');
    const outcomes = await Promise.all(trickles);
    for (const outcome of outcomes) {
      expect(outcome.status).to.equal(408);
      expect(outcome.headers['vcs-gateway-error']).to.equal('VCS_REQUEST_TIMEOUT');
      expect(JSON.parse(outcome.body).error.message).to.match(/whole request did not arrive within 600 ms/);
    }
    expect(await get('/allowed/next')).to.equal(200);
    expect(accessCodes()).to.deep.equal(['VCS_REQUEST_TIMEOUT', 'VCS_REQUEST_TIMEOUT']);
  });

  it('does not count time queued for a stream as body silence', async () => {
    await open({ bodyIdleTimeoutMs: 200, requestTimeoutMs: 0 });
    // Both streams are held, so the upload waits in the queue, its body unread.
    const held = [get('/allowed/slow-1'), get('/allowed/slow-2')];
    await waitFor(() => harness.gateway.poolStats().some((pool) => pool.streamsBusy === 2), 5_000, 'both streams to be held');
    const upload = fetch(`http://127.0.0.1:${port}/${harness.pool}/allowed/queued`, { method: 'POST', body: 'x'.repeat(1000), signal: AbortSignal.timeout(10_000) });
    await waitFor(() => harness.gateway.poolStats().some((pool) => pool.queued === 1), 5_000, 'the upload to be queued');
    // Queued for several times the idle bound (the point of the test is time passing, not an event).
    await new Promise((resolve) => setTimeout(resolve, 800));
    releaseHeld();
    const response = await upload;
    expect(response.status).to.equal(200);
    expect(JSON.parse(await response.text()).size).to.equal(1000);
    expect(await Promise.all(held)).to.deep.equal([200, 200]);
  });

  it('does not bound the response: a slow VCS answer after the request arrived is delivered', async () => {
    await open({ requestTimeoutMs: 200, headersTimeoutMs: 100, bodyIdleTimeoutMs: 100 });
    const answer = get('/allowed/slow-answer');
    await waitFor(() => harness.vcsRequests.some((request) => request.url === '/allowed/slow-answer'), 5_000, 'the request to reach the VCS');
    await new Promise((resolve) => setTimeout(resolve, 500)); // longer than every bound: time passing is the point
    releaseHeld();
    expect(await answer).to.equal(200);
  });

  it('still answers malformed requests as Node does (the bounds replace its clientError handling)', async () => {
    await open({});
    const conflicting = await call((socket) => socket.write(`POST /${harness.pool}/allowed/x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab`));
    expect(conflicting.status).to.equal(400);
    const garbage = await call((socket) => socket.write('NOT HTTP AT ALL\r\n\r\n'));
    expect(garbage.status).to.equal(400);
    const huge = await call((socket) => socket.write(`GET /${harness.pool}/allowed/x HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`));
    expect(huge.status).to.equal(431);
    expect(harness.vcsRequests.filter((request) => request.url === '/allowed/x')).to.have.length(0);
  });

  it('validates each option, naming it', () => {
    const cases: Array<[FrontDoorOptions, string]> = [
      [{ headersTimeoutMs: 0 }, 'headersTimeoutMs'],
      [{ headersTimeoutMs: 1.5 }, 'headersTimeoutMs'],
      [{ bodyIdleTimeoutMs: -1 }, 'bodyIdleTimeoutMs'],
      [{ requestTimeoutMs: Number.NaN }, 'requestTimeoutMs'],
      [{ maxDiscardBytes: -5 }, 'maxDiscardBytes'],
      [{ headersTimeoutMs: 2_000, requestTimeoutMs: 1_000 }, 'headersTimeoutMs'],
    ];
    for (const [options, option] of cases) {
      let caught: unknown;
      try {
        new FrontDoor(harness.gateway, options).destroy();
      } catch (error) {
        caught = error;
      }
      expect(caught, JSON.stringify(options)).to.be.instanceOf(InvalidOptionError);
      expect((caught as InvalidOptionError).option).to.equal(option);
      expect((caught as InvalidOptionError).message).to.include(option);
    }
    // 0 turns the body and whole-request bounds off.
    new FrontDoor(harness.gateway, { bodyIdleTimeoutMs: 0, requestTimeoutMs: 0 }).destroy();
  });
});
