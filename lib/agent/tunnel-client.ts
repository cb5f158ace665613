import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  connect as http2Connect,
  constants as h2constants,
  sensitiveHeaders,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type SecureClientSessionOptions,
} from 'node:http2';
import type { Duplex } from 'node:stream';
import {
  AuthenticationError,
  ClosedError,
  GatewayConnectionError,
  InvalidOptionError,
  ProtocolError,
  VcsAgentError,
} from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { RequestPolicy } from '../policy/request-policy.js';
import {
  CONNECT_PATH,
  HEADER_AGENT_ID,
  HEADER_AGENT_VERSION,
  HEADER_CONNECTION_ID,
  HEADER_METADATA,
  HEADER_PARALLELISM,
  HEADER_POOL,
  HEADER_PROTOCOL,
  HEADER_VENDOR,
  MAX_METADATA_KEY_LENGTH,
  MAX_METADATA_TAGS,
  MAX_METADATA_VALUE_LENGTH,
  PROTOCOL_VERSION,
} from '../protocol/constants.js';
import { FrameParser, FrameType, encodeHead, type ControlMessage } from '../protocol/frame.js';
import { CONNECTION_WINDOW_SIZE, MAX_PARALLELISM, MAX_SESSION_MEMORY_MB, localSettings } from '../protocol/http2-settings.js';
import { buildOutboundHeaders } from '../policy/outbound-headers.js';
import { decodePoolToken, type PoolToken } from '../protocol/token.js';
import { AgentStream, type AgentRequestRecord, type AgentStreamContext, type ExchangeDebugEvent } from './agent-stream.js';
import { Backoff, type BackoffOptions } from './backoff.js';

/** The library's version, sent to the gateway so operators can see what runs. */
export const AGENT_VERSION = '0.2.0';

/** Options of a `TunnelClient`. */
export interface TunnelClientOptions {
  /** The pool configuration token (base64 JSON), or its decoded form. */
  token: string | PoolToken;
  /** Base URL of the VCS, e.g. `https://gitlab.internal` (a path prefix is kept). */
  target: string | URL;
  /** Decides per request; see `createVendorPolicy`. There is no allow-all default. */
  policy: RequestPolicy;
  /** Streams kept open to the gateway; each carries one request at a time (default 4, max 256). */
  parallelism?: number;
  /** Vendor name reported to the gateway (default: `policy.name`). */
  vendor?: string;
  /** Tags shown per connection on the gateway (at most 32; keys ≤ 64, values ≤ 256 chars). */
  metadata?: Readonly<Record<string, string>>;
  /** Stable id of this agent instance (default: a random UUID). */
  agentId?: string;
  logger?: Logger;
  /** TLS options for the gateway connection (custom CA, for example). */
  tls?: { ca?: string | Buffer | Array<string | Buffer>; rejectUnauthorized?: boolean; servername?: string };
  /**
   * Supplies the socket to the gateway (a CONNECT tunnel through a proxy, a traced socket).
   * For https gateways it must be a TLS socket that negotiated ALPN `h2`.
   */
  connect?: (gateway: URL) => Promise<Duplex>;
  /** Wraps the socket before HTTP/2 uses it (GODEBUG tracing); called only when set. */
  wrapSocket?: (socket: Duplex) => Duplex;
  /** HTTP CONNECT proxy for the gateway connection (resolved from HTTPS_PROXY/NO_PROXY by the caller). */
  proxy?: URL;
  /** How long dialling the gateway (TCP, proxy CONNECT, TLS) may take (default 30 000 ms). */
  connectTimeoutMs?: number;
  /**
   * Liveness checks on an idle connection: an HTTP/2 PING and an application-level ping on
   * the connect stream every `intervalMs` (default 20 000); no answer to either within
   * `timeoutMs` (default 10 000) means the connection is half-open, and it is redialled.
   */
  keepalive?: { intervalMs?: number; timeoutMs?: number };
  /** Agent for requests to the VCS (proxying, custom CA). Default: keep-alive, `parallelism` sockets. */
  upstreamAgent?: HttpAgent;
  /** How long the VCS may stay silent before a request fails (default 300 000 ms). */
  upstreamTimeoutMs?: number;
  /**
   * Optional body caps in bytes. There is none by default: bodies stream with flow control
   * and are never held whole. Over the request cap the caller gets 413 (`VCS_BODY_TOO_LARGE`);
   * over the response cap the stream is reset, so the caller sees an error.
   */
  maxBodyBytes?: { request?: number; response?: number };
  /** Builds the header list sent to the VCS (default: `buildOutboundHeaders`, an allowlist with Host from the target). */
  outboundHeaders?: (rawHeaders: readonly string[], target: URL) => string[];
  /** Reconnect backoff (exponential with full jitter). */
  reconnect?: BackoffOptions;
  /**
   * Receives every request and response (heads and body chunks) for `--debug-print-all`.
   * Values are unredacted: the consumer must redact. Costs nothing when unset.
   */
  onDebug?: (event: ExchangeDebugEvent) => void;
}

