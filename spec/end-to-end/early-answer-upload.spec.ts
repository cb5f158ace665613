import { expect } from 'chai';
import { connect, type Socket } from 'node:net';
import { FrontDoor, type FrontDoorOptions } from '../../lib/gateway/front-door.js';
import { createPool } from '../../lib/pools/pool-service.js';
import { createVendorPolicy } from '../../lib/vendors/index.js';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';

/*
 * Issue 13, bug 2: an upload refused before its body is read (a denial by the agent, no
 * agent, a busy pool, a wrong front-door token) must still get its answer. The callers here
 * write their whole 16 MiB body before reading anything, so both sockets' buffers fill up:
 * a front door that stops reading after answering leaves them stuck (or, once it closes
 * the connection with their bytes unread, answers them with a reset: `write EPIPE`).
 */

const BODY_BYTES = 16 * 1024 * 1024;
const TOKEN = 'front-door-token-0123456789';
const COMMITS = '/api/v4/projects/group%2Frepo/repository/commits';

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Reads one HTTP/1.1 response (Content-Length framed) from `socket`; rejects on error, close or timeout. */
function readResponse(socket: Socket, timeoutMs: number, what: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(() => done(new Error(`Timed out after ${timeoutMs} ms waiting for the answer to ${what} (read ${buffer.length} bytes)`)), timeoutMs);
    const done = (error: Error | undefined, answer?: RawAnswer): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (error !== undefined) reject(error);
      else resolve(answer as RawAnswer);
    };
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf('\r\n\r\n');
      if (end === -1) return;
      const [statusLine, ...lines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers['content-length']);
      if (buffer.length < end + 4 + length) return;
      done(undefined, { status: Number(statusLine?.split(' ')[1]), headers, body: buffer.subarray(end + 4, end + 4 + length).toString('utf8') });
    };
    const onError = (error: Error): void => done(new Error(`${what}: ${error.message} before the answer (read ${buffer.length} bytes)`));
    const onClose = (): void => done(new Error(`${what}: connection closed before the answer (read ${buffer.length} bytes)`));
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.resume();
  });
}

/**
 * A caller that writes the head and its whole body and only then reads: the write callback
 * fires once every byte is in the kernel, which needs the front door to keep reading.
 */
async function uploadThenRead(
  port: number,
  path: string,
  options: { headers?: readonly string[]; chunked?: boolean; socket?: Socket; timeoutMs?: number; version?: string } = {},
): Promise<{ answer: RawAnswer; socket: Socket }> {
  const socket = options.socket ?? connect({ host: '127.0.0.1', port });
  socket.pause();
  const framing = options.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${BODY_BYTES}`;
  const head = [`POST ${path} HTTP/${options.version ?? '1.1'}`, 'Host: front-door', 'Content-Type: application/octet-stream', framing, ...(options.headers ?? []), '', ''].join('\r\n');
  const body = Buffer.alloc(BODY_BYTES, 0x5a);
  const payload = options.chunked ? [Buffer.from(`${BODY_BYTES.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')] : [body];
  const timeoutMs = options.timeoutMs ?? 20_000;
  const written = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Timed out after ${timeoutMs} ms writing the body to ${path}: the front door stopped reading`)), timeoutMs);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${path}: ${error.message} while writing the body`));
    });
    socket.write(head);
    for (const part of payload.slice(0, -1)) socket.write(part);
    socket.write(payload[payload.length - 1] as Buffer, (error) => {
      clearTimeout(timer);
      if (error) reject(error);
      else resolve();
    });
  });
  await written;
  return { answer: await readResponse(socket, timeoutMs, path), socket };
}

