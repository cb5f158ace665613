import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { Agent as HttpAgent, createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { nodeHttpUpstream } from '../../lib/agent/upstream-node-http.js';
import type { UpstreamHandler } from '../../lib/agent/upstream-request.js';
import { digestStream } from '../helpers/bodies.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const CHUNK = 16 * 1024;

/** An http.Agent that hands out the sockets it creates. */
class TrackingAgent extends HttpAgent {
  readonly sockets_: Socket[] = [];
  override createConnection(...args: Parameters<HttpAgent['createConnection']>): ReturnType<HttpAgent['createConnection']> {
    const socket = super.createConnection(...args);
    this.sockets_.push(socket as Socket);
    return socket;
  }
}

describe('node:http VCS client: a turn of upload chunks leaves as one write (lib/agent/upstream-node-http.ts)', function () {
  let server: Server;
  let origin: URL;

  before(async () => {
    // Answers with the byte count and SHA-256 of the (chunked) body it parsed.
    server = createServer((req, res) => {
      void digestStream(req).then((answer) => res.end(JSON.stringify(answer)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  function upload(agent: HttpAgent): { request: ReturnType<ReturnType<typeof nodeHttpUpstream>['request']>; answer: Promise<{ status: number; body: string }> } {
    let resolveAnswer: (value: { status: number; body: string }) => void = () => {};
    let rejectAnswer: (error: Error) => void = () => {};
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      resolveAnswer = resolve;
      rejectAnswer = reject;
    });
    let status = 0;
    const chunks: Buffer[] = [];
    const handler: UpstreamHandler = {
      onResponse: (code) => (status = code),
      onData: (chunk) => chunks.push(chunk) > 0,
      onEnd: () => resolveAnswer({ status, body: Buffer.concat(chunks).toString() }),
      onError: rejectAnswer,
      onDrain: () => {},
    };
    const request = nodeHttpUpstream(agent, 5000).request({ origin, method: 'POST', path: '/upload', headers: ['host', origin.host, 'transfer-encoding', 'chunked'], body: 'stream' }, handler);
    return { request, answer };
  }

  const expected = (chunks: number): { bytes: number; digest: string } => {
    const hash = createHash('sha256');
    for (let i = 0; i < chunks; i++) hash.update(Buffer.alloc(CHUNK, i));
    return { bytes: chunks * CHUNK, digest: hash.digest('hex') };
  };

  it('corks the socket for the turn once it is assigned, and the VCS parses every chunk in order', async () => {
    const agent = new TrackingAgent({ keepAlive: true });
    const { request, answer } = upload(agent);
    request.write(Buffer.alloc(CHUNK, 0)); // before the socket is assigned: node:http buffers it
    // node:http creates the socket inside the request's constructor.
    const socket = agent.sockets_[0] as Socket;
    expect(socket, 'the agent opened a socket').to.not.equal(undefined);
    if (socket.connecting) await new Promise((resolve) => socket.once('connect', resolve));
    await turn(); // the request takes its socket on a nextTick
    // Each chunk in its own tick, as each DATA frame comes in its own native callback: node:http
    // corks only until the next tick by itself, so without the turn's cork each chunk would
    // leave alone.
    await new Promise<void>((resolve) => {
      const writeFrom = (i: number): void => {
        request.write(Buffer.alloc(CHUNK, i));
        if (i === 16) resolve();
        else process.nextTick(writeFrom, i + 1);
      };
      writeFrom(1);
    });
    expect(socket.writableCorked, 'corked for the turn').to.equal(1);
    expect(socket.writableLength, 'the turn’s chunks held together').to.be.at.least(16 * CHUNK);
    await turn();
    expect(socket.writableCorked).to.equal(0);
    request.end();
    expect(JSON.parse((await answer).body)).to.deep.equal(expected(17));
    agent.destroy();
  });

  it('ends the body in the same turn as its last chunks with the chunked framing intact', async () => {
    const agent = new TrackingAgent({ keepAlive: true });
    // Warm the connection so the socket is assigned at once.
    const first = upload(agent);
    first.request.end();
    await first.answer;
    const { request, answer } = upload(agent);
    await turn();
    for (let i = 0; i < 8; i++) request.write(Buffer.alloc(CHUNK, i));
    request.end();
    const result = await answer;
    expect(result.status).to.equal(200);
    expect(JSON.parse(result.body)).to.deep.equal(expected(8));
    agent.destroy();
  });
});
