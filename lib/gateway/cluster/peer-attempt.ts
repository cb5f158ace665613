import { constants as h2, sensitiveHeaders, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import type { Readable } from 'node:stream';
import { PeerFailedError, ProtocolError, RequestAbortedError, TunnelStreamError, type VcsAgentError } from '../../errors.js';
import { decodeResponseHead } from '../../protocol/frame.js';
import type { ForwardedCarrier, LoggedExchange } from '../access-record.js';
import type { ExchangeRequest } from '../exchange.js';
import type { ExchangeControl } from '../gateway-types.js';
import type { PeerCandidate } from './live-registry.js';
import { HANDED_STATUS, PEER_HEADER, PEER_PATH, asciiJson, parsePeerError, peerErrorToError, single } from './peer-protocol.js';
import { listenToBody } from '../../util/request-body.js';

/** What an attempt needs of the request it belongs to and of the forwarder. */
export interface AttemptOwner {
  readonly request: ExchangeRequest;
  readonly handler: LoggedExchange;
  readonly replicaId: string;
  readonly token: string;
  /** GatewayOptions.onBodyChunk: body bytes relayed through the peer hop count too. */
  readonly onBodyChunk: ((bytes: number) => void) | undefined;
  /** The peer did not take the request (it said so, or nothing reached it): try elsewhere. */
  retry(attempt: PeerAttempt, reason: string): void;
  /** The attempt is over, whatever its end (for the in-flight count per peer). */
  settled(attempt: PeerAttempt): void;
  /** The peer refused our peer token: a configuration error, skip it for a while. */
  refusedToken(url: string): void;
}

/*
 * RFC 9110 §9.2.2: a client may retry an idempotent request automatically when the
 * connection fails before it received the response. The body is never at stake here: it is
 * only sent once the peer said an agent took the request.
 */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

type State = 'opening' | 'sent' | 'handed' | 'responding' | 'done';

/**
 * One try at serving a request through one peer replica, on one stream of the session to it.
 * `opening`: waiting for the session (nothing sent); `sent`: the head is out, no agent has it
 * yet as far as we know; `handed`: the peer said an agent took it (102), the body streams;
 * `responding`: the response head came and went to the caller. Only `opening` and a peer
 * that says it did not take the request (refused answer, REFUSED_STREAM) are retried
 * elsewhere, and a lost peer in `sent` for an idempotent method; every other failure is final.
 */
export class PeerAttempt implements ExchangeControl {
  readonly url: string;
  private state: State = 'opening';
  private stream: ClientHttp2Stream | undefined;
  /** The session `stream` rides on (a stream forgets it once closed). */
  private session: ClientHttp2Session | undefined;
  private carrier: ForwardedCarrier;
  private status = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  private body: Readable | undefined;
  /** Stops listening to `body` (listenToBody). */
  private stopBody: (() => void) | undefined;
  /** The peer's `vcs-peer-end` trailer came: the response is whole. */
  private whole = false;

  constructor(
    private readonly owner: AttemptOwner,
    readonly target: PeerCandidate,
    session: Promise<ClientHttp2Session>,
  ) {
    this.url = target.peerUrl;
    this.carrier = { replicaId: target.replicaId };
    session.then(
      (reached) => this.send(reached),
      (error: unknown) => {
        if (this.state !== 'opening') return;
        this.close();
        this.owner.retry(this, error instanceof Error ? error.message : String(error));
      },
    );
  }

  abort(error: VcsAgentError = new RequestAbortedError()): void {
    if (this.state === 'done') return;
    this.fail(error);
  }

  resume(): void {
    if (this.state === 'responding') this.stream?.resume();
  }

  private send(session: ClientHttp2Session): void {
    if (this.state !== 'opening') return;
    const { request } = this.owner;
    const idle = request.bodyIdleTimeoutMs ?? 0;
    let stream: ClientHttp2Stream;
    try {
      stream = session.request(
        {
          ':method': 'POST',
          ':path': PEER_PATH,
          [PEER_HEADER.token]: this.owner.token,
          [PEER_HEADER.from]: this.owner.replicaId,
          [PEER_HEADER.pool]: request.pool,
          [PEER_HEADER.head]: asciiJson({ id: request.id, method: request.method, path: request.path, headers: request.rawHeaders, body: request.body !== null }),
          ...(idle > 0 ? { [PEER_HEADER.bodyIdle]: String(idle) } : {}),
          // Never indexed by HPACK (RFC 7541 §7.1.3): the token stays out of both compression tables.
          [sensitiveHeaders]: [PEER_HEADER.token],
        },
        { endStream: request.body === null },
      );
    } catch (error) {
      // The session is closing (GOAWAY) or gone: nothing was sent.
      this.close();
      return this.owner.retry(this, error instanceof Error ? error.message : String(error));
    }
    this.state = 'sent';
    this.stream = stream;
    this.session = session;
    stream.on('error', () => {}); // told through 'close' and its rstCode
    stream.on('headers', (headers: IncomingHttpHeaders) => {
      if (Number(headers[':status']) === HANDED_STATUS && this.state === 'sent') this.handed(headers);
    });
    stream.on('response', (headers: IncomingHttpHeaders) => this.onResponse(headers));
    stream.on('data', (chunk: Buffer) => {
      if (this.state !== 'responding') return;
      this.bytesIn += chunk.length;
      this.owner.onBodyChunk?.(chunk.length);
      if (!this.owner.handler.onData(chunk)) stream.pause();
    });
    stream.on('trailers', (trailers: IncomingHttpHeaders) => {
      if (single(trailers, PEER_HEADER.end) === 'complete') this.whole = true;
    });
    stream.on('end', () => this.onEnd());
    stream.on('close', () => this.onClose());
  }

  private handed(headers: IncomingHttpHeaders): void {
    this.state = 'handed';
    try {
      const info = JSON.parse(single(headers, PEER_HEADER.handed) ?? '') as { connectionId?: unknown; agentId?: unknown };
      if (typeof info.connectionId === 'string' && typeof info.agentId === 'string') {
        this.carrier = { replicaId: this.target.replicaId, connection: { id: info.connectionId.slice(0, 128), agentId: info.agentId.slice(0, 256) } };
      }
    } catch {
      // The record goes without the agent; the request is handed all the same.
    }
    this.sendBody();
  }

  private onResponse(headers: IncomingHttpHeaders): void {
    if (this.state === 'done') return;
    const error = single(headers, PEER_HEADER.error);
    if (error !== undefined) {
      const body = parsePeerError(error) ?? { code: 'VCS_PROTOCOL_ERROR', message: 'The peer replica answered with a malformed error', refused: false };
      if (this.state === 'sent' && (body.refused || body.code === 'VCS_PEER_UNAUTHORIZED')) {
        this.close();
        if (body.code === 'VCS_PEER_UNAUTHORIZED') this.owner.refusedToken(this.url);
        return this.owner.retry(this, body.code);
      }
      return this.fail(peerErrorToError(body, this.owner.request.pool), this.state === 'sent');
    }
    let status: number;
    let raw: string[];
    try {
      ({ status, headers: raw } = decodeResponseHead(JSON.parse(single(headers, PEER_HEADER.head) ?? '')));
    } catch {
      return this.fail(new ProtocolError(`Malformed response head from the peer replica ${this.target.replicaId}`));
    }
    if (this.state === 'sent') this.handed(headers);
    this.state = 'responding';
    this.status = status;
    this.owner.handler.onHeaders(status, raw);
  }

  private onEnd(): void {
    if (this.state !== 'responding') return;
    // Without the trailer the peer cut the response short (see peer-protocol.ts): never a clean end.
    if (!this.whole) return this.cutShort();
    this.close();
    this.owner.handler.onForwardSettled(this.carrier, { status: this.status, bytesIn: this.bytesIn, bytesOut: this.bytesOut });
    this.owner.handler.onComplete();
  }

  private onClose(): void {
    if (this.state === 'done') return;
    const stream = this.stream as ClientHttp2Stream;
    const id = this.target.replicaId;
    const method = this.owner.request.method;
    if (this.state === 'sent') {
      // The peer said it did not process the stream (RFC 9113 §8.7), or the link broke before it
      // said anything: an idempotent request is safe to send again, another is not.
      if (stream.rstCode === h2.NGHTTP2_REFUSED_STREAM || IDEMPOTENT.has(method)) {
        this.close();
        return this.owner.retry(this, stream.rstCode === h2.NGHTTP2_REFUSED_STREAM ? 'refused stream' : 'peer lost before an agent took the request');
      }
      return this.fail(new PeerFailedError(id, `The replica ${id} the request was forwarded to was lost before it told whether an agent had taken it; a ${method.slice(0, 16)} request is not sent twice`));
    }
    if (this.state === 'responding') return this.cutShort();
    this.fail(new PeerFailedError(id, `The replica ${id} the request was forwarded to was lost after an agent took the request (HTTP/2 code ${stream.rstCode ?? 'none'})`));
  }

  /**
   * The response stopped before its end: the peer reported its agent stream broke (its session
   * is alive), or the link to the peer was lost.
   */
  private cutShort(): void {
    const stream = this.stream as ClientHttp2Stream;
    const id = this.target.replicaId;
    const session = this.session as ClientHttp2Session;
    if (!session.destroyed && !session.closed) return this.fail(new TunnelStreamError(`The response broke off on replica ${id} (its agent stream failed)`));
    this.fail(new PeerFailedError(id, `The replica ${id} the request was forwarded to was lost in the middle of the response (HTTP/2 code ${stream.rstCode ?? 'none'})`));
  }

  /** Ends the attempt with `error`: one record here (naming the peer once the request reached it), then the caller hears. */
  private fail(error: VcsAgentError, rejected = false): void {
    const reached = this.state !== 'opening';
    this.close();
    if (reached) this.owner.handler.onForwardSettled(this.carrier, { status: this.status, bytesIn: this.bytesIn, bytesOut: this.bytesOut, error }, rejected);
    this.owner.handler.onError(error);
  }

  /** Done: the body is let go, the stream cancelled if still open (an early answer, a failure). */
  private close(): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.detachBody();
    const stream = this.stream;
    // Both sides ended (a whole response to a whole request): the stream closes by itself. A
    // RST_STREAM there would count toward the peer's rapid-reset limit (nghttp2 >= 1.57, the
    // CVE-2023-44487 fix: a burst of 1,000, then 33 a second), past which it ends the session
    // with GOAWAY: every ~1,000 forwarded requests, bench/scale.ts found.
    if (stream !== undefined && !stream.closed && !stream.destroyed && !(stream.readableEnded && stream.writableEnded)) stream.close(h2.NGHTTP2_CANCEL);
    this.owner.settled(this);
  }

  private sendBody(): void {
    const stream = this.stream as ClientHttp2Stream;
    const body = this.owner.request.body;
    if (body === null) return;
    if (Buffer.isBuffer(body)) {
      this.bytesOut = body.length;
      stream.end(body);
      return;
    }
    if (body.destroyed || body.readableEnded) return this.fail(new RequestAbortedError('The request body stream was already destroyed or consumed'));
    this.body = body;
    this.stopBody = listenToBody(body, { onData: this.onBodyData, onEnd: this.onBodyEnd, onError: this.onBodyError });
  }

  private readonly onBodyData = (chunk: Buffer | string): void => {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.bytesOut += buffer.length;
    this.owner.onBodyChunk?.(buffer.length);
    const stream = this.stream as ClientHttp2Stream;
    if (!stream.write(buffer)) {
      this.body?.pause();
      stream.once('drain', this.drainBody);
    }
  };

  private readonly drainBody = (): void => {
    this.body?.resume();
  };

  private readonly onBodyEnd = (): void => {
    this.detachBody();
    const stream = this.stream as ClientHttp2Stream;
    if (!stream.destroyed) stream.end();
  };

  private readonly onBodyError = (error: Error): void => {
    this.detachBody();
    if (this.state !== 'done') this.fail(new RequestAbortedError('The request body failed before it was complete', { cause: error }));
  };

  private detachBody(): void {
    if (this.body === undefined) return;
    this.body = undefined;
    this.stopBody?.();
    this.stopBody = undefined;
    this.stream?.off('drain', this.drainBody);
  }
}
