import { randomUUID, createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  BodyIdleTimeoutError,
  HeadersTimeoutError,
  InvalidOptionError,
  RequestAbortedError,
  RequestTimeoutError,
  VcsAgentError,
} from '../errors.js';
import { contentLength } from '../protocol/content-length.js';
import { errorAnswer } from '../protocol/error-response.js';
import { stripHopByHop } from '../protocol/hop-by-hop.js';
import type { ExchangeHandler } from './exchange.js';
import type { ExchangeControl, Gateway } from './gateway.js';
import { splitPoolTarget } from './private-url.js';
import { listenServer } from '../util/listen-server.js';
import { RELAY_BUFFER_BYTES } from '../protocol/http2-settings.js';


/*
 * Defaults of the slow-caller bounds (issue 13, bug 5). Headers: 30 s is generous for a
 * few KiB on any link, and cuts a slowloris connection that trickles them. Body idle: 60 s
 * of silence in the middle of an upload (nginx's client_body_timeout) while the gateway is
 * reading it. Whole request: 300 s, Node's own requestTimeout default; it is what frees a
 * stream from a caller that sends one byte every few seconds (never idle for long), and
 * still lets a 100 MiB upload through at ~3 Mbit/s. Operators with bigger uploads raise it.
 */
const DEFAULT_HEADERS_TIMEOUT_MS = 30_000;
const DEFAULT_BODY_IDLE_TIMEOUT_MS = 60_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 300_000;
/** After an early answer, this much more of the body is read and discarded before the connection closes. */
const DEFAULT_MAX_DISCARD_BYTES = 64 * 1024 * 1024;
/*
 * Lingering close (RFC 9112 §9.6): after the last answer on a connection we close, keep
 * reading (and discarding) for this long before destroying the socket. Closing with unread
 * input makes the kernel send RST, which can erase the answer from the caller's receive
 * buffer before it reads it (the caller saw `write EPIPE`). 2 s is Apache httpd's
 * SECONDS_TO_LINGER.
 */
const LINGER_MS = 2_000;
/*
 * A caller that sent `Connection: close` hangs up once it has the body its Content-Length
 * declared, which can be before the tunnel's end reaches the gateway (the agent's
 * END_STREAM, or a peer replica's trailer, is one frame behind the last DATA; CI on Node 24
 * saw the caller win). That caller has its whole answer, so the exchange is given this long
 * to end as `completed` before it is aborted: ample for a frame queued behind a loaded event
 * loop, and short enough that an agent which never ends holds its stream only briefly.
 */
const END_AFTER_BODY_GRACE_MS = 5_000;

/** Codes answered with 408 and a closed connection: the caller was too slow to send its request. */
const TIMEOUT_CODES: ReadonlySet<string> = new Set(['VCS_HEADERS_TIMEOUT', 'VCS_BODY_IDLE_TIMEOUT', 'VCS_REQUEST_TIMEOUT']);

/** What the front door's own answers and bounds need of the request being served on a connection. */
interface RequestState {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  exchange: FrontDoorExchange | undefined;
}

/** The front door's side of an exchange: where the answer goes once the response or a failure is known. */
interface AnswerSink {
  /** The response was complete (or failed before its head): the rest of the request body is not needed. */
  answered(state: RequestState): void;
  /** A failure before any response byte. */
  answerError(state: RequestState, error: VcsAgentError): void;
}

/** Writes one tunnelled response onto an HTTP/1.1 response. */
class FrontDoorExchange implements ExchangeHandler {
  control: ExchangeControl | undefined;
  finished = false;
  private corked: Socket | undefined;
  private readonly res: ServerResponse;
  /** Body bytes the response's Content-Length still owes the caller; -1 without a declared length. */
  private owed = -1;
  private grace: NodeJS.Timeout | undefined;

  constructor(
    private readonly state: RequestState,
    private readonly sink: AnswerSink,
  ) {
    this.res = state.res;
  }

  onHeaders(status: number, rawHeaders: string[]): void {
    this.res.writeHead(status, rawHeaders);
    // HEAD, 204 and 304 answers reach the caller only with end(): nothing to count.
    const length = contentLength(rawHeaders);
    if (this.state.req.method !== 'HEAD' && status !== 204 && status !== 304 && length > 0) this.owed = length;
  }