export type TunnelClientState = 'idle' | 'connecting' | 'connected' | 'draining' | 'closed';

export interface TunnelClientEvents {
  /** Authenticated and streams opened. */
  connected: [{ connectionId: string; streams: number }];
  /** The connection to the gateway is gone; a reconnect follows unless closing. */
  disconnected: [{ error?: VcsAgentError; retryInMs?: number }];
  /** One proxied request finished (allowed or denied). */
  request: [AgentRequestRecord];
}

/**
 * The agent side of the tunnel. It dials the gateway named in the pool token over ONE
 * HTTP/2 connection, authenticates with the pool id and key, and keeps `parallelism`
 * long-lived streams open, each serving one proxied request at a time. Lost connections
 * are redialled with exponential backoff and full jitter.
 *
 * Lifecycle: `start()` (resolves once connected; rejects only for bad credentials) →
 * `close()` (graceful: the gateway stops dispatching, in-flight requests finish) or
 * `destroy()` (at once).
 */
export class TunnelClient extends EventEmitter<TunnelClientEvents> {
  readonly gatewayUrl: URL;
  readonly agentId: string;
  private readonly token: PoolToken;
  private readonly policy: RequestPolicy;
  private readonly parallelism: number;
  private readonly vendor: string;
  private readonly metadata: Readonly<Record<string, string>>;
  private readonly logger: Logger;
  private readonly options: TunnelClientOptions;
  private readonly streamContext: AgentStreamContext;
  private readonly backoff: Backoff;
  private readonly ownsUpstreamAgent: boolean;
  private session: ClientHttp2Session | undefined;
  private control: ClientHttp2Stream | undefined;
  private readonly streams = new Set<AgentStream>();
  /** Busy streams of sessions the gateway sent GOAWAY on, finishing their exchange. */
  private readonly retiring = new Set<AgentStream>();
  /** Sessions after GOAWAY, closed once their last stream is done; destroyed by destroy(). */
  private readonly oldSessions = new Set<ClientHttp2Session>();
  private stateValue: TunnelClientState = 'idle';
  private reconnectTimer: NodeJS.Timeout | undefined;
  private startWaiters: { resolve: () => void; reject: (error: Error) => void } | undefined;
  private drainWaiters: Array<() => void> = [];
  private connectionIdValue: string | undefined;
  /** Streams of a new connection not yet accepted; `connected` fires when it reaches 0. */
  private pendingStreams = 0;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private readonly keepaliveIntervalMs: number;
  private readonly keepaliveTimeoutMs: number;
  private pingSequence = 0;
  private lastPongAt = 0;
  /** The gateway acknowledged our drain: nothing more will be dispatched to this connection. */
  private drainAcked = false;

