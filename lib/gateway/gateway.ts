import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { ulid } from 'ulid';
import {
  ClosedError,
  InvalidOptionError,
  PoolNotFoundError,
  ProtocolError,
  RequestAbortedError,
  VcsAgentError,
} from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { escapeLogValue, redactPathForLog } from '../policy/log-sanitize.js';
import { keyGenerationAllowed, matchPoolKey } from '../pools/pool-key-check.js';
import type { PoolRecord, PoolStore } from '../pools/pool-store.js';
import {
  CONNECT_PATH,
  HEADER_AGENT_ID,
  HEADER_AGENT_VERSION,
  HEADER_CONNECTION_ID,
  HEADER_METADATA,
  HEADER_POOL,
  HEADER_PROTOCOL,
  HEADER_VENDOR,
  MAX_METADATA_KEY_LENGTH,
  MAX_METADATA_TAGS,
  MAX_METADATA_VALUE_LENGTH,
  PROTOCOL_VERSION,
  STREAM_PATH,
} from '../protocol/constants.js';
import { FrameParser, FrameType, encodeHead, type ControlMessage } from '../protocol/frame.js';
import { CONNECTION_WINDOW_SIZE, MAX_SESSION_MEMORY_MB, gatewaySettings } from '../protocol/http2-settings.js';
import { stripHopByHop } from '../protocol/hop-by-hop.js';
import { AgentConnection, type AgentConnectionInfo } from './agent-connection.js';
import { AgentKeepalive, DEFAULT_AGENT_KEEPALIVE } from './agent-keepalive.js';
import type { ExchangeHandler, ExchangeRequest } from './exchange.js';
import { ResponseCollector, type GatewayResponse } from './gateway-response.js';
import { GatewayStream, type ExchangeResult } from './gateway-stream.js';
import { PoolRoute, type PendingExchange } from './pool-route.js';
import { parsePrivateUrl } from './private-url.js';
import { listenServer } from '../util/listen-server.js';
import { positiveInteger } from '../util/positive-integer.js';

/** Options of a `Gateway`. */
export interface GatewayOptions {
  /** Where pools and their key hashes are kept. */
  store: PoolStore;
  /** Receives connection events and the access log (one `info` line per request). */
  logger?: Logger;
  /** PEM certificate and key: agents then connect with TLS (ALPN h2); without, cleartext h2. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** How long a request waits for an idle stream before 503 (default 10 000 ms). */
  queueTimeoutMs?: number;
  /** How many requests may wait per pool before 503 at once (default 1 000). */
  maxQueue?: number;
  /**
   * Every this many ms, re-read the store for each pool with live connections and close the
   * connections it no longer allows (pool deleted, or key replaced and its grace period over),
   * so changes made by another process (`vcs-gateway pool delete|rotate`) take effect.
   * Default: off (changes made through this process's admin API take effect at once).
   */
  revalidateIntervalMs?: number;
  /** How long a connection closed by the gateway (pool deleted, key expired) may finish its in-flight requests (default 30 000 ms). */
  disconnectGraceMs?: number;
  /**
   * Half-open detection: every `intervalMs` (default 30 000) each agent connection gets an
   * HTTP/2 PING; no ACK within `timeoutMs` (default 10 000) and the gateway closes it, fails
   * its in-flight requests and stops routing to it. `false` turns the check off.
   */
  keepalive?: { intervalMs?: number; timeoutMs?: number } | false;
}

/** Why the gateway closed an agent connection itself. */
export type DisconnectReason = 'pool_deleted' | 'key_expired' | 'unresponsive';

/** Live numbers of one pool, for metrics and the admin API. */
export interface PoolLiveStats {
  id: string;
  name: string;
  connections: number;
  streamsBusy: number;
  streamsIdle: number;
  /** Requests waiting for an idle stream. */
  queued: number;
}

/** What `Gateway.request` accepts. */
export interface GatewayRequestInit {
  method?: string;
  /** An object, or flat raw pairs `[name, value, …]` to send repeated headers. */
  headers?: Record<string, string | readonly string[]> | readonly string[];
  body?: string | Uint8Array | Readable | AsyncIterable<Uint8Array> | null;
  signal?: AbortSignal;
}