describe('end to end: an upload answered before its body was read still gets its answer (front door)', function () {
  this.timeout(90_000);
  let harness: Harness;
  let frontDoor: FrontDoor;
  let port: number;
  const sockets: Socket[] = [];
  let releaseHeld: () => void = () => {};

  async function openFrontDoor(options: FrontDoorOptions = {}): Promise<void> {
    frontDoor?.destroy();
    frontDoor = new FrontDoor(harness.gateway, options);
    port = (await frontDoor.listen({ host: '127.0.0.1', port: 0 })).port;
  }

  before(async () => {
    const held: Array<() => void> = [];
    releaseHeld = () => {
      for (const go of held.splice(0)) go();
    };
    harness = await startHarness({
      policy: createVendorPolicy('gitlab'),
      parallelism: 1,
      gateway: { queueTimeoutMs: 300 },
      vcs(req, res) {
        req.resume();
        const answer = (): void => {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 });
          res.end('{}');
        };
        if ((req.url ?? '').includes('slow')) held.push(answer);
        else answer();
      },
    });
    await createPool(harness.store, { name: 'no-agent-pool', description: 'spec pool without agents', gatewayUrl: harness.gatewayUrl });
  });
  beforeEach(() => openFrontDoor());
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
    releaseHeld();
  });
  after(async () => {
    frontDoor.destroy();
    await harness.close();
  });

  it('reads the 403 of an octet-stream POST to a GitLab commits path, and the connection serves the next request', async () => {
    const { answer, socket } = await uploadThenRead(port, `/${harness.pool}${COMMITS}`);
    sockets.push(socket);
    expect(answer.status).to.equal(403);
    expect(JSON.parse(answer.body).error.code).to.equal('VCS_DENIED');
    // The rest of the body was read and discarded: the connection is still in step.
    const again = await uploadThenRead(port, `/${harness.pool}${COMMITS}`, { socket, chunked: true });
    expect(again.answer.status).to.equal(403);
    expect(harness.vcsRequests.filter((request) => request.url.includes('commits'))).to.have.length(0);
  });

  for (const [what, options] of [
    ['Connection: close', { headers: ['Connection: close'] }],
    ['HTTP/1.0', { version: '1.0' }],
  ] as const) {
    it(`reads the 403 when the caller asked to close the connection (${what}), then the connection closes`, async () => {
      // Node destroys such a connection as soon as the answer is out; with the body unread
      // that was a reset, and this caller got `write EPIPE` instead of the 403.
      const { answer, socket } = await uploadThenRead(port, `/${harness.pool}${COMMITS}`, options);
      sockets.push(socket);
      expect(answer.status).to.equal(403);
      expect(JSON.parse(answer.body).error.code).to.equal('VCS_DENIED');
      await new Promise<void>((resolve, reject) => {
        if (socket.destroyed) return resolve();
        const timer = setTimeout(() => reject(new Error('the connection stayed open after the answer')), 10_000);
        socket.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    });
  }

  it('reads the 407 of a caller without the front-door token (keep-alive, and Connection: close)', async () => {
    await openFrontDoor({ token: TOKEN });
    const closing = await uploadThenRead(port, `/${harness.pool}${COMMITS}`, { headers: ['Connection: close'] });
    sockets.push(closing.socket);
    expect(closing.answer.status).to.equal(407);
    const { answer, socket } = await uploadThenRead(port, `/${harness.pool}${COMMITS}`, { chunked: true });
    sockets.push(socket);
    expect(answer.status).to.equal(407);
    expect(answer.headers['vcs-gateway-error']).to.equal('VCS_UNAUTHORIZED');
  });

  it('reads the 503 of a pool without an agent and the 404 of an unknown pool', async () => {
    const noAgent = await uploadThenRead(port, `/no-agent-pool${COMMITS}`);
    sockets.push(noAgent.socket);
    expect(noAgent.answer.status).to.equal(503);
    expect(noAgent.answer.headers['vcs-gateway-error']).to.equal('VCS_NO_AGENT');
    const unknown = await uploadThenRead(port, `/no-such-pool${COMMITS}`, { socket: noAgent.socket });
    expect(unknown.answer.status).to.equal(404);
    expect(unknown.answer.headers['vcs-gateway-error']).to.equal('VCS_POOL_NOT_FOUND');
  });

  it('reads the 503 of a busy pool', async () => {
    // The pool's one stream is held by a slow request, so the upload waits in the queue and times out.
    const slow = harness.request('/api/v4/projects/group%2Fslow');
    const { answer, socket } = await uploadThenRead(port, `/${harness.pool}/api/v4/projects/group%2Frepo/repository/files/x`, { headers: ['Connection: close'] });
    sockets.push(socket);
    expect(answer.status).to.equal(503);
    expect(answer.headers['vcs-gateway-error']).to.equal('VCS_POOL_BUSY');
    releaseHeld();
    expect((await slow).status).to.equal(200);
  });

  it('past maxDiscardBytes, still lets a caller that reads while it writes read its answer, then closes', async () => {
    await openFrontDoor({ maxDiscardBytes: 1024 * 1024 });
    const socket = connect({ host: '127.0.0.1', port });
    sockets.push(socket);
    socket.on('error', () => {}); // the writes past the answer fail once the front door closes
    const answer = readResponse(socket, 20_000, 'a 16 MiB upload past the discard bound');
    socket.write([`POST /${harness.pool}${COMMITS} HTTP/1.1`, 'Host: front-door', 'Content-Type: application/octet-stream', `Content-Length: ${BODY_BYTES}`, '', ''].join('\r\n'));
    socket.write(Buffer.alloc(BODY_BYTES, 0x5a));
    const result = await answer;
    expect(result.status).to.equal(403);
    // The connection is closed (gracefully, after lingering), not left open.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the connection stayed open past the lingering close')), 10_000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.resume();
    });
  });
});