  onData(chunk: Buffer): boolean {
    // Every DATA chunk nghttp2 hands over arrives in its own native callback, so a
    // nextTick uncork would flush each one alone (a 256 MiB response took ~18 000 writes of
    // ~14 KiB). Uncorking on setImmediate, after this loop turn's I/O callbacks, sends all
    // chunks that arrived in the turn as one writev.
    //
    // The socket is corked, not the response: since Node 22 a corked ServerResponse
    // buffers chunks itself, and end() while corked wrote the chunked terminator ahead of
    // them (curl: "Leftovers after chunking"); socket-level corking keeps each chunk's
    // framing in order, as on Node 20.
    const socket = this.res.socket;
    if (this.owed > 0) this.owed -= chunk.length;
    if (this.corked === undefined && socket !== null) {
      this.corked = socket;
      socket.cork();
      setImmediate(uncorkExchange, this);
    }
    // Pause the tunnel only past RELAY_BUFFER_BYTES, not at the response's 16 KiB mark: every
    // pause stops WINDOW_UPDATEs to the agent, and pausing on each 64 KiB frame turned bulk
    // transfers into stop-and-go. Memory stays bounded by the constant.
    if (this.res.write(chunk) || this.res.writableLength < RELAY_BUFFER_BYTES) return true;
    this.res.once('drain', () => this.control?.resume());
    return false;
  }

  /** The caller's connection closed while the exchange was still open. */
  callerGone(): void {
    if (this.finished || this.grace !== undefined) return;
    if (this.owed === 0) {
      this.grace = setTimeout(abortAfterGrace, END_AFTER_BODY_GRACE_MS, this);
      return;
    }
    this.control?.abort(new RequestAbortedError('The front-door client went away'));
  }

  /** The grace after a whole body ran out without the tunnel's end. */
  abortAfterGrace(): void {
    if (!this.finished) this.control?.abort(new RequestAbortedError(`The front-door client went away after the whole body, and the tunnel did not end the response within ${END_AFTER_BODY_GRACE_MS} ms`));
  }

  onComplete(): void {
    this.finished = true;
    clearTimeout(this.grace);
    this.res.end();
    this.uncork();
    this.sink.answered(this.state);
  }

  /** Sends what was written since onData corked the socket (also from setImmediate: uncorkExchange). */
  uncork(): void {
    const socket = this.corked;
    this.corked = undefined;
    socket?.uncork();
  }

  onError(error: VcsAgentError): void {
    this.finished = true;
    clearTimeout(this.grace);
    const res = this.res;
    if (res.headersSent) {
      // Mid-body: tear the connection down so the client sees an error, never a shorter
      // body that looks complete. A TCP reset, not a FIN: an HTTP/1.0 response without
      // length or chunking ends at the close, so a clean close would look like success.
      res.socket?.resetAndDestroy();
      res.destroy(error);
      return;
    }
    this.sink.answerError(this.state, error);
  }
}

/** A module-level callback, so the per-turn uncork needs no closure per request. */
function uncorkExchange(exchange: FrontDoorExchange): void {
  exchange.uncork();
}

function abortAfterGrace(exchange: FrontDoorExchange): void {
  exchange.abortAfterGrace();
}

function sendError(res: ServerResponse, error: VcsAgentError): void {
  const answer = errorAnswer(error, { header: 'vcs-gateway-error' });
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
}

/** A whole-number option in milliseconds; `allowZero` when 0 turns the bound off. */
function milliseconds(value: number | undefined, fallback: number, option: string, allowZero: boolean): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0 || (!allowZero && value === 0)) {
    throw new InvalidOptionError(option, `Invalid ${option}: expected a ${allowZero ? 'non-negative' : 'positive'} whole number of milliseconds${allowZero ? ' (0: off)' : ''}`);
  }
  return value;
}

/**
 * The gateway's HTTP/1.1 listener: `http://<front-door>/<pool>/<path>` is
 * `private://<pool>/<path>`, so any HTTP client can use a pool. The path and query go
 * through byte for byte (Node's parser does not normalise `req.url`).
 */