/**
 * One line of the gateway's access log. `requestId` is the `id` of the agent's own log line
 * for the same request. `bytesOut` is the request body sent to the agent, `bytesIn` the
 * response body received from it. `status` is 0 when no response came (rejected, failed).
 */
export interface AccessLogRecord {
  time: string;
  requestId: string;
  pool: string;
  connectionId?: string;
  agentId?: string;
  method: string;
  path: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  /** Milliseconds the request waited for an idle stream, when the router measured it. */
  queueMs?: number;
  outcome: 'completed' | 'failed' | 'aborted' | 'rejected';
  errorCode?: string;
}

/** Handle on a dispatched request: abort it, or resume a paused response. */
export interface ExchangeControl {
  abort(error?: VcsAgentError): void;
  resume(): void;
}

export interface GatewayEvents {
  'agent-connected': [AgentConnectionInfo];
  'agent-disconnected': [AgentConnectionInfo];
  'agent-refused': [{ pool: string; reason: string; remoteAddress: string }];
  /** The gateway itself closed a connection (it drains first: in-flight requests finish). */
  'agent-evicted': [{ connection: AgentConnectionInfo; reason: DisconnectReason }];
  access: [AccessLogRecord];
}

const DEFAULT_QUEUE_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_QUEUE = 1_000;
const DEFAULT_DISCONNECT_GRACE_MS = 30_000;
const POOL_ID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/**
 * The SaaS side of the tunnel: an HTTP/2 server agents dial out to, a registry of their
 * live connections per pool, and a router that sends each `private://<pool>/<path>`
 * request to an idle stream of that pool.
 *
 * Lifecycle: `listen()` → (`listenFrontDoor()`) → `close()` (graceful: agents are told to
 * drain, in-flight requests finish, queued ones fail with 503) or `destroy()` (at once).
 */
export class Gateway extends EventEmitter<GatewayEvents> {
  private readonly store: PoolStore;
  private readonly logger: Logger;
  private readonly server: Http2Server | Http2SecureServer;
  private readonly routes = new Map<string, PoolRoute>();
  private readonly sessions = new Map<ServerHttp2Session, AgentConnection | undefined>();
  private readonly queueTimeoutMs: number;
  private readonly maxQueue: number;
  private readonly disconnectGraceMs: number;
  private readonly expiryTimers = new Map<string, NodeJS.Timeout>();
  private readonly revalidateTimer: NodeJS.Timeout | undefined;
  private readonly keepalive: AgentKeepalive | undefined;
  private listening = false;
  private closing = false;

  constructor(options: GatewayOptions) {
    super();
    if (options === null || typeof options !== 'object' || options.store === undefined) {
      throw new InvalidOptionError('store', 'Gateway options must include a pool store (store)');
    }
    this.store = options.store;
    this.logger = options.logger ?? silentLogger;
    this.queueTimeoutMs = positiveInteger(options.queueTimeoutMs, DEFAULT_QUEUE_TIMEOUT_MS, 'queueTimeoutMs');
    this.maxQueue = positiveInteger(options.maxQueue, DEFAULT_MAX_QUEUE, 'maxQueue');
    this.disconnectGraceMs = positiveInteger(options.disconnectGraceMs, DEFAULT_DISCONNECT_GRACE_MS, 'disconnectGraceMs');
    if (options.revalidateIntervalMs !== undefined) {
      const interval = positiveInteger(options.revalidateIntervalMs, 0, 'revalidateIntervalMs');
      this.revalidateTimer = setInterval(() => {
        this.revalidate().catch((error: unknown) => this.logger.warn('pool revalidation failed', { error: error instanceof Error ? error.message : String(error) }));
      }, interval);
      this.revalidateTimer.unref();
    }
    if (options.keepalive !== false) {
      if (options.keepalive !== undefined && (options.keepalive === null || typeof options.keepalive !== 'object')) {
        throw new InvalidOptionError('keepalive', 'Invalid keepalive: expected { intervalMs, timeoutMs } or false');
      }
      const intervalMs = positiveInteger(options.keepalive?.intervalMs, DEFAULT_AGENT_KEEPALIVE.intervalMs, 'keepalive.intervalMs');
      const timeoutMs = positiveInteger(options.keepalive?.timeoutMs, DEFAULT_AGENT_KEEPALIVE.timeoutMs, 'keepalive.timeoutMs');
      this.keepalive = new AgentKeepalive({ intervalMs, timeoutMs }, () => this.liveConnections(), (connection) => this.dropUnresponsive(connection, timeoutMs));
    }
    const serverOptions = { settings: gatewaySettings, maxSessionMemory: MAX_SESSION_MEMORY_MB };
    this.server =
      options.tls === undefined
        ? createServer(serverOptions)
        : createSecureServer({ ...serverOptions, cert: options.tls.cert, key: options.tls.key, allowHTTP1: false });
    this.server.on('session', (session) => this.onSession(session));
    this.server.on('stream', (stream, headers) => this.onStream(stream, headers));
  }

