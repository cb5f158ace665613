import { randomUUID, createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidOptionError, RequestAbortedError, VcsAgentError } from '../errors.js';
import { errorAnswer } from '../protocol/error-response.js';
import { stripHopByHop } from '../protocol/hop-by-hop.js';
import type { ExchangeHandler } from './exchange.js';
import type { ExchangeControl, Gateway } from './gateway.js';
import { splitPoolTarget } from './private-url.js';
import { listenServer } from '../util/listen-server.js';

/** How much of a response may wait for the caller's socket before the tunnel stream pauses. */
const SINK_BUFFER_BYTES = 1024 * 1024;

/** Writes one tunnelled response onto an HTTP/1.1 response. */
class FrontDoorExchange implements ExchangeHandler {
  control: ExchangeControl | undefined;
  finished = false;
  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.res.uncork();
  };

  constructor(private readonly res: ServerResponse) {}

  onHeaders(status: number, rawHeaders: string[]): void {
    this.res.writeHead(status, rawHeaders);
  }

  onData(chunk: Buffer): boolean {
    // Every DATA chunk nghttp2 hands over arrives in its own native callback, so a
    // nextTick uncork would flush each one alone (a 256 MiB response took ~18 000 writes of
    // ~14 KiB). Uncorking on setImmediate, after this loop turn's I/O callbacks, sends all
    // chunks that arrived in the turn as one writev.
    if (!this.corked) {
      this.corked = true;
      this.res.cork();
      setImmediate(this.uncork);
    }
    // Pause the tunnel only past SINK_BUFFER_BYTES, not at the response's 16 KiB mark: every
    // pause stops WINDOW_UPDATEs to the agent, and pausing on each 64 KiB frame turned bulk
    // transfers into stop-and-go. Memory stays bounded by the constant.
    if (this.res.write(chunk) || this.res.writableLength < SINK_BUFFER_BYTES) return true;
    this.res.once('drain', this.resume);
    return false;
  }

  onComplete(): void {
    this.finished = true;
    this.res.end();
  }

  onError(error: VcsAgentError): void {
    this.finished = true;
    const res = this.res;
    if (res.headersSent) {
      // Mid-body: tear the connection down so the client sees an error, never a shorter
      // body that looks complete. A TCP reset, not a FIN: an HTTP/1.0 response without
      // length or chunking ends at the close, so a clean close would look like success.
      res.socket?.resetAndDestroy();
      res.destroy(error);
      return;
    }
    sendError(res, error);
  }

  private readonly resume = (): void => this.control?.resume();
}

function sendError(res: ServerResponse, error: VcsAgentError): void {
  const answer = errorAnswer(error, { header: 'vcs-gateway-error' });
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
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
}

export class FrontDoor {
  private readonly server: Server;
  private readonly tokenDigest: Buffer | undefined;

  constructor(
    private readonly gateway: Gateway,
    options: FrontDoorOptions = {},
  ) {
    if (options.token !== undefined && options.token.length < 16) {
      throw new InvalidOptionError('front-door-token', 'Invalid front-door token: expected at least 16 characters');
    }
    this.tokenDigest = options.token === undefined ? undefined : createHash('sha256').update(options.token).digest();
    this.server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req, res) => this.handle(req, res));
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
    const url = req.url ?? '';
    if (!this.authorized(req)) {
      req.resume();
      const answer = errorAnswer(new VcsAgentError('VCS_UNAUTHORIZED', 'A valid front-door bearer token is required'), { header: 'vcs-gateway-error' });
      res.writeHead(answer.status, { ...answer.headers, 'proxy-authenticate': 'Bearer' });
      res.end(answer.body);
      return;
    }
    let target;
    try {
      if (url.charCodeAt(0) !== 0x2f) throw new VcsAgentError('VCS_INVALID_URL', 'Expected /<pool>/<path> in origin form');
      target = splitPoolTarget(url.slice(1), 'The front-door path');
    } catch (error) {
      req.resume();
      return sendError(res, error as VcsAgentError);
    }
    const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
    const exchange = new FrontDoorExchange(res);
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
    res.once('close', () => {
      if (!exchange.finished) exchange.control?.abort(new RequestAbortedError('The front-door client went away'));
    });
  }
}