export interface FrontDoorOptions {
  /**
   * Bearer token callers must present as `Proxy-Authorization: Bearer <token>` (the
   * credential of the intermediary, RFC 9110 §11.7.2, so `Authorization` stays free for the
   * VCS). Without it any caller that reaches the listener may use every pool. Refusals say
   * nothing about which pools exist.
   */
  token?: string;
  /**
   * Longest time a request's headers may take to arrive, from its first byte (or from the
   * connection's opening); past it the caller gets 408 `VCS_HEADERS_TIMEOUT` and the
   * connection closes. Default 30 000 ms.
   */
  headersTimeoutMs?: number;
  /**
   * Longest silence in a request body while the gateway is reading it (time spent queued
   * for a stream or paused by a full tunnel does not count); past it the request fails with
   * `VCS_BODY_IDLE_TIMEOUT` (408 if no response byte was sent yet) and the connection
   * closes. Default 60 000 ms; 0 turns it off.
   */
  bodyIdleTimeoutMs?: number;
  /**
   * Longest time a whole request (headers and body) may take to arrive; past it the request
   * fails with `VCS_REQUEST_TIMEOUT` (408 if no response byte was sent yet) and the
   * connection closes. Default 300 000 ms; 0 turns it off. At least `headersTimeoutMs`.
   */
  requestTimeoutMs?: number;
  /**
   * When the answer comes before the request body was read (a denial, no agent, a wrong
   * token), up to this many more body bytes are read and discarded so the caller can read
   * the answer and reuse the connection; a longer body is answered and the connection is
   * closed gracefully (lingering close). Default 64 MiB.
   */
  maxDiscardBytes?: number;
}

export class FrontDoor {
  private readonly server: Server;
  private readonly tokenDigest: Buffer | undefined;
  private readonly headersTimeoutMs: number;
  private readonly bodyIdleTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly maxDiscardBytes: number;
  /** The request each connection is serving (or served last). */
  private readonly current = new WeakMap<Socket, RequestState>();
  /** Connections that serve no further request: they close after their last answer. */
  private readonly closing = new WeakSet<Socket>();
  /** Closing connections whose lingering close has begun (half-closed, LINGER_MS timer armed). */
  private readonly lingering = new WeakSet<Socket>();
  private readonly sink: AnswerSink = {
    answered: (state) => this.answered(state),
    answerError: (state, error) => this.answerError(state, error),
  };