  /** Starts accepting agents. Resolves with the bound address (use port 0 for any free port). */
  async listen(options: { host?: string; port?: number } = {}): Promise<AddressInfo> {
    const address = await listenServer(this.server, options);
    this.listening = true;
    return address;
  }

  /** The live connections, of one pool (by name) or of all. */
  connections(pool?: string): AgentConnectionInfo[] {
    const out: AgentConnectionInfo[] = [];
    for (const route of this.routes.values()) {
      if (pool !== undefined && route.name !== pool) continue;
      for (const connection of route.connections) out.push(connection.info());
    }
    return out;
  }

  /** Whether `listen()` succeeded and neither `close()` nor `destroy()` was called: what `/readyz` reports. */
  get ready(): boolean {
    return this.listening && !this.closing;
  }

  /** Whether `close()` or `destroy()` was called. */
  get isClosing(): boolean {
    return this.closing;
  }

  /** Live numbers per pool that has (or had) connections or waiting requests in this process. */
  poolStats(): PoolLiveStats[] {
    const out: PoolLiveStats[] = [];
    for (const route of this.routes.values()) {
      let streamsBusy = 0;
      let streamsIdle = 0;
      for (const connection of route.connections) {
        streamsBusy += connection.busy;
        streamsIdle += connection.idle.length;
      }
      out.push({ id: route.id, name: route.name, connections: route.connections.length, streamsBusy, streamsIdle, queued: route.queued });
    }
    return out;
  }

  /**
   * Closes every connection of a pool (by id or name) because it was deleted: each drains
   * (in-flight requests finish within `disconnectGraceMs`) and gets GOAWAY; requests waiting
   * for it fail with `VCS_POOL_NOT_FOUND`. Its agents are then refused when they dial again,
   * since the store no longer knows the pool. Returns how many connections were closed.
   */
  disconnectPool(idOrName: string, reason: DisconnectReason = 'pool_deleted'): number {
    let closed = 0;
    for (const [name, route] of [...this.routes]) {
      if (route.id !== idOrName && route.name !== idOrName) continue;
      this.routes.delete(name);
      route.failQueued(() => new PoolNotFoundError(route.name));
      for (const connection of [...route.connections]) if (this.evict(connection, reason)) closed++;
      const timer = this.expiryTimers.get(route.id);
      if (timer !== undefined) clearTimeout(timer);
      this.expiryTimers.delete(route.id);
    }
    return closed;
  }

