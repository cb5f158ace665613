import { expect } from 'chai';
import { connect as http2Connect, createServer as createH2Server, type ClientHttp2Session, type Http2Session, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { createServer as createNetServer, connect as netConnect, type AddressInfo, type Server, type Socket } from 'node:net';
import { dialGateway } from '../../lib/agent/gateway-dial.js';
import type { TunnelClientOptions } from '../../lib/agent/tunnel-client-options.js';
import { createAgentServer } from '../../lib/gateway/agent-server.js';
import { SOCKET_CLOSE_GRACE_MS, destroySession } from '../../lib/protocol/session-socket.js';
import { nextEvent, waitFor } from '../helpers/wait-for.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** The largest HTTP/2 window (RFC 9113 §6.9.1): the sender is held by the socket alone. */
const MAX_WINDOW = 2 ** 31 - 1;

/**
 * A TCP relay in front of `targetPort` that stops reading one direction once `afterBytes`
 * have passed, as a frozen peer does: its kernel ACKs, then advertises a zero window.
 */
async function startStallingRelay(targetPort: number, stall: 'from-target' | 'from-client', afterBytes: number) {
  const sockets: Socket[] = [];
  let stalled!: () => void;
  const stalledOnce = new Promise<void>((resolve) => (stalled = resolve));
  const server: Server = createNetServer((client) => {
    const target = netConnect(targetPort, '127.0.0.1');
    sockets.push(client, target);
    for (const socket of [client, target]) socket.on('error', () => {});
    const [from, to] = stall === 'from-target' ? [target, client] : [client, target];
    let passed = 0;
    from.on('data', (chunk: Buffer) => {
      to.write(chunk);
      passed += chunk.length;
      if (passed >= afterBytes) {
        from.pause();
        stalled();
      }
    });
    to.pipe(from);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    stalled: stalledOnce,
    close(): void {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

/**
 * Writes `total` bytes on `stream` without waiting for 'drain', and resolves once no byte
 * has left the stream's buffer for 50 ms: the session's socket write is stuck behind the
 * stalled relay (on loopback a moving transfer empties a 16 KiB chunk in microseconds).
 */
async function writeUntilStuck(stream: { write(chunk: Buffer): boolean; readonly writableLength: number }, total: number): Promise<void> {
  const chunk = Buffer.alloc(16 * KiB, 's');
  for (let written = 0; written < total; written += chunk.length) stream.write(chunk);
  let last = -1;
  let since = performance.now();
  await waitFor(
    () => {
      const now = performance.now();
      if (stream.writableLength !== last) {
        last = stream.writableLength;
        since = now;
        return false;
      }
      return last > 0 && now - since >= 50;
    },
    10_000,
    'the session to stop writing',
  );
}

/** Resolves with how long `emitter` took to emit 'close', or rejects after `timeoutMs`. */
async function closesWithin(emitter: NodeJS.EventEmitter, timeoutMs: number): Promise<number> {
  const started = performance.now();
  await nextEvent(emitter, 'close', timeoutMs);
  return performance.now() - started;
}

// Node closes a destroyed session's socket only once the write in progress completes; a
// peer that reads nothing never lets it. destroySession() closes the socket itself.
describe('destroySession: a session whose socket write is stuck behind a peer that does not read', function () {
  this.timeout(30_000);
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  it('gateway side (the agent listener): the socket closes within the grace period, and the session emits close', async function () {
    const server = createAgentServer(undefined);
    cleanups.push(() => server.close());
    let serverSocket: Socket | undefined;
    server.on('connection', (socket: Socket) => (serverSocket = socket));
    let serverSession: ServerHttp2Session | undefined;
    let serverStream: ServerHttp2Stream | undefined;
    server.on('session', (session: ServerHttp2Session) => {
      serverSession = session;
      session.on('error', () => {});
    });
    server.on('stream', (stream: ServerHttp2Stream) => {
      stream.on('error', () => {});
      stream.respond({ ':status': 200 });
      serverStream = stream;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const relay = await startStallingRelay((server.address() as AddressInfo).port, 'from-target', 2 * MiB);
    cleanups.push(() => relay.close());

    // A receiver granting the largest windows, as one over a long link may have grown them.
    const client = http2Connect(`http://127.0.0.1:${relay.port}`, { settings: { initialWindowSize: MAX_WINDOW } });
    cleanups.push(() => client.destroy());
    client.on('error', () => {});
    client.once('connect', () => client.setLocalWindowSize(MAX_WINDOW));
    const request = client.request({ ':path': '/stream' });
    request.on('error', () => {});
    request.resume();
    await waitFor(() => serverStream !== undefined, 5_000, 'the stream');
    await writeUntilStuck(serverStream as ServerHttp2Stream, 64 * MiB);
    await relay.stalled;

    const session = serverSession as Http2Session;
    const socketClosed = closesWithin(serverSocket as Socket, SOCKET_CLOSE_GRACE_MS + 4_000);
    const sessionClosed = closesWithin(session, SOCKET_CLOSE_GRACE_MS + 4_000);
    destroySession(session);
    // Closed by destroySession's timer, not by Node: the write was stuck, as meant.
    expect(await socketClosed).to.be.within(SOCKET_CLOSE_GRACE_MS - 50, SOCKET_CLOSE_GRACE_MS + 4_000);
    await sessionClosed;
    expect(session.destroyed).to.equal(true);
  });

  it('agent side (dialGateway): the socket closes within the grace period, and the session emits close', async function () {
    const gateway = createH2Server({ settings: { initialWindowSize: MAX_WINDOW } });
    cleanups.push(() => gateway.close());
    gateway.on('session', (session: ServerHttp2Session) => {
      session.on('error', () => {});
      session.once('connect', () => session.setLocalWindowSize(MAX_WINDOW));
    });
    gateway.on('stream', (stream: ServerHttp2Stream) => {
      stream.on('error', () => {});
      stream.resume();
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    const relay = await startStallingRelay((gateway.address() as AddressInfo).port, 'from-client', 2 * MiB);
    cleanups.push(() => relay.close());

    const options = { token: 'unused', target: 'http://127.0.0.1:1', policy: undefined } as unknown as TunnelClientOptions;
    const session: ClientHttp2Session = await dialGateway(new URL(`http://127.0.0.1:${relay.port}`), options, 5_000);
    session.on('error', () => {});
    const upload = session.request({ ':path': '/upload', ':method': 'POST' }, { endStream: false });
    upload.on('error', () => {});
    await writeUntilStuck(upload, 64 * MiB);
    await relay.stalled;

    const sessionClosed = closesWithin(session, SOCKET_CLOSE_GRACE_MS + 4_000);
    destroySession(session);
    // Node emits the session's 'close' when its socket has closed: here by destroySession's timer.
    expect(await sessionClosed).to.be.within(SOCKET_CLOSE_GRACE_MS - 50, SOCKET_CLOSE_GRACE_MS + 4_000);
    expect(session.destroyed).to.equal(true);
  });

  it('a session that closes normally is not waited on: its socket closes at once', async function () {
    const server = createAgentServer(undefined);
    cleanups.push(() => server.close());
    const sessions: ServerHttp2Session[] = [];
    server.on('session', (session: ServerHttp2Session) => sessions.push(session));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = http2Connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    client.on('error', () => {});
    await nextEvent(client, 'connect', 5_000);
    await waitFor(() => sessions.length === 1, 5_000, 'the server session');
    const clientClosed = nextEvent(client, 'close', 5_000);
    const started = performance.now();
    destroySession(sessions[0] as ServerHttp2Session);
    await clientClosed;
    expect(performance.now() - started).to.be.below(SOCKET_CLOSE_GRACE_MS);
  });
});