  constructor(options: TunnelClientOptions) {
    super();
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'TunnelClient options must be an object');
    this.options = options;
    this.token = typeof options.token === 'string' ? decodePoolToken(options.token) : decodePoolToken(Buffer.from(JSON.stringify(options.token)).toString('base64'));
    this.gatewayUrl = new URL(this.token.host);
    const target = parseTarget(options.target);
    if (options.policy === undefined || typeof options.policy.evaluate !== 'function') {
      throw new InvalidOptionError('policy', 'A request policy is required (policy): the agent never allows everything by default');
    }
    this.policy = options.policy;
    this.parallelism = options.parallelism ?? 4;
    if (!Number.isInteger(this.parallelism) || this.parallelism < 1 || this.parallelism > MAX_PARALLELISM) {
      throw new InvalidOptionError('parallelism', `Invalid parallelism ${String(options.parallelism)}: expected an integer from 1 to ${MAX_PARALLELISM}`);
    }
    this.vendor = options.vendor ?? this.policy.name;
    this.metadata = validateMetadata(options.metadata ?? {});
    this.agentId = options.agentId ?? randomUUID();
    this.logger = options.logger ?? silentLogger;
    this.backoff = new Backoff(options.reconnect);
    this.keepaliveIntervalMs = positiveMs(options.keepalive?.intervalMs, 20_000, 'keepalive.intervalMs');
    this.keepaliveTimeoutMs = positiveMs(options.keepalive?.timeoutMs, 10_000, 'keepalive.timeoutMs');
    positiveMs(options.connectTimeoutMs, 30_000, 'connectTimeoutMs');
    const upstreamTimeoutMs = options.upstreamTimeoutMs ?? 300_000;
    if (!Number.isInteger(upstreamTimeoutMs) || upstreamTimeoutMs <= 0) {
      throw new InvalidOptionError('upstreamTimeoutMs', 'Invalid upstreamTimeoutMs: expected a positive integer of milliseconds');
    }
    this.ownsUpstreamAgent = options.upstreamAgent === undefined;
    const upstreamAgent =
      options.upstreamAgent ??
      (target.protocol === 'https:'
        ? new HttpsAgent({ keepAlive: true, maxSockets: this.parallelism, maxFreeSockets: this.parallelism })
        : new HttpAgent({ keepAlive: true, maxSockets: this.parallelism, maxFreeSockets: this.parallelism }));
    const buildHeaders = options.outboundHeaders ?? buildOutboundHeaders;
    this.streamContext = {
      policy: this.policy,
      target,
      basePath: target.pathname.replace(/\/+$/, ''),
      upstreamAgent,
      upstreamTimeoutMs,
      maxRequestBodyBytes: cap(options.maxBodyBytes?.request, 'maxBodyBytes.request'),
      maxResponseBodyBytes: cap(options.maxBodyBytes?.response, 'maxBodyBytes.response'),
      outboundHeaders: (raw) => buildHeaders(raw, target),
      onRecord: (record) => this.onRecord(record),
      onStreamClosed: (stream, hadError) => this.onStreamClosed(stream, hadError),
      onExchangeDone: () => this.checkDrained(),
      onStreamReady: () => this.onStreamReady(),
      onDebug: options.onDebug,
    };
  }

  get state(): TunnelClientState {
    return this.stateValue;
  }

  /** The gateway's id for the current connection, while connected. */
  get connectionId(): string | undefined {
    return this.connectionIdValue;
  }

  /** Streams open right now, and how many of them carry a request. */
  get streamCounts(): { open: number; busy: number } {
    let busy = 0;
    for (const stream of this.streams) if (stream.busy) busy++;
    for (const stream of this.retiring) if (stream.busy) busy++;
    return { open: this.streams.size, busy };
  }

  /**
   * Connects and resolves once authenticated with all streams requested. Network failures
   * are retried with backoff (the promise waits); bad credentials reject with
   * `AuthenticationError`, since retrying cannot fix them.
   */
  start(): Promise<void> {
    if (this.stateValue !== 'idle') return Promise.reject(new ClosedError('This TunnelClient was already started and'));
    return new Promise<void>((resolve, reject) => {
      this.startWaiters = { resolve, reject };
      this.dial();
    });
  }

  /**
   * Graceful stop: asks the gateway to stop dispatching to this connection, lets in-flight
   * requests finish (up to `timeoutMs`, default 30 s), then closes. Resolves when closed.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.stateValue === 'closed') return;
    const wasConnected = this.stateValue === 'connected';
    this.stateValue = 'draining';
    clearTimeout(this.reconnectTimer);
    this.startWaiters?.reject(new ClosedError('The TunnelClient'));
    this.startWaiters = undefined;
    const drainConnection = wasConnected && this.control !== undefined && !this.control.destroyed;
    const retiringBusy = [...this.retiring].some((stream) => stream.busy);
    if (!drainConnection && retiringBusy) {
      // Not connected right now, but requests still finish on a session the gateway retired.
      await this.waitDrained(options.timeoutMs ?? 30_000);
    }
    if (drainConnection && this.control !== undefined) {
      this.drainAcked = false;
      // Until the gateway acknowledges, it may still dispatch to an idle stream: in-flight
      // only counts as finished once drain-ack has arrived (or the control stream is gone).
      this.control.once('close', () => {
        this.drainAcked = true;
        this.checkDrained();
      });
      this.control.write(encodeHead(FrameType.Control, { type: 'drain' }));
      await this.waitDrained(options.timeoutMs ?? 30_000);
    }
    this.destroy();
  }

  /** Resolves when no stream is busy (see checkDrained), or after `timeoutMs`. */
  private waitDrained(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.drainWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.checkDrained();
    });
  }

  /** Closes everything at once; in-flight requests fail on both sides. */
  destroy(): void {
    this.stateValue = 'closed';
    clearInterval(this.keepaliveTimer);
    clearTimeout(this.reconnectTimer);
    this.startWaiters?.reject(new ClosedError('The TunnelClient'));
    this.startWaiters = undefined;
    for (const stream of this.streams) stream.close(h2constants.NGHTTP2_CANCEL);
    for (const stream of this.retiring) stream.close(h2constants.NGHTTP2_CANCEL);
    this.retiring.clear();
    for (const old of this.oldSessions) old.destroy();
    this.oldSessions.clear();
    this.session?.destroy();
    this.session = undefined;
    if (this.ownsUpstreamAgent) this.streamContext.upstreamAgent.destroy();
    for (const resolve of this.drainWaiters.splice(0)) resolve();
  }

  private dial(): void {
    if (this.stateValue === 'closed' || this.stateValue === 'draining') return;
    this.stateValue = 'connecting';
    this.openSession().then(
      (session) => this.authenticate(session),
      (error: unknown) => {
        const failure = asConnectionError(error, this.gatewayUrl);
        if (failure.code === 'VCS_PROXY_AUTH_REQUIRED' && this.startWaiters !== undefined) {
          // The proxy wants other credentials: a configuration problem retrying cannot fix.
          this.stateValue = 'closed';
          this.startWaiters.reject(failure);
          this.startWaiters = undefined;
          return;
        }
        this.onConnectionLost(failure);
      },
    );
  }

  private async openSession(): Promise<ClientHttp2Session> {
    const url = this.gatewayUrl;
    const options: SecureClientSessionOptions = {
      settings: localSettings,
      maxSessionMemory: MAX_SESSION_MEMORY_MB,
      ...(this.options.tls?.ca === undefined ? {} : { ca: this.options.tls.ca }),
      ...(this.options.tls?.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: this.options.tls.rejectUnauthorized }),
      ...(this.options.tls?.servername === undefined ? {} : { servername: this.options.tls.servername }),
    };
    const { connect, wrapSocket, proxy } = this.options;
    if (connect !== undefined || wrapSocket !== undefined || proxy !== undefined) {
      // We dial ourselves (proxy CONNECT, ALPN check, tracing wrapper); HTTP/2 gets the socket.
      // Loaded only when needed: the proxy stack (http2-wrapper, proxy agents) costs ~12 MiB
      // of RSS that a directly connected agent should not carry.
      const connectGatewaySocket = connect === undefined ? (await import('../proxy/gateway-socket.js')).connectGatewaySocket : undefined;
      let socket =
        connect !== undefined || connectGatewaySocket === undefined
          ? await (connect as NonNullable<typeof connect>)(url)
          : await connectGatewaySocket(url, {
              ...(proxy === undefined ? {} : { proxy }),
              timeoutMs: this.options.connectTimeoutMs ?? 30_000,
              ...(this.options.tls === undefined ? {} : { tls: tlsForSocket(this.options.tls) }),
            });
      if (wrapSocket !== undefined) socket = wrapSocket(socket);
      const provided = socket;
      options.createConnection = () => provided;
    }
    const timeoutMs = this.options.connectTimeoutMs ?? 30_000;
    return await new Promise<ClientHttp2Session>((resolve, reject) => {
      const session = http2Connect(url, options);
      const timer = setTimeout(() => onError(new GatewayConnectionError(`No HTTP/2 connection to ${url.origin} within ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
      const onError = (error: Error): void => {
        clearTimeout(timer);
        session.destroy();
        reject(error);
      };
      session.once('error', onError);
      session.once('connect', () => {
        clearTimeout(timer);
        session.off('error', onError);
        try {
          session.setLocalWindowSize(CONNECTION_WINDOW_SIZE);
        } catch {
          // Closed while connecting: 'close' follows and triggers the reconnect.
        }
        resolve(session);
      });
    });
  }

  private authenticate(session: ClientHttp2Session): void {
    if (this.stateValue === 'closed' || this.stateValue === 'draining') {
      session.destroy();
      return;
    }
    this.session = session;
    session.on('error', (error) => this.logger.debug('gateway session error', { error: error.message }));
    session.once('close', () => {
      if (this.session === session) this.onConnectionLost(new GatewayConnectionError(`The connection to the gateway ${this.gatewayUrl.origin} closed`));
    });
    session.on('goaway', () => this.onGoaway(session));
    const control = session.request(
      {
        ':method': 'POST',
        ':path': CONNECT_PATH,
        authorization: `Bearer ${this.token.key}`,
        [HEADER_PROTOCOL]: PROTOCOL_VERSION,
        [HEADER_POOL]: this.token.pool_ulid,
        [HEADER_AGENT_ID]: this.agentId,
        [HEADER_AGENT_VERSION]: AGENT_VERSION,
        [HEADER_VENDOR]: this.vendor,
        [HEADER_PARALLELISM]: String(this.parallelism),
        [HEADER_METADATA]: JSON.stringify(this.metadata),
        // Never put the key into the HPACK dynamic table (RFC 7541 §7.1.3).
        [sensitiveHeaders]: ['authorization'],
      },
      { endStream: false },
    );
    this.control = control;
    control.on('error', () => {});
    // A peer that accepted TCP (and TLS) but never answers must not hold start() for ever.
    const timeoutMs = this.options.connectTimeoutMs ?? 30_000;
    const authTimer = setTimeout(() => {
      if (this.session !== session) return;
      this.onConnectionLost(new GatewayConnectionError(`The gateway ${this.gatewayUrl.origin} did not answer the connect stream within ${timeoutMs} ms`));
    }, timeoutMs);
    authTimer.unref();
    control.once('close', () => clearTimeout(authTimer));
    control.once('response', (headers) => {
      clearTimeout(authTimer);
      const status = Number(headers[':status']);
      if (status === 200) {
        this.onAuthenticated(session, control, String(headers[HEADER_CONNECTION_ID] ?? ''));
        return;
      }
      collectBody(control).then((body) => this.onRefused(session, status, body));
    });
  }

  private onAuthenticated(session: ClientHttp2Session, control: ClientHttp2Stream, connectionId: string): void {
    this.connectionIdValue = connectionId;
    this.stateValue = 'connected';
    this.backoff.succeeded();
    this.startKeepalive(session, control);
    const parser = new FrameParser({
      onHead: (type, message) => {
        if (type !== FrameType.Control) throw new ProtocolError('Only control frames belong on the connect stream');
        this.onControl(message as ControlMessage);
      },
      onBody: () => {
        throw new ProtocolError('Body frame on the connect stream');
      },
      onEnd: () => {
        throw new ProtocolError('End frame on the connect stream');
      },
    });
    control.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk);
      } catch (error) {
        this.logger.warn('protocol error on the control stream', { error: (error as Error).message });
        session.destroy();
      }
    });
    control.once('close', () => {
      if (this.session === session && !session.closed) session.close();
    });
    this.pendingStreams = this.parallelism;
    for (let i = 0; i < this.parallelism; i++) this.openStream(session);
  }

  private onStreamReady(): void {
    if (this.pendingStreams === 0) return;
    this.pendingStreams--;
    if (this.pendingStreams > 0) return;
    const connectionId = this.connectionIdValue ?? '';
    this.logger.info('connected to gateway', { gateway: this.gatewayUrl.origin, pool: this.token.pool_ulid, connectionId, streams: this.parallelism });
    this.emit('connected', { connectionId, streams: this.parallelism });
    this.startWaiters?.resolve();
    this.startWaiters = undefined;
  }

  private onRefused(session: ClientHttp2Session, status: number, body: string): void {
    let message = `The gateway refused the connection with HTTP ${status}`;
    let reason: string | undefined;
    try {
      const parsed = JSON.parse(body) as { error?: { message?: string; reason?: string } };
      if (typeof parsed.error?.message === 'string') message = `The gateway refused the agent: ${parsed.error.message.slice(0, 200)}`;
      reason = parsed.error?.reason;
    } catch {
      // Not our JSON error body: keep the status-only message.
    }
    session.destroy();
    this.session = undefined;
    if (status === 401 || status === 403) {
      const error = new AuthenticationError(message, reason === 'unknown_pool' ? 'unknown_pool' : reason === 'malformed' ? 'malformed' : 'bad_key');
      if (this.startWaiters !== undefined) {
        // Bad credentials at start-up: retrying cannot help, so the caller hears at once.
        this.stateValue = 'closed';
        this.startWaiters.reject(error);
        this.startWaiters = undefined;
        return;
      }
      this.onConnectionLost(error);
      return;
    }
    this.onConnectionLost(new GatewayConnectionError(message));
  }

  /*
   * Half-open detection: a connection whose peer vanished (NAT timeout, dropped route)
   * looks healthy to TCP until a write times out, which can take many minutes. An HTTP/2
   * PING (RFC 9113 §6.7) proves the peer's HTTP/2 stack answers; the control-stream ping
   * also carries DATA, which keeps idle-timeout load balancers that ignore PING from
   * cutting the connection. Either answer within the timeout counts as alive.
   */
  private startKeepalive(session: ClientHttp2Session, control: ClientHttp2Stream): void {
    clearInterval(this.keepaliveTimer);
    this.lastPongAt = Date.now();
    this.keepaliveTimer = setInterval(() => {
      if (this.session !== session || session.destroyed) return clearInterval(this.keepaliveTimer);
      const sentAt = Date.now();
      let answered = false;
      const timer = setTimeout(() => {
        if (answered || this.lastPongAt >= sentAt || this.session !== session) return;
        this.logger.warn('gateway did not answer keepalive pings; the connection is half-open', { timeoutMs: this.keepaliveTimeoutMs });
        this.onConnectionLost(new GatewayConnectionError(`No answer to keepalive pings from ${this.gatewayUrl.origin} within ${this.keepaliveTimeoutMs} ms`));
      }, this.keepaliveTimeoutMs);
      timer.unref();
      try {
        session.ping((error) => {
          if (error === null) {
            answered = true;
            clearTimeout(timer);
          }
        });
      } catch {
        // Too many outstanding pings or a closing session: the timer decides.
      }
      if (!control.destroyed) control.write(encodeHead(FrameType.Control, { type: 'ping', id: ++this.pingSequence }));
    }, this.keepaliveIntervalMs);
    this.keepaliveTimer.unref();
  }

  private onControl(message: ControlMessage): void {
    if (message?.type === 'pong') {
      this.lastPongAt = Date.now();
    } else if (message?.type === 'drain-ack') {
      // The gateway will dispatch nothing more here; it closes our idle streams itself.
      this.drainAcked = true;
      this.checkDrained();
    } else if (message?.type === 'ping' && this.control !== undefined) {
      this.control.write(encodeHead(FrameType.Control, { type: 'pong', id: message.id }));
    }
  }

  private onGoaway(session: ClientHttp2Session): void {
    if (this.session !== session) return;
    // The gateway is going away: let in-flight requests finish on the old session and dial
    // a new one now, so the pool keeps capacity (docs/protocol.md § Shutdown).
    this.logger.info('gateway sent GOAWAY; reconnecting', { gateway: this.gatewayUrl.origin });
    this.session = undefined;
    this.control = undefined;
    this.connectionIdValue = undefined;
    clearInterval(this.keepaliveTimer);
    this.pendingStreams = 0;
    const old = [...this.streams];
    this.streams.clear();
    for (const stream of old) {
      if (stream.busy) this.retiring.add(stream);
      else stream.close();
    }
    this.oldSessions.add(session);
    session.once('close', () => this.oldSessions.delete(session));
    session.close();
    // Redial unless stopping, also when the GOAWAY came before authentication finished (the
    // session's own close and auth timer no longer count: this.session is not it any more).
    if (this.stateValue === 'connected' || this.stateValue === 'connecting') {
      this.stateValue = 'connecting';
      // Every agent of that gateway got the GOAWAY in the same instant: a small random
      // delay keeps them from stampeding the remaining gateway instances.
      const delay = this.backoff.jitter();
      this.emit('disconnected', { retryInMs: delay });
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = setTimeout(() => this.dial(), delay);
    }
  }

  private openStream(session: ClientHttp2Session): void {
    if (session.closed || session.destroyed || this.stateValue !== 'connected') return;
    try {
      this.streams.add(new AgentStream(session, this.streamContext));
    } catch (error) {
      this.logger.warn('could not open a tunnel stream', { error: (error as Error).message });
    }
  }

  private onStreamClosed(stream: AgentStream, _hadExchange: boolean): void {
    if (this.retiring.delete(stream)) {
      this.checkDrained();
      return;
    }
    if (!this.streams.delete(stream)) return;
    this.checkDrained();
    const session = this.session;
    if (session === undefined || this.stateValue !== 'connected') return;
    if (stream.refused) {
      // The gateway will not take streams on this connection (draining, key revoked): do not
      // hammer it; once no stream is left, redial with backoff.
      if (this.streams.size === 0) this.onConnectionLost(new GatewayConnectionError('The gateway refused every tunnel stream on this connection'));
      return;
    }
    // Replace a stream reset by an abort or an early answer, while the session lives.
    setImmediate(() => this.openStream(session));
  }

  private checkDrained(): void {
    if (this.stateValue !== 'draining') return;
    for (const stream of this.retiring) if (stream.busy) return;
    if (!this.drainAcked && this.session !== undefined) return;
    for (const stream of this.streams) if (stream.busy) return;
    for (const resolve of this.drainWaiters.splice(0)) resolve();
  }

  private onRecord(record: AgentRequestRecord): void {
    const line = `${record.method} ${record.path} ${record.decision} ${record.status}`;
    this.logger.info(line, { ...record });
    if (this.listenerCount('request') > 0) this.emit('request', record);
  }

  private onConnectionLost(error: VcsAgentError): void {
    this.pendingStreams = 0;
    clearInterval(this.keepaliveTimer);
    const session = this.session;
    this.session = undefined;
    this.control = undefined;
    this.connectionIdValue = undefined;
    for (const stream of this.streams) stream.close(h2constants.NGHTTP2_CANCEL);
    this.streams.clear();
    session?.destroy();
    if (this.stateValue === 'closed') return;
    if (this.stateValue === 'draining') {
      for (const resolve of this.drainWaiters.splice(0)) resolve();
      return;
    }
    this.stateValue = 'connecting';
    const credentials = error instanceof AuthenticationError || error.code === 'VCS_PROXY_AUTH_REQUIRED';
    const delay = this.backoff.next(credentials);
    this.logger.warn(credentials ? 'credentials refused (gateway or proxy)' : 'gateway connection lost', {
      code: error.code,
      error: error.message,
      retryInMs: delay,
    });
    this.emit('disconnected', { error, retryInMs: delay });
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.dial(), delay);
  }
}

function cap(value: number | undefined, option: string): number {
  if (value === undefined) return Infinity;
  if (!Number.isInteger(value) || value <= 0) throw new InvalidOptionError(option, `Invalid ${option}: expected a positive whole number of bytes`);
  return value;
}

function positiveMs(value: number | undefined, fallback: number, option: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new InvalidOptionError(option, `Invalid ${option}: expected a positive number of milliseconds`);
  return value;
}

function tlsForSocket(tls: NonNullable<TunnelClientOptions['tls']>): { ca?: string | Buffer; rejectUnauthorized?: boolean; servername?: string } {
  const out: { ca?: string | Buffer; rejectUnauthorized?: boolean; servername?: string } = {};
  if (tls.ca !== undefined) out.ca = Array.isArray(tls.ca) ? tls.ca.map((item) => item.toString()).join('\n') : tls.ca;
  if (tls.rejectUnauthorized !== undefined) out.rejectUnauthorized = tls.rejectUnauthorized;
  if (tls.servername !== undefined) out.servername = tls.servername;
  return out;
}

function parseTarget(target: string | URL): URL {
  let url: URL;
  try {
    url = typeof target === 'string' ? new URL(target) : new URL(target.href);
  } catch {
    throw new InvalidOptionError('target', `Invalid target base endpoint "${String(target).slice(0, 100)}": expected an http:// or https:// URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidOptionError('target', `Invalid target base endpoint: scheme ${url.protocol} is not http: or https:`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new InvalidOptionError('target', 'Invalid target base endpoint: credentials do not belong in the URL (the platform sends its own)');
  }
  if (url.search !== '' || url.hash !== '') {
    throw new InvalidOptionError('target', 'Invalid target base endpoint: expected no query or fragment');
  }
  return url;
}

function validateMetadata(metadata: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  const entries = Object.entries(metadata);
  if (entries.length > MAX_METADATA_TAGS) throw new InvalidOptionError('metadata', `Too many metadata tags (${entries.length}): at most ${MAX_METADATA_TAGS}`);
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > MAX_METADATA_KEY_LENGTH || !/^[A-Za-z0-9_.-]+$/.test(key)) {
      throw new InvalidOptionError('metadata', `Invalid metadata tag name "${key.slice(0, 80)}": expected 1-${MAX_METADATA_KEY_LENGTH} letters, digits, '_', '.' or '-'`);
    }
    if (typeof value !== 'string' || value.length > MAX_METADATA_VALUE_LENGTH || /[\u0000-\u001f\u007f]/.test(value)) {
      throw new InvalidOptionError('metadata', `Invalid value of metadata tag "${key}": expected at most ${MAX_METADATA_VALUE_LENGTH} printable characters`);
    }
  }
  return Object.freeze({ ...metadata });
}

function collectBody(stream: ClientHttp2Stream): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      if (size < 16_384) chunks.push(chunk);
      size += chunk.length;
    });
    stream.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.once('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function asConnectionError(error: unknown, gateway: URL): VcsAgentError {
  if (error instanceof VcsAgentError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new GatewayConnectionError(`Cannot connect to the gateway ${gateway.origin}: ${message}`, { cause: error });
}