  /**
   * Re-reads the store for each pool with live connections (or only `pool`, by id or name)
   * and closes the connections it no longer allows: the pool was deleted, or the key they
   * authenticated with was replaced and its grace period is over. Returns how many it closed.
   */
  async revalidate(pool?: string): Promise<number> {
    let closed = 0;
    const now = Date.now();
    for (const route of [...this.routes.values()]) {
      if (pool !== undefined && route.id !== pool && route.name !== pool) continue;
      if (route.connections.length === 0) continue;
      const record = await this.store.get(route.id);
      if (record === undefined || record.id !== route.id) {
        closed += this.disconnectPool(route.id, 'pool_deleted');
        continue;
      }
      for (const connection of [...route.connections]) {
        if (connection.draining || keyGenerationAllowed(record, connection.keyGeneration, now)) continue;
        if (this.evict(connection, 'key_expired')) closed++;
      }
    }
    return closed;
  }

  /**
   * Arms the end of a rotated pool's grace period: when `previousKeyExpiresAt` passes, the
   * connections that authenticated with the replaced key are closed (see `revalidate`).
   * Call it with the record `rotatePoolKey` stored.
   */
  schedulePreviousKeyExpiry(record: PoolRecord): void {
    const existing = this.expiryTimers.get(record.id);
    if (existing !== undefined) clearTimeout(existing);
    this.expiryTimers.delete(record.id);
    if (this.closing) return;
    const expires = record.previousKeyExpiresAt === undefined ? Date.now() : Date.parse(record.previousKeyExpiresAt);
    // setTimeout holds at most 2^31-1 ms (~24.8 days); longer waits re-arm themselves.
    const delay = Math.min(Math.max(0, expires - Date.now()), 2 ** 31 - 1);
    const timer = setTimeout(() => {
      this.expiryTimers.delete(record.id);
      if (Date.now() < expires) return this.schedulePreviousKeyExpiry(record);
      this.revalidate(record.id).catch((error: unknown) => this.logger.warn('pool revalidation failed', { pool: record.name, error: error instanceof Error ? error.message : String(error) }));
    }, delay);
    timer.unref();
    this.expiryTimers.set(record.id, timer);
  }

