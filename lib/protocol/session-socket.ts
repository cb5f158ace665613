import type { EventEmitter } from 'node:events';
import type { ClientHttp2Session, Http2Session } from 'node:http2';
import type { Socket } from 'node:net';

/*
 * Why a session's socket is kept: Node closes a destroyed HTTP/2 session's socket only once
 * the write in progress on it has completed (internal/http2/core.js, finishSessionClose:
 * "Always wait for writable side to finish"). A peer that is alive but reads nothing (a
 * frozen process whose kernel still ACKs, or the full-duplex stall of docs/protocol.md)
 * never lets that write complete: the socket, its descriptor and the bytes queued on it
 * stayed for ever, and the session never emitted 'close'. `session.socket` is a proxy that
 * refuses `destroy()` (ERR_HTTP2_NO_SOCKET_MANIPULATION), so the socket is taken from the
 * events that hand it over: the client's 'connect', the server's connection events.
 */
const sockets = new WeakMap<Http2Session, Socket>();

/**
 * How long a destroyed session's socket may take to close on its own. A session's own close
 * (GOAWAY, then FIN once queued frames are written) takes milliseconds on a live link, and
 * one RTT's worth of queued data over a WAN link well under this; a socket still open after
 * it is stuck behind a peer that does not read.
 */
export const SOCKET_CLOSE_GRACE_MS = 1_000;

/** Records the socket a client session runs on, which its 'connect' event hands over. Call before it connects. */
export function bindClientSessionSocket(session: ClientHttp2Session): void {
  session.once('connect', (_session, socket) => sockets.set(session, socket as Socket));
}

function peerOf(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined } | undefined): string | undefined {
  return socket?.remoteAddress === undefined || socket.remotePort === undefined ? undefined : `${socket.remoteAddress}|${socket.remotePort}`;
}

/**
 * Records, for every session an HTTP/2 server makes, the socket it runs on: the one from
 * `event` ('connection' for cleartext, 'secureConnection' for TLS) with the same peer
 * address and port. Matched by peer rather than by order, so no assumption is made about
 * when Node emits 'session' relative to that event.
 */
export function bindServerSessionSockets(server: EventEmitter, event: 'connection' | 'secureConnection'): void {
  const byPeer = new Map<string, Socket>();
  server.prependListener(event, (socket: Socket) => {
    const peer = peerOf(socket);
    if (peer === undefined) return;
    byPeer.set(peer, socket);
    socket.once('close', () => {
      if (byPeer.get(peer) === socket) byPeer.delete(peer);
    });
  });
  server.on('session', (session: Http2Session) => {
    const peer = peerOf(session.socket);
    const socket = peer === undefined ? undefined : byPeer.get(peer);
    if (peer === undefined || socket === undefined) return;
    byPeer.delete(peer);
    sockets.set(session, socket);
  });
}

/**
 * `session.destroy()`, then its socket if that is still open SOCKET_CLOSE_GRACE_MS later
 * (see above). Safe on a session already destroyed: its socket may be the one stuck.
 */
export function destroySession(session: Http2Session): void {
  if (!session.destroyed) session.destroy();
  const socket = sockets.get(session);
  if (socket === undefined || socket.destroyed) return;
  const timer = setTimeout(() => socket.destroy(), SOCKET_CLOSE_GRACE_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