  constructor(
    private readonly gateway: Gateway,
    options: FrontDoorOptions = {},
  ) {
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'FrontDoor options must be an object');
    if (options.token !== undefined && (typeof options.token !== 'string' || options.token.length < 16)) {
      throw new InvalidOptionError('front-door-token', 'Invalid front-door token: expected at least 16 characters');
    }
    this.headersTimeoutMs = milliseconds(options.headersTimeoutMs, DEFAULT_HEADERS_TIMEOUT_MS, 'headersTimeoutMs', false);
    this.bodyIdleTimeoutMs = milliseconds(options.bodyIdleTimeoutMs, DEFAULT_BODY_IDLE_TIMEOUT_MS, 'bodyIdleTimeoutMs', true);
    this.requestTimeoutMs = milliseconds(options.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS, 'requestTimeoutMs', true);
    if (options.maxDiscardBytes !== undefined && (!Number.isInteger(options.maxDiscardBytes) || options.maxDiscardBytes < 0)) {
      throw new InvalidOptionError('maxDiscardBytes', 'Invalid maxDiscardBytes: expected a non-negative whole number of bytes');
    }
    this.maxDiscardBytes = options.maxDiscardBytes ?? DEFAULT_MAX_DISCARD_BYTES;
    if (this.requestTimeoutMs > 0 && this.headersTimeoutMs > this.requestTimeoutMs) {
      throw new InvalidOptionError('headersTimeoutMs', `Invalid headersTimeoutMs: ${this.headersTimeoutMs} ms is longer than requestTimeoutMs (${this.requestTimeoutMs} ms), which includes the headers`);
    }
    this.tokenDigest = options.token === undefined ? undefined : createHash('sha256').update(options.token).digest();
    const shortest = this.requestTimeoutMs > 0 ? Math.min(this.headersTimeoutMs, this.requestTimeoutMs) : this.headersTimeoutMs;
    this.server = createServer(
      {
        keepAliveTimeout: 65_000,
        // Node enforces both bounds itself (its connection list knows when a message starts
        // and when its last byte is parsed), checking every connectionsCheckingInterval:
        // a quarter of the shortest bound keeps a bound's overshoot under 25 %.
        headersTimeout: this.headersTimeoutMs,
        requestTimeout: this.requestTimeoutMs,
        connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(shortest / 4))),
      },
      (req, res) => this.handle(req, res),
    );
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => this.onClientError(error, socket as Socket));
  }

  listen(options: { host?: string; port?: number } = {}): Promise<AddressInfo> {
    return listenServer(this.server, options);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }

  destroy(): void {
    this.server.close();
    this.server.closeAllConnections();
  }

  /** Constant-time check of the caller's bearer token (hash first, so lengths never differ). */
  private authorized(req: IncomingMessage): boolean {
    if (this.tokenDigest === undefined) return true;
    const header = req.headers['proxy-authorization'];
    if (header === undefined || !header.startsWith('Bearer ')) return false;
    return timingSafeEqual(createHash('sha256').update(header.slice(7)).digest(), this.tokenDigest);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    if (this.closing.has(socket)) {
      // Pipelined behind an answer after which the connection closes: never served.
      req.resume();
      return;
    }
    const state: RequestState = { req, res, exchange: undefined };
    this.current.set(socket, state);
    const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
    if (hasBody && this.bodyIdleTimeoutMs > 0) this.watchBody(state);
    const url = req.url ?? '';
    if (!this.authorized(req)) {
      const answer = errorAnswer(new VcsAgentError('VCS_UNAUTHORIZED', 'A valid front-door bearer token is required'), { header: 'vcs-gateway-error' });
      res.writeHead(answer.status, { ...answer.headers, 'proxy-authenticate': 'Bearer' });
      res.end(answer.body);
      this.answered(state);
      return;
    }
    let target;
    try {
      if (url.charCodeAt(0) !== 0x2f) throw new VcsAgentError('VCS_INVALID_URL', 'Expected /<pool>/<path> in origin form');
      target = splitPoolTarget(url.slice(1), 'The front-door path');
    } catch (error) {
      return this.answerError(state, error as VcsAgentError);
    }
    const exchange = new FrontDoorExchange(state, this.sink);
    state.exchange = exchange;
    exchange.control = this.gateway.dispatch(
      {
        id: randomUUID(),
        pool: target.pool,
        method: req.method ?? 'GET',
        path: target.path,
        // Proxy-Authorization is hop-by-hop: the front-door credential never travels on.
        rawHeaders: stripHopByHop(req.rawHeaders),
        body: hasBody ? req : null,
        startedAt: performance.now(),
      },
      exchange,
    );
    res.once('close', () => exchange.callerGone());
  }

  /**
   * The answer is out before the request body was read to its end (a denial, no agent, a
   * refused token, an early VCS answer): read and discard the rest, so the caller — which
   * may write its whole body before reading — reads the answer instead of a reset (issue
   * 13, bug 2); past `maxDiscardBytes`, close gracefully.
   */
  private answered(state: RequestState): void {
    const { req, res } = state;
    if (req.complete || req.destroyed) return;
    const socket = req.socket;
    // A caller that asked to close (`Connection: close`, HTTP/1.0) has its connection ended
    // and destroyed by Node as soon as the answer is flushed (lib/_http_server.js resOnFinish
    // → socket.destroySoon(), lib/net.js), its body unread: a RST, and the caller got
    // `write EPIPE` instead of the answer. Take that close over: read the body to its end
    // (or to the bounds below), then close.
    res.once('finish', () => {
      if (!socket.writableEnded || socket.destroyed || this.closing.has(socket)) return;
      socket.removeListener('finish', socket.destroy);
      this.closing.add(socket);
      req.once('end', () => socket.destroy()); // nothing unread is left: a plain close
    });
    const declared = Number(req.headers['content-length']);
    if (declared > this.maxDiscardBytes) {
      // Known to be too long already: say so and close after the answer.
      this.lingerClose(socket);
      req.resume();
      return;
    }
    let budget = this.maxDiscardBytes;
    req.on('data', (chunk: Buffer) => {
      budget -= chunk.length;
      if (budget < 0) this.lingerClose(socket);
    });
    // Whoever read the body before (the tunnel) has let go of it, maybe while it was paused.
    req.resume();
  }

  private answerError(state: RequestState, error: VcsAgentError): void {
    if (TIMEOUT_CODES.has(error.code)) {
      this.answerTimeout(state.req.socket, error);
      return;
    }
    sendError(state.res, error);
    this.answered(state);
  }

  /**
   * 408 for a caller too slow to send its request, then a lingering close. Written on the
   * socket itself, like Node's own timeout answer: a ServerResponse with `Connection: close`
   * would destroy the socket as soon as the answer is flushed, unread input and all.
   */
  private answerTimeout(socket: Socket, error: VcsAgentError): void {
    // A closing connection has had its answer already.
    if (this.closing.has(socket) || socket.destroyed) return;
    if (socket.writable) {
      const { body } = errorAnswer(error);
      socket.write(
        `HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
          `vcs-gateway-error: ${error.code}\r\nconnection: close\r\n\r\n${body}`,
      );
    }
    this.lingerClose(socket);
  }

  /** Half-closes after what was written, reads and discards for LINGER_MS, then destroys. */
  private lingerClose(socket: Socket): void {
    if (this.lingering.has(socket)) return;
    this.closing.add(socket);
    this.lingering.add(socket);
    if (socket.destroyed) return;
    socket.end();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    // Keep the bytes moving: a request whose body is still arriving is read and dropped.
    const state = this.current.get(socket);
    if (state !== undefined && !state.req.complete) state.req.resume();
  }

  /** A caller too slow with its request: fail the exchange (the access log says which bound) and answer 408 if still possible. */
  private giveUp(state: RequestState, error: VcsAgentError): void {
    const socket = state.req.socket;
    const exchange = state.exchange;
    if (exchange !== undefined && !exchange.finished) {
      exchange.control?.abort(error);
      if (exchange.finished) return; // answered by answerError (408) or torn down mid-response
      exchange.finished = true;
    }
    if (!state.res.headersSent) this.answerTimeout(socket, error);
    else this.lingerClose(socket);
  }

  /**
   * The body-idle bound. Progress is the connection's bytesRead (the HTTP parser reads the
   * socket natively, so no 'data' listener is needed, which would start the body flowing
   * before the tunnel is ready); silence counts only while someone is reading the body.
   */
  private watchBody(state: RequestState): void {
    const { req } = state;
    const socket = req.socket;
    const idleMs = this.bodyIdleTimeoutMs;
    let lastBytes = socket.bytesRead;
    let lastProgress = performance.now();
    // Checked four times per bound: a silence is noticed within 1.25 × the bound.
    const timer = setInterval(() => {
      if (req.complete || req.destroyed || this.lingering.has(socket)) {
        clearInterval(timer);
        return;
      }
      const now = performance.now();
      const bytes = socket.bytesRead;
      if (bytes !== lastBytes || req.readableFlowing !== true) {
        lastBytes = bytes;
        lastProgress = now;
      } else if (now - lastProgress >= idleMs) {
        clearInterval(timer);
        this.giveUp(state, new BodyIdleTimeoutError(idleMs));
      }
    }, Math.max(5, Math.floor(idleMs / 4)));
    timer.unref();
    const stop = (): void => clearInterval(timer);
    req.once('end', stop);
    req.once('close', stop);
  }

  /**
   * Node reports its header and request bounds here as ERR_HTTP_REQUEST_TIMEOUT, and
   * malformed requests as parse errors. A listener replaces Node's default answer, so the
   * parse errors get the same bytes Node would send (400, 431, 413) and a destroy.
   */
  private onClientError(error: NodeJS.ErrnoException, socket: Socket): void {
    const state = this.current.get(socket);
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      if (state !== undefined && !state.req.complete) {
        // Headers arrived (handle() ran), the rest did not: the whole-request bound.
        this.giveUp(state, new RequestTimeoutError(this.requestTimeoutMs));
        return;
      }
      // Never write into a response still going out on this connection (pipelining).
      if (state !== undefined && !state.res.writableFinished) socket.destroy();
      else this.answerTimeout(socket, new HeadersTimeoutError(this.headersTimeoutMs));
      return;
    }
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    if (state === undefined || state.res.writableFinished || !state.res.headersSent) {
      const line = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : error.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW' ? '413 Payload Too Large' : '400 Bad Request';
      socket.write(`HTTP/1.1 ${line}\r\nConnection: close\r\n\r\n`);
    }
    socket.destroy(error);
  }
}