  /**
   * Sends a request to `private://<pool>/<path>` and resolves once the response head
   * arrives; the body streams. Rejects with a `VcsAgentError` (`VCS_POOL_NOT_FOUND`,
   * `VCS_NO_AGENT`, `VCS_POOL_BUSY`, `VCS_STREAM_RESET`, `VCS_ABORTED`, …).
   */
  request(url: string, init: GatewayRequestInit = {}): Promise<GatewayResponse> {
    let target;
    try {
      target = parsePrivateUrl(url);
    } catch (error) {
      return Promise.reject(error);
    }
    const method = init.method ?? 'GET';
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(method)) {
      return Promise.reject(new InvalidOptionError('method', `Invalid method "${method.slice(0, 40)}": expected an HTTP token`));
    }
    const collector = new ResponseCollector();
    const signal = init.signal;
    if (signal?.aborted) return Promise.reject(new RequestAbortedError('The request was aborted before it was sent', { cause: signal.reason }));
    const control = this.dispatch(
      { id: randomUUID(), pool: target.pool, method, path: target.path, rawHeaders: rawHeaderList(init.headers), body: requestBody(init.body), startedAt: performance.now() },
      collector,
    );
    collector.resumeStream = () => control.resume();
    collector.abortStream = (error) => control.abort(error);
    if (signal !== undefined) {
      const onAbort = (): void => control.abort(new RequestAbortedError('The caller aborted the request', { cause: signal.reason }));
      signal.addEventListener('abort', onAbort, { once: true });
      const cleanup = (): void => signal.removeEventListener('abort', onAbort);
      collector.promise.then((response) => {
        response.body.once('close', cleanup);
      }, cleanup);
    }
    return collector.promise;
  }

  /**
   * Routes one request to its pool (the low-level form of `request`, used by the front door).
   * The handler is called back with the response; the returned control aborts or resumes it.
   */
  dispatch(request: ExchangeRequest, handler: ExchangeHandler): ExchangeControl {
    if (this.closing) {
      this.reject(request, handler, new ClosedError('The gateway'));
      return NOOP_CONTROL;
    }
    const route = this.routes.get(request.pool);
    if (route !== undefined && route.connections.length > 0) return route.dispatch(request, handler);
    // No live agent here: tell an unknown pool apart from a pool without agents.
    const deferred = new DeferredControl();
    this.store.get(request.pool).then(
      (record) => {
        if (deferred.aborted) return;
        if (record === undefined || record.name !== request.pool) return this.reject(request, handler, new PoolNotFoundError(request.pool));
        deferred.attach(this.routeFor(record.id, record.name).dispatch(request, handler));
      },
      (error: unknown) => {
        if (deferred.aborted) return;
        this.reject(request, handler, error instanceof VcsAgentError ? error : new VcsAgentError('VCS_STORE_FAILED', 'The pool store failed', { cause: error }));
      },
    );
    deferred.onAbort = (error) => this.reject(request, handler, error);
    return deferred;
  }

  /**
   * Graceful shutdown: stop accepting agents, ask every connection to drain (busy streams
   * finish their exchange), fail queued requests with 503, then close the sessions.
   * After `timeoutMs` (default 30 s) whatever is left is destroyed.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.closing = true;
    this.stopTimers();
    const timeoutMs = options.timeoutMs ?? 30_000;
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const route of this.routes.values()) {
      route.failQueued(() => new ClosedError('The gateway'));
      for (const connection of route.connections) connection.drain();
    }
    // Deferred to the next turn: touching a session in the same tick as a stream reset it
    // is still processing sent Node 20's native HTTP/2 code into a busy loop (found by a
    // review; reproducible only with a reset and a close in one tick).
    setImmediate(() => {
      for (const [session, connection] of [...this.sessions]) {
        // Node 24's http2 server.close() already closes every session (nodejs/node#57586,
        // semver-major in v24), so a closed session still needs its control stream ended here.
        if (session.destroyed) continue;
        if (!session.closed) session.close();
        // The control stream would otherwise hold the session open until the timeout: end it
        // after the GOAWAY, so the agent takes it as part of the goodbye; busy streams finish.
        if (connection !== undefined && !connection.control.destroyed) connection.control.close();
      }
    });
    const timer = setTimeout(() => this.destroy(), timeoutMs);
    timer.unref();
    await serverClosed;
    clearTimeout(timer);
  }

  /** Closes every session and listener at once; in-flight requests fail. */
  destroy(): void {
    this.closing = true;
    this.stopTimers();
    this.server.close();
    // Next turn, for the same reason as in close().
    setImmediate(() => {
      for (const session of this.sessions.keys()) session.destroy();
    });
  }

  private stopTimers(): void {
    if (this.revalidateTimer !== undefined) clearInterval(this.revalidateTimer);
    this.keepalive?.stop();
    for (const timer of this.expiryTimers.values()) clearTimeout(timer);
    this.expiryTimers.clear();
  }

  private *liveConnections(): Generator<AgentConnection> {
    for (const connection of this.sessions.values()) if (connection !== undefined) yield connection;
  }

  /**
   * A connection that did not answer a PING is gone in all but name: no grace period (nothing
   * would arrive in it), its in-flight requests fail now (502) and new ones go elsewhere.
   */
  private dropUnresponsive(connection: AgentConnection, timeoutMs: number): void {
    this.logger.warn('agent did not answer keepalive pings; closing the half-open connection', {
      pool: connection.poolName,
      connectionId: connection.id,
      agentId: connection.agentId,
      timeoutMs,
    });
    connection.drain();
    connection.route.removeConnection(connection);
    if (this.listenerCount('agent-evicted') > 0) this.emit('agent-evicted', { connection: connection.info(), reason: 'unresponsive' });
    connection.session.destroy();
  }

  /** Closes one connection on the gateway's initiative: drain, GOAWAY, destroy after the grace period. */
  private evict(connection: AgentConnection, reason: DisconnectReason): boolean {
    if (connection.session.closed || connection.session.destroyed) return false;
    this.logger.info('agent evicted', { pool: connection.poolName, connectionId: connection.id, agentId: connection.agentId, reason });
    connection.drain();
    // No new work goes to a draining connection; the route lets go of it now so requests
    // for the pool are answered from the store (404 once deleted) rather than queued.
    connection.route.removeConnection(connection);
    if (this.listenerCount('agent-evicted') > 0) this.emit('agent-evicted', { connection: connection.info(), reason });
    const session = connection.session;
    // GOAWAY first, so the agent takes the control stream's end that follows as part of
    // the goodbye (it redials at once) rather than as a lost connection; busy streams finish.
    session.close();
    if (!connection.control.destroyed) connection.control.close();
    const timer = setTimeout(() => {
      if (!session.destroyed) session.destroy();
    }, this.disconnectGraceMs);
    timer.unref();
    session.once('close', () => clearTimeout(timer));
    return true;
  }

  private routeFor(id: string, name: string): PoolRoute {
    let route = this.routes.get(name);
    if (route === undefined || route.id !== id) {
      route = new PoolRoute(id, name, {
        queueTimeoutMs: this.queueTimeoutMs,
        maxQueue: this.maxQueue,
        onRejected: (request, error) => this.recordRejected(request, error),
      });
      this.routes.set(name, route);
    }
    return route;
  }

  private reject(request: ExchangeRequest, handler: ExchangeHandler, error: VcsAgentError): void {
    this.recordRejected(request, error);
    handler.onError(error);
  }

  private recordRejected(request: ExchangeRequest, error: VcsAgentError): void {
    this.access(request, undefined, { status: 0, bytesIn: 0, bytesOut: 0, error }, error instanceof RequestAbortedError ? 'aborted' : 'rejected');
  }

  private access(
    request: ExchangeRequest,
    connection: AgentConnection | undefined,
    result: ExchangeResult,
    outcome: AccessLogRecord['outcome'],
  ): void {
    const record: AccessLogRecord = {
      time: new Date().toISOString(),
      requestId: request.id,
      pool: request.pool,
      method: escapeLogValue(request.method.slice(0, 32)),
      // No secret query values (private_token=…) and no control characters in the access log.
      path: escapeLogValue(redactPathForLog(request.path)),
      status: result.status,
      bytesIn: result.bytesIn,
      bytesOut: result.bytesOut,
      durationMs: Math.round((performance.now() - request.startedAt) * 1000) / 1000,
      outcome,
    };
    if (connection !== undefined) {
      record.connectionId = connection.id;
      record.agentId = connection.agentId;
    }
    if (result.error !== undefined) record.errorCode = result.error.code;
    this.logger.info('access', { ...record });
    if (this.listenerCount('access') > 0) this.emit('access', record);
  }

  private onSession(session: ServerHttp2Session): void {
    this.sessions.set(session, undefined);
    session.on('error', () => {}); // reported through 'close'
    session.once('connect', () => {
      // Raise the connection window (see http2-settings.ts); only valid once connected.
      try {
        session.setLocalWindowSize(CONNECTION_WINDOW_SIZE);
      } catch {
        // The session died while connecting: 'close' follows.
      }
    });
    session.once('close', () => {
      const connection = this.sessions.get(session);
      this.sessions.delete(session);
      if (connection === undefined) return;
      connection.route.removeConnection(connection);
      for (const stream of connection.streams) stream.close();
      this.logger.info('agent disconnected', { pool: connection.poolName, connectionId: connection.id, agentId: connection.agentId });
      this.emit('agent-disconnected', connection.info());
    });
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', () => {});
    const path = headers[':path'];
    const connection = this.sessions.get(stream.session as ServerHttp2Session);
    if (path === STREAM_PATH && headers[':method'] === 'POST') {
      if (connection === undefined) return refuse(stream, 401, 'VCS_AUTH_FAILED', 'Open the connect stream and authenticate first');
      if (connection.draining) return refuse(stream, 503, 'VCS_CLOSED', 'This connection is draining');
      stream.respond({ ':status': 200 });
      connection.addStream(new GatewayStream(stream, connection));
      return;
    }
    if (path === CONNECT_PATH && headers[':method'] === 'POST') {
      if (connection !== undefined) return refuse(stream, 409, 'VCS_PROTOCOL_ERROR', 'This connection is already authenticated');
      this.authenticate(stream, headers).catch((error: unknown) => {
        this.logger.error('agent authentication failed', { error: error instanceof Error ? error.message : String(error) });
        refuse(stream, 500, 'VCS_STORE_FAILED', 'The gateway could not check the credentials');
      });
      return;
    }
    refuse(stream, 404, 'VCS_PROTOCOL_ERROR', 'Unknown path');
  }

  private async authenticate(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
    const session = stream.session as ServerHttp2Session;
    const remoteAddress = `${session.socket?.remoteAddress ?? '?'}:${session.socket?.remotePort ?? '?'}`;
    const poolId = single(headers[HEADER_POOL]);
    const refused = (status: number, code: string, reason: string, message: string): void => {
      // The key is never logged: only the pool id the agent claimed and why it was refused.
      this.logger.warn('agent refused', { pool: poolId?.slice(0, 40) ?? '', reason, remoteAddress });
      if (this.listenerCount('agent-refused') > 0) this.emit('agent-refused', { pool: poolId?.slice(0, 40) ?? '', reason, remoteAddress });
      refuse(stream, status, code, message, reason);
    };
    if (this.closing) return refused(503, 'VCS_CLOSED', 'closing', 'The gateway is shutting down');
    if (single(headers[HEADER_PROTOCOL]) !== PROTOCOL_VERSION) {
      return refused(400, 'VCS_PROTOCOL_ERROR', 'protocol_version', `Unsupported protocol version: this gateway speaks ${PROTOCOL_VERSION}`);
    }
    const authorization = single(headers.authorization);
    if (poolId === undefined || !POOL_ID_PATTERN.test(poolId) || authorization === undefined || !authorization.startsWith('Bearer ')) {
      return refused(401, 'VCS_AUTH_FAILED', 'malformed', 'Missing or malformed pool id or key');
    }
    const record = await this.store.get(poolId);
    if (record === undefined || record.id !== poolId) return refused(401, 'VCS_AUTH_FAILED', 'unknown_pool', `Unknown pool ${poolId}`);
    const keyGeneration = matchPoolKey(record, authorization.slice('Bearer '.length));
    if (keyGeneration === undefined) {
      return refused(401, 'VCS_AUTH_FAILED', 'bad_key', `Wrong key for pool ${poolId}`);
    }
    let metadata: Record<string, string>;
    try {
      metadata = parseMetadata(single(headers[HEADER_METADATA]));
    } catch (error) {
      return refused(400, 'VCS_PROTOCOL_ERROR', 'metadata', (error as Error).message);
    }
    if (session.closed || session.destroyed || stream.destroyed) return;
    const route = this.routeFor(record.id, record.name);
    const connection = new AgentConnection(
      ulid(),
      session,
      stream,
      record.id,
      record.name,
      boundedHeader(headers[HEADER_AGENT_ID], 'unknown'),
      boundedHeader(headers[HEADER_AGENT_VERSION], 'unknown'),
      boundedHeader(headers[HEADER_VENDOR], 'unknown'),
      metadata,
      remoteAddress,
      route,
      (conn, request, result) =>
        this.access(request, conn, result, result.error === undefined ? 'completed' : result.error instanceof RequestAbortedError ? 'aborted' : 'failed'),
    );
    connection.keyGeneration = keyGeneration;
    this.sessions.set(session, connection);
    route.addConnection(connection);
    stream.respond({ ':status': 200, [HEADER_CONNECTION_ID]: connection.id });
    const parser = new FrameParser({
      onHead: (type, message) => {
        if (type !== FrameType.Control) throw new ProtocolError('Only control frames belong on the connect stream');
        this.onControl(connection, message as ControlMessage);
      },
      onBody: () => {
        throw new ProtocolError('Body frame on the connect stream');
      },
      onEnd: () => {
        throw new ProtocolError('End frame on the connect stream');
      },
    });
    stream.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk);
      } catch {
        session.destroy();
      }
    });
    // The control stream lives as long as the connection; if it goes, so does the session.
    stream.once('close', () => {
      if (!session.closed) session.close();
    });
    this.logger.info('agent connected', { pool: record.name, connectionId: connection.id, agentId: connection.agentId, remoteAddress, metadata, keyGeneration });
    this.emit('agent-connected', connection.info());
  }

  private onControl(connection: AgentConnection, message: ControlMessage): void {
    switch (message?.type) {
      case 'drain': {
        connection.drain();
        // The ack tells the agent that every request sent to it is already in its hands.
        // HTTP/2 orders frames within a stream only (RFC 9113 §5.1), and Node 24 does put a
        // request head written earlier on a tunnel stream after an ack on the control stream;
        // so ack once each busy stream's response has begun (or its exchange ended).
        const busy = [...connection.streams].filter((stream) => stream.busy).map((stream) => stream.seenByAgent);
        void Promise.all(busy).then(() => {
          if (!connection.control.destroyed) connection.control.write(encodeHead(FrameType.Control, { type: 'drain-ack' }));
        });
        break;
      }
      case 'ping':
        connection.control.write(encodeHead(FrameType.Control, { type: 'pong', id: message.id }));
        break;
      default:
        break;
    }
  }
}

