import { constants as h2, createSecureServer, createServer, type Http2SecureServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { ClosedError, ForwardLoopError, PeerUnauthorizedError, ProtocolError, RequestAbortedError, type VcsAgentError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { decodeRequestHead, type RequestHead } from '../../protocol/frame.js';
import { openWindows } from '../../protocol/flow-window.js';
import { bindServerSessionSockets, destroySession } from '../../protocol/session-socket.js';
import { MAX_SESSION_MEMORY_MB, gatewaySettings } from '../../protocol/http2-settings.js';
import { listenServer } from '../../util/listen-server.js';
import type { ExchangeHandler, ExchangeRequest } from '../exchange.js';
import type { ExchangeControl } from '../gateway-types.js';
import { HTTP2_SERVER_LIMITS } from '../http2-server-limits.js';
import { HANDED_STATUS, PEER_HEADER, PEER_PATH, answerPeerError, asciiJson, refusedHere, single, type PeerToken } from './peer-protocol.js';
import type { PeerTlsOptions } from './peer-options.js';
import { RELAY_BUFFER_BYTES } from '../../protocol/http2-settings.js';

/** A session must present the right token on its first stream within this long, or it is closed. */
const UNAUTHENTICATED_SESSION_MS = 10_000;
const REPLICA_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Options of a {@link PeerListener}. */
export interface PeerListenerOptions {
  replicaId: string;
  token: PeerToken;
  /** The gateway's dispatch: a request marked `forwardedFrom` is served here or refused, never forwarded. */
  dispatch(request: ExchangeRequest, handler: ExchangeHandler): ExchangeControl;
  closing(): boolean;
  logger: Logger;
  /** Mutual TLS: this certificate, and peers must present one that chains to `ca`. */
  tls?: PeerTlsOptions | undefined;
}

/** Answers one forwarded request on its HTTP/2 stream. */
class PeerAnswer implements ExchangeHandler {
  control: ExchangeControl | undefined;
  finished = false;
  private handed = false;
  private completed = false;

  constructor(private readonly stream: ServerHttp2Stream) {
    // Only a completed exchange gets the trailer that tells the origin its response is whole.
    stream.on('wantTrailers', () => {
      if (this.completed && !stream.destroyed) stream.sendTrailers({ [PEER_HEADER.end]: 'complete' });
    });
  }

  onAssigned(connection: { readonly id: string; readonly agentId: string }): void {
    this.handed = true;
    if (!this.stream.destroyed) this.stream.additionalHeaders({ ':status': HANDED_STATUS, [PEER_HEADER.handed]: asciiJson({ connectionId: connection.id, agentId: connection.agentId }) });
  }

  onHeaders(status: number, rawHeaders: string[]): void {
    if (this.stream.destroyed) return;
    try {
      this.stream.respond({ ':status': status < 200 ? 502 : status, [PEER_HEADER.head]: asciiJson({ status, headers: rawHeaders, body: true }) }, { waitForTrailers: true });
    } catch {
      // A status HTTP/2 cannot carry as final (1xx): the head says it; the stream fails cleanly.
      this.stream.close(h2.NGHTTP2_INTERNAL_ERROR);
    }
  }

  onData(chunk: Buffer): boolean {
    const stream = this.stream;
    if (stream.destroyed) return true;
    if (stream.write(chunk) || stream.writableLength < RELAY_BUFFER_BYTES) return true;
    stream.once('drain', this.resume);
    return false;
  }

  onComplete(): void {
    this.finished = true;
    this.completed = true;
    if (!this.stream.destroyed) this.stream.end();
  }

  onError(error: VcsAgentError): void {
    this.finished = true;
    const stream = this.stream;
    if (stream.destroyed) return;
    // Mid-response: a reset, never a clean end, so the origin cannot take a cut body for a whole one.
    if (stream.headersSent) stream.close(h2.NGHTTP2_INTERNAL_ERROR);
    else answerPeerError(stream, error, !this.handed && refusedHere(error.code));
  }

  private readonly resume = (): void => this.control?.resume();
}

/**
 * A replica's listener for requests other replicas forward to it (`--peer-listen`): cleartext
 * HTTP/2, every stream authenticated with the peer token. A forwarded request is served by
 * this replica's agents or refused (`vcs-peer-error`, `refused` when no agent took it); it
 * is never forwarded again.
 */
export class PeerListener {
  private readonly server: Http2Server | Http2SecureServer;
  private readonly authenticated = new WeakSet<ServerHttp2Session>();
  private readonly sessions = new Set<ServerHttp2Session>();

  constructor(private readonly options: PeerListenerOptions) {
    const base = { ...HTTP2_SERVER_LIMITS, settings: gatewaySettings, maxSessionMemory: MAX_SESSION_MEMORY_MB };
    const tls = options.tls;
    // requestCert + rejectUnauthorized: a connection without a certificate from `ca` never gets
    // to HTTP/2, so the peer token is only ever sent over an authenticated channel.
    this.server =
      tls === undefined ? createServer(base) : createSecureServer({ ...base, cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: true, allowHTTP1: false });
    bindServerSessionSockets(this.server, tls === undefined ? 'connection' : 'secureConnection');
    this.server.on('session', (session) => this.onSession(session));
    this.server.on('stream', (stream, headers) => this.onStream(stream, headers));
  }

  /** New connections get `tls` from now on (a renewed certificate or CA); open ones keep theirs. */
  setTls(tls: PeerTlsOptions): void {
    if (!('setSecureContext' in this.server)) return;
    this.server.setSecureContext({ cert: tls.cert, key: tls.key, ca: tls.ca });
  }

  listen(options: { host?: string; port?: number }): Promise<AddressInfo> {
    return listenServer(this.server, options);
  }

  /** Stops accepting; open sessions get GOAWAY (streams not yet begun are refused, so their origin tries elsewhere) and finish. */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Node 24 closes the sessions with the server (nodejs/node#57586); earlier versions wait for them.
    for (const session of this.sessions) if (!session.closed) session.close();
    return closed;
  }

  destroy(): void {
    this.server.close();
    for (const session of this.sessions) destroySession(session);
  }

  private onSession(session: ServerHttp2Session): void {
    this.sessions.add(session);
    session.on('error', () => {}); // reported through 'close'
    session.once('connect', () => openWindows(session));
    const timer = setTimeout(() => {
      if (!this.authenticated.has(session)) destroySession(session);
    }, UNAUTHENTICATED_SESSION_MS);
    timer.unref();
    session.once('close', () => {
      clearTimeout(timer);
      this.sessions.delete(session);
    });
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', () => {});
    const session = stream.session as ServerHttp2Session;
    if (!this.options.token.matches(single(headers, PEER_HEADER.token))) {
      // The token is never logged: only that it was missing or wrong, and from where.
      this.options.logger.warn('peer request refused: missing or wrong peer token', { remoteAddress: `${session.socket?.remoteAddress ?? '?'}:${session.socket?.remotePort ?? '?'}` });
      answerPeerError(stream, new PeerUnauthorizedError(), false);
      // One answer per connection for a peer without the token.
      if (!this.authenticated.has(session)) session.close();
      return;
    }
    this.authenticated.add(session);
    let request: ExchangeRequest;
    try {
      request = this.parse(stream, headers);
    } catch (error) {
      return answerPeerError(stream, error as VcsAgentError, false);
    }
    if (this.options.closing()) return answerPeerError(stream, new ClosedError('This replica'), true);
    const answer = new PeerAnswer(stream);
    answer.control = this.options.dispatch(request, answer);
    stream.once('close', () => {
      if (!answer.finished) answer.control?.abort(new RequestAbortedError('The replica that forwarded the request cancelled it'));
    });
  }

  private parse(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): ExchangeRequest {
    if (headers[':method'] !== 'POST' || headers[':path'] !== PEER_PATH) throw new ProtocolError(`Expected POST ${PEER_PATH} on the peer listener`);
    const from = headers[PEER_HEADER.from];
    // The one-hop marker: exactly one replica, not this one. Two (a forwarded request marked
    // again) or this replica's own id would be a loop; refused, never served or passed on.
    if (Array.isArray(from) || (typeof from === 'string' && from.includes(','))) throw new ForwardLoopError(`The request was already forwarded (${String(from).slice(0, 200)}): at most one hop between replicas`);
    if (typeof from !== 'string' || !REPLICA_ID.test(from)) throw new ProtocolError(`A forwarded request needs one ${PEER_HEADER.from} header naming its replica`);
    if (from === this.options.replicaId) throw new ForwardLoopError(`The request was forwarded by this replica (${from}) to itself`);
    const pool = single(headers, PEER_HEADER.pool);
    let head: RequestHead;
    try {
      head = decodeRequestHead(JSON.parse(single(headers, PEER_HEADER.head) ?? ''));
    } catch {
      throw new ProtocolError(`A forwarded request needs one ${PEER_HEADER.head} header with its request head`);
    }
    if (pool === undefined || pool === '' || !REQUEST_ID.test(head.id)) throw new ProtocolError(`A forwarded request needs ${PEER_HEADER.pool} and a request id of letters, digits, '.', '_', ':' or '-'`);
    const idle = Number(single(headers, PEER_HEADER.bodyIdle) ?? 0);
    return {
      id: head.id,
      pool,
      method: head.method,
      path: head.path,
      rawHeaders: head.headers,
      body: head.body ? stream : null,
      startedAt: performance.now(),
      forwardedFrom: from,
      ...(Number.isInteger(idle) && idle > 0 ? { bodyIdleTimeoutMs: idle } : {}),
    };
  }
}
