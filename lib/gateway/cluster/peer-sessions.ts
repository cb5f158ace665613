import { connect, type ClientHttp2Session } from 'node:http2';
import { openWindows } from '../../protocol/flow-window.js';
import { bindClientSessionSocket, destroySession } from '../../protocol/session-socket.js';
import { MAX_CONCURRENT_STREAMS, MAX_SESSION_MEMORY_MB, localSettings } from '../../protocol/http2-settings.js';
import type { PeerTlsOptions } from './peer-options.js';

/** Options of {@link PeerSessions}. */
export interface PeerSessionsOptions {
  /** Bound on reaching a peer: TCP connect and its first SETTINGS frame (default 1 000 ms). */
  connectTimeoutMs: number;
  /** How often an open session is PINGed (default 1 000 ms). */
  pingIntervalMs: number;
  /** A PING unanswered this long destroys the session: the peer is frozen or cut off (default 2 000 ms). */
  pingTimeoutMs: number;
  /** How long a peer that could not be reached is skipped (default 3 000 ms). */
  downMs: number;
  /** Mutual TLS to every peer (`https://` URLs only); without it, cleartext (`http://` only). */
  tls?: PeerTlsOptions | undefined;
}

/** Why a session could not be had: nothing was sent to the peer. */
export class PeerConnectError extends Error {}

interface Entry {
  session: ClientHttp2Session;
  ready: Promise<ClientHttp2Session>;
}

/**
 * One HTTP/2 session per peer replica, opened on first use and kept: forwarded requests are
 * streams on it. A session counts as reached once the peer's SETTINGS arrived, not at TCP
 * connect: a frozen (SIGSTOP) process still completes handshakes from its listen backlog, and
 * a peer that never sent SETTINGS never read a request either. Open sessions are PINGed, so
 * one whose peer froze is destroyed within `pingIntervalMs + pingTimeoutMs` and its streams
 * fail instead of hanging.
 */
export class PeerSessions {
  private readonly entries = new Map<string, Entry>();
  /** Peer URL → time until which it is skipped. */
  private readonly down = new Map<string, number>();
  private closing = false;

  constructor(private readonly options: PeerSessionsOptions) {}

  /** New sessions present `tls` from now on (a renewed certificate); open ones keep theirs. */
  setTls(tls: PeerTlsOptions): void {
    this.options.tls = tls;
  }

  /** Whether `url` failed recently and is skipped for now. */
  isDown(url: string): boolean {
    const until = this.down.get(url);
    if (until === undefined) return false;
    if (until > performance.now()) return true;
    this.down.delete(url);
    return false;
  }

  /** Skips `url` for `downMs`, and drops its session. */
  markDown(url: string, session?: ClientHttp2Session): void {
    this.down.set(url, performance.now() + this.options.downMs);
    const entry = this.entries.get(url);
    if (entry !== undefined && (session === undefined || entry.session === session)) this.entries.delete(url);
    const dropped = session ?? entry?.session;
    if (dropped !== undefined) destroySession(dropped);
  }

  /** A reached session to `url`, opening one if needed; rejects with {@link PeerConnectError}. */
  get(url: string): Promise<ClientHttp2Session> {
    const known = this.entries.get(url);
    if (known !== undefined && !known.session.closed && !known.session.destroyed) return known.ready;
    if (this.closing) return Promise.reject(new PeerConnectError('The forwarder is closed'));
    const tls = this.options.tls;
    // Never downgraded: a replica with peer TLS does not send a request (and its credentials)
    // to a peer advertising cleartext, and one without cannot check a TLS peer.
    if (url.startsWith('https:') !== (tls !== undefined)) {
      return Promise.reject(new PeerConnectError(`The peer replica at ${url} ${tls === undefined ? 'speaks TLS and this replica has no peer TLS' : 'speaks cleartext and this replica requires peer TLS'}: give every replica the same peer TLS settings`));
    }
    const session = connect(url, {
      settings: { ...localSettings, maxConcurrentStreams: MAX_CONCURRENT_STREAMS },
      maxSessionMemory: MAX_SESSION_MEMORY_MB,
      peerMaxConcurrentStreams: MAX_CONCURRENT_STREAMS,
      ...(tls === undefined ? {} : { cert: tls.cert, key: tls.key, ca: tls.ca, ...(tls.servername === undefined ? {} : { servername: tls.servername }) }),
    });
    bindClientSessionSocket(session);
    const entry: Entry = { session, ready: this.reach(url, session) };
    this.entries.set(url, entry);
    const forget = (): void => {
      if (this.entries.get(url) === entry) this.entries.delete(url);
    };
    session.once('close', forget);
    // A GOAWAY: streams it did not take are refused by nghttp2 (REFUSED_STREAM); new ones go to a fresh session.
    session.once('goaway', forget);
    entry.ready.catch(() => forget());
    return entry.ready;
  }

  /** Graceful: open streams finish, no new session opens. */
  close(): void {
    this.closing = true;
    for (const { session } of this.entries.values()) session.close();
    this.entries.clear();
  }

  destroy(): void {
    this.closing = true;
    for (const { session } of this.entries.values()) destroySession(session);
    this.entries.clear();
  }

  private reach(url: string, session: ClientHttp2Session): Promise<ClientHttp2Session> {
    session.on('error', () => {}); // reported through 'close' and the streams
    session.unref();
    return new Promise<ClientHttp2Session>((resolve, reject) => {
      const fail = (reason: string): void => {
        clearTimeout(timer);
        destroySession(session);
        reject(new PeerConnectError(`Cannot reach the peer replica at ${url}: ${reason}`));
      };
      const timer = setTimeout(() => fail(`no HTTP/2 SETTINGS within ${this.options.connectTimeoutMs} ms`), this.options.connectTimeoutMs);
      timer.unref();
      session.once('error', (error: NodeJS.ErrnoException) => fail(error.code ?? error.message));
      session.once('close', () => fail('connection closed'));
      session.once('connect', () => openWindows(session));
      session.once('remoteSettings', () => {
        clearTimeout(timer);
        this.keepAlive(url, session);
        resolve(session);
      });
    });
  }

  private keepAlive(url: string, session: ClientHttp2Session): void {
    let waiting = false;
    const timer = setInterval(() => {
      if (session.destroyed || session.closed) return clearInterval(timer);
      if (waiting) return;
      waiting = true;
      const deadline = setTimeout(() => this.markDown(url, session), this.options.pingTimeoutMs);
      deadline.unref();
      try {
        session.ping(() => {
          waiting = false;
          clearTimeout(deadline);
        });
      } catch {
        waiting = false;
        clearTimeout(deadline);
      }
    }, this.options.pingIntervalMs);
    timer.unref();
    session.once('close', () => clearInterval(timer));
  }
}