const NOOP_CONTROL: ExchangeControl = { abort: () => {}, resume: () => {} };

/** Control for a request whose pool is still being looked up. */
class DeferredControl implements ExchangeControl {
  aborted = false;
  private pending: PendingExchange | undefined;
  onAbort: (error: VcsAgentError) => void = () => {};

  attach(pending: PendingExchange): void {
    this.pending = pending;
  }

  abort(error: VcsAgentError = new RequestAbortedError()): void {
    if (this.pending !== undefined) return this.pending.abort(error);
    if (this.aborted) return;
    this.aborted = true;
    this.onAbort(error);
  }

  resume(): void {
    this.pending?.resume();
  }
}

function refuse(stream: ServerHttp2Stream, status: number, code: string, message: string, reason?: string): void {
  if (stream.destroyed || stream.headersSent) return;
  const body = JSON.stringify({ error: { code, message, ...(reason === undefined ? {} : { reason }) } });
  stream.respond({ ':status': status, 'content-type': 'application/json' });
  stream.end(body);
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function boundedHeader(value: string | string[] | undefined, fallback: string): string {
  const text = single(value);
  return text === undefined || text === '' ? fallback : text.slice(0, 128);
}

function parseMetadata(value: string | undefined): Record<string, string> {
  if (value === undefined || value === '') return {};
  const parsed: unknown = JSON.parse(value);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ProtocolError('Metadata must be a JSON object');
  const entries = Object.entries(parsed as Record<string, unknown>);
  if (entries.length > MAX_METADATA_TAGS) throw new ProtocolError(`At most ${MAX_METADATA_TAGS} metadata tags are accepted`);
  const out: Record<string, string> = {};
  for (const [key, tag] of entries) {
    if (key.length === 0 || key.length > MAX_METADATA_KEY_LENGTH || typeof tag !== 'string' || tag.length > MAX_METADATA_VALUE_LENGTH) {
      throw new ProtocolError('Metadata tags must be short strings');
    }
    out[key] = tag;
  }
  return out;
}


function rawHeaderList(headers: GatewayRequestInit['headers']): string[] {
  if (headers === undefined) return [];
  if (Array.isArray(headers)) {
    if (headers.length % 2 !== 0) throw new InvalidOptionError('headers', 'Raw headers must be [name, value, …] pairs');
    return stripHopByHop(headers as readonly string[]);
  }
  const out: string[] = [];
  for (const [name, value] of Object.entries(headers as Record<string, string | readonly string[]>)) {
    if (Array.isArray(value)) for (const item of value as readonly string[]) out.push(name, item);
    else out.push(name, value as string);
  }
  return stripHopByHop(out);
}

function requestBody(body: GatewayRequestInit['body']): Readable | Buffer | null {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof Readable) return body;
  return Readable.from(body as AsyncIterable<Uint8Array>);
}
