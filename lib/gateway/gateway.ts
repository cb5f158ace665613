import { EventEmitter } from 'node:events';
import type { Http2SecureServer, Http2Server, IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { ulid } from 'ulid';
import { ClosedError, InvalidOptionError, VcsAgentError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { PoolRecord, PoolStore } from '../pools/pool-store.js';
import { CONNECT_PATH, HEADER_CONNECTION_ID, STREAM_PATH } from '../protocol/constants.js';
import { refuseStream } from '../protocol/handshake.js';
import { destroySession } from '../protocol/session-socket.js';
import { listenServer } from '../util/listen-server.js';
import { optionalFunction } from '../util/optional-function.js';
import { positiveInteger } from '../util/positive-integer.js';
import { decisionOf } from './access-log.js';
import { LoggedExchange } from './access-record.js';
import { AgentConnection, type AgentConnectionInfo } from './agent-connection.js';
import { checkAgentHello } from './agent-handshake.js';
import { AgentKeepalive, keepaliveOptions } from './agent-keepalive.js';
import { checkRenewedTls, createAgentServer, type AgentListenerTls } from './agent-server.js';
import { AgentRegistry } from './agent-registry.js';
import { GatewayCluster } from './cluster/gateway-cluster.js';
import { NOOP_CONTROL } from './deferred-control.js';
import type { ExchangeHandler, ExchangeRequest } from './exchange.js';
import type { GatewayResponse } from './gateway-response.js';
import { requestThrough } from './gateway-request.js';
import { GatewayStream } from './gateway-stream.js';
import { RequestRouter } from './request-router.js';
import type { SpaceliftListener } from './spacelift/spacelift-listener.js';
import type { AccessLogRecord, DisconnectReason, ExchangeControl, GatewayEvents, GatewayOptions, GatewayRequestInit, PoolLiveStats } from './gateway-types.js';

export type { AccessLogRecord, DisconnectReason, ExchangeControl, GatewayEvents, GatewayOptions, GatewayRequestInit, PoolLiveStats, SpaceliftGatewayOptions } from './gateway-types.js';

const DEFAULT_QUEUE_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_QUEUE = 1_000;
const DEFAULT_DISCONNECT_GRACE_MS = 30_000;

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
  private readonly registry: AgentRegistry;
  private readonly router: RequestRouter;
  private readonly bodyBound: { bodyIdleTimeoutMs?: number }; // request() bodies' idle bound (issue 13 bug 5), kept by GatewayStream
  private readonly onBodyChunk: ((bytes: number) => void) | undefined;
  private readonly revalidateTimer: NodeJS.Timeout | undefined;
  private readonly keepalive: AgentKeepalive | undefined;
  private tls: GatewayOptions['tls'];
  private readonly spaceliftMaxMessageBytes: number | undefined;
  private spacelift: SpaceliftListener | undefined;
  /** The replica's link to the shared state, with `GatewayOptions.cluster`. */
  readonly cluster: GatewayCluster | undefined;
  private readonly recordAccess = (record: AccessLogRecord): void => {
    this.logger.info('access', record as unknown as Record<string, unknown>);
    this.cluster?.accessLog.add({ ...record, decision: decisionOf(record) });
    if (this.listenerCount('access') > 0) this.emit('access', record);
  };
  private listening = false;
  private closing = false;

  constructor(options: GatewayOptions) {
    super();
    if (options === null || typeof options !== 'object' || (options.store === undefined && options.cluster === undefined)) {
      throw new InvalidOptionError('store', 'Gateway options must include a pool store (store) or a cluster');
    }
    this.logger = options.logger ?? silentLogger;
    this.cluster = options.cluster === undefined ? undefined : new GatewayCluster(options.cluster, this.logger);
    this.store = options.store ?? (this.cluster as GatewayCluster).store;
    this.onBodyChunk = optionalFunction(options.onBodyChunk, 'onBodyChunk');
    this.bodyBound = options.requestBodyIdleTimeoutMs === undefined ? {} : { bodyIdleTimeoutMs: positiveInteger(options.requestBodyIdleTimeoutMs, 0, 'requestBodyIdleTimeoutMs') };
    this.registry = new AgentRegistry({
      store: this.store,
      logger: this.logger,
      queueTimeoutMs: positiveInteger(options.queueTimeoutMs, DEFAULT_QUEUE_TIMEOUT_MS, 'queueTimeoutMs'),
      maxQueue: positiveInteger(options.maxQueue, DEFAULT_MAX_QUEUE, 'maxQueue'),
      disconnectGraceMs: positiveInteger(options.disconnectGraceMs, DEFAULT_DISCONNECT_GRACE_MS, 'disconnectGraceMs'),
      onEvicted: (connection, reason) => void (this.listenerCount('agent-evicted') > 0 && this.emit('agent-evicted', { connection: connection.info(), reason })),
    });
    if (options.revalidateIntervalMs !== undefined) {
      const interval = positiveInteger(options.revalidateIntervalMs, 0, 'revalidateIntervalMs');
      this.revalidateTimer = setInterval(() => {
        this.revalidate().catch((error: unknown) => this.logger.warn('pool revalidation failed', { error: error instanceof Error ? error.message : String(error) }));
      }, interval);
      this.revalidateTimer.unref();
    }
    const keepalive = keepaliveOptions(options.keepalive);
    this.keepalive = keepalive === undefined ? undefined : new AgentKeepalive(keepalive, () => this.registry.live(), (connection) => this.registry.dropUnresponsive(connection, keepalive.timeoutMs));
    const maxMessageBytes = options.spacelift?.maxMessageBytes;
    this.spaceliftMaxMessageBytes = maxMessageBytes === undefined ? undefined : positiveInteger(maxMessageBytes, 0, 'spacelift.maxMessageBytes');
    this.tls = options.tls;
    this.server = createAgentServer(options.tls);
    this.server.on('session', (session) => this.registry.trackSession(session, (connection) => this.emit('agent-disconnected', connection.info())));
    this.server.on('stream', (stream, headers) => this.onStream(stream, headers));
    this.router = new RequestRouter(this.registry, this.store, (local) => this.cluster?.forwarderFor(local, this.onBodyChunk));
  }

  /** Starts accepting agents. Resolves with the bound address (use port 0 for any free port). */
  async listen(options: { host?: string; port?: number } = {}): Promise<AddressInfo> {
    // Never rejects for Redis: an unreachable one leaves the replica not ready until it is back.
    await this.cluster?.start(this);
    const address = await listenServer(this.server, options);
    this.listening = true;
    return address;
  }

  /**
   * Starts accepting Spacelift's own VCS agents (gRPC `privatevcs.Gateway/Connect`, with TLS
   * when `tls` is set) on a listener of their own; resolves with its bound address.
   */
  async listenSpacelift(options: { host?: string; port?: number } = {}): Promise<AddressInfo> {
    // Loaded on first use: gRPC's modules cost ~18 MiB of RSS a gateway without it should not carry.
    const { SpaceliftListener } = await import('./spacelift/spacelift-listener.js');
    if (this.closing) throw new ClosedError('The gateway');
    this.spacelift ??= new SpaceliftListener({
      store: this.store,
      registry: this.registry,
      logger: this.logger,
      ...(this.spaceliftMaxMessageBytes === undefined ? {} : { maxMessageBytes: this.spaceliftMaxMessageBytes }),
      ...(this.tls === undefined ? {} : { tls: this.tls }),
      ...(this.keepalive === undefined ? {} : { keepalive: this.keepalive.options }),
      closing: () => this.closing,
      onConnected: (info) => this.emit('agent-connected', info),
      onDisconnected: (info) => this.emit('agent-disconnected', info),
      onRefused: (event) => void (this.listenerCount('agent-refused') > 0 && this.emit('agent-refused', event)),
      onBodyChunk: this.onBodyChunk,
    });
    return this.spacelift.listen(options);
  }

  /**
   * Starts taking requests other replicas forward (`cluster.peer`): cleartext HTTP/2 on its
   * own listener, advertised in the live registry. Resolves with the bound address.
   */
  listenPeers(options: { host?: string; port?: number } = {}): Promise<AddressInfo> {
    return this.cluster?.listenPeers(this, options) ?? Promise.reject(new InvalidOptionError('cluster', 'listenPeers() needs a replicated gateway (cluster with peer)'));
  }

  /**
   * Serves a renewed certificate and key (`tls`) to agents' new connections, on both agent
   * listeners; connections already up keep theirs. Throws `InvalidOptionError` naming `tls`
   * when the gateway was built without TLS or the pair does not load together.
   */
  setTls(tls: AgentListenerTls): void {
    if (this.tls === undefined) throw new InvalidOptionError('tls', 'setTls() needs a gateway built with tls');
    this.tls = checkRenewedTls(tls);
    (this.server as Http2SecureServer).setSecureContext(this.tls);
    this.spacelift?.setTls(this.tls);
  }

  /** The live connections of this replica, of one pool (by name) or of all. */
  connections(pool?: string): AgentConnectionInfo[] {
    return this.registry.connections(pool);
  }

  /** Whether `listen()` succeeded and neither `close()` nor `destroy()` was called: what `/readyz` reports. */
  get ready(): boolean {
    return this.listening && !this.closing && (this.cluster?.notReadyReason === undefined);
  }

  /** Why the gateway is not ready (`shutting down`, `redis unreachable since …`), or undefined when it is. */
  get notReadyReason(): string | undefined {
    if (this.closing) return 'shutting down';
    if (!this.listening) return 'not listening';
    return this.cluster?.notReadyReason;
  }

  /** Whether `close()` or `destroy()` was called. */
  get isClosing(): boolean {
    return this.closing;
  }

  /** Live numbers per pool that has (or had) connections or waiting requests in this process. */
  poolStats(): PoolLiveStats[] {
    return this.registry.poolStats();
  }

  /**
   * Closes every connection of a pool (by id or name) because it was deleted: each drains
   * (in-flight requests finish within `disconnectGraceMs`) and gets GOAWAY; requests waiting
   * for it fail with `VCS_POOL_NOT_FOUND`. Its agents are then refused when they dial again,
   * since the store no longer knows the pool. Returns how many connections were closed.
   */
  disconnectPool(idOrName: string, reason: DisconnectReason = 'pool_deleted'): number {
    return this.registry.disconnectPool(idOrName, reason);
  }

  /**
   * Re-reads the store for each pool with live connections (or only `pool`, by id or name)
   * and closes the connections it no longer allows: the pool was deleted, or the key they
   * authenticated with was replaced and its grace period is over. Returns how many it closed.
   */
  revalidate(pool?: string): Promise<number> {
    return this.registry.revalidate(pool);
  }

  /**
   * Arms the end of a rotated pool's grace period: when `previousKeyExpiresAt` passes, the
   * connections that authenticated with the replaced key are closed (see `revalidate`).
   * Call it with the record `rotatePoolKey` stored.
   */
  schedulePreviousKeyExpiry(record: PoolRecord): void {
    if (this.closing) this.registry.clearExpiry(record.id);
    else this.registry.schedulePreviousKeyExpiry(record);
  }

  /**
   * Sends a request to `private://<pool>/<path>` and resolves once the response head
   * arrives; the body streams. Rejects with a `VcsAgentError` (`VCS_POOL_NOT_FOUND`,
   * `VCS_NO_AGENT`, `VCS_POOL_BUSY`, `VCS_STREAM_RESET`, `VCS_ABORTED`, …).
   */
  request(url: string, init: GatewayRequestInit = {}): Promise<GatewayResponse> {
    return requestThrough((request, handler) => this.dispatch({ ...request, ...this.bodyBound }, handler), url, init);
  }

  /**
   * Routes one request to its pool (the low-level form of `request`, used by the front door).
   * The handler is called back with the response; the returned control aborts or resumes it.
   */
  dispatch(request: ExchangeRequest, handler: ExchangeHandler): ExchangeControl {
    // Every request, whatever becomes of it, leaves one access record through this wrapper.
    const logged = new LoggedExchange(request, handler, this.recordAccess);
    if (!this.closing) return this.router.dispatch(request, logged);
    logged.onError(new ClosedError('The gateway'));
    return NOOP_CONTROL;
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
    for (const route of this.registry.routes.values()) {
      route.failQueued(() => new ClosedError('The gateway'));
      for (const connection of route.connections) connection.drain();
    }
    // Deferred to the next turn: touching a session in the same tick as a stream reset it
    // is still processing sent Node 20's native HTTP/2 code into a busy loop (found by a
    // review; reproducible only with a reset and a close in one tick).
    setImmediate(() => {
      for (const [session, connection] of [...this.registry.sessions]) {
        // Node 24's http2 server.close() already closes every session (nodejs/node#57586,
        // semver-major in v24), so a closed session still needs its control stream ended here.
        if (session.destroyed) continue;
        if (!session.closed) session.close();
        // The control stream would otherwise hold the session open until the timeout: end it
        // after the GOAWAY, so the agent takes it as part of the goodbye; busy streams finish.
        if (connection !== undefined && connection.control.open) connection.control.stream.close();
      }
    });
    const timer = setTimeout(() => this.destroy(), timeoutMs);
    timer.unref();
    await Promise.all([serverClosed, this.spacelift?.close(timeoutMs), this.cluster?.drainPeers()]);
    clearTimeout(timer);
    // Last: the requests that finished while draining still reach the shared access log.
    await this.cluster?.stop();
  }

  /** Closes every session and listener at once; in-flight requests fail. */
  destroy(): void {
    this.closing = true;
    this.stopTimers();
    this.cluster?.stop().catch(() => undefined);
    this.server.close();
    this.spacelift?.destroy();
    // Next turn, for the same reason as in close().
    setImmediate(() => {
      for (const session of this.registry.sessions.keys()) destroySession(session);
    });
  }

  private stopTimers(): void {
    if (this.revalidateTimer !== undefined) clearInterval(this.revalidateTimer);
    this.keepalive?.stop();
    this.registry.stop();
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', () => {});
    const path = headers[':path'];
    const connection = this.registry.sessions.get(stream.session as ServerHttp2Session);
    if (path === STREAM_PATH && headers[':method'] === 'POST') {
      if (connection === undefined) return refuseStream(stream, 401, 'VCS_AUTH_FAILED', 'Open the connect stream and authenticate first');
      if (connection.draining) return refuseStream(stream, 503, 'VCS_CLOSED', 'This connection is draining');
      stream.respond({ ':status': 200 });
      connection.addStream(new GatewayStream(stream, connection, this.onBodyChunk));
      return;
    }
    if (path === CONNECT_PATH && headers[':method'] === 'POST') {
      if (connection !== undefined) return refuseStream(stream, 409, 'VCS_PROTOCOL_ERROR', 'This connection is already authenticated');
      this.authenticate(stream, headers).catch((error: unknown) => {
        this.logger.error('agent authentication failed', { error: error instanceof Error ? error.message : String(error) });
        // Fail closed either way; 503 tells the agent the store is away for now (Redis down).
        if (error instanceof VcsAgentError && error.code === 'VCS_STORE_UNAVAILABLE') refuseStream(stream, 503, 'VCS_STORE_UNAVAILABLE', 'The gateway cannot reach its pool store now');
        else refuseStream(stream, 500, 'VCS_STORE_FAILED', 'The gateway could not check the credentials');
      });
      return;
    }
    refuseStream(stream, 404, 'VCS_PROTOCOL_ERROR', 'Unknown path');
  }

  private async authenticate(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
    const session = stream.session as ServerHttp2Session;
    const remoteAddress = `${session.socket?.remoteAddress ?? '?'}:${session.socket?.remotePort ?? '?'}`;
    const outcome = await checkAgentHello(headers, this.store, this.closing);
    if (outcome.kind === 'refused') {
      // The key is never logged: only the pool id the agent claimed and why it was refused.
      const { poolId: pool, reason } = outcome;
      this.logger.warn('agent refused', { pool, reason, remoteAddress });
      if (this.listenerCount('agent-refused') > 0) this.emit('agent-refused', { pool, reason, remoteAddress });
      return refuseStream(stream, outcome.status, outcome.code, outcome.message, reason);
    }
    if (session.closed || session.destroyed || stream.destroyed) return;
    const { record, hello, metadata, keyGeneration } = outcome;
    const route = this.registry.routeFor(record.id, record.name);
    const identity = { id: ulid(), protocol: 'vcs-agent' as const, poolId: record.id, poolName: record.name, agentId: hello.agentId, agentVersion: hello.agentVersion, vendor: hello.vendor, metadata, remoteAddress, keyGeneration };
    const connection = new AgentConnection(identity, session, stream, route);
    this.registry.sessions.set(session, connection);
    route.addConnection(connection);
    stream.respond({ ':status': 200, [HEADER_CONNECTION_ID]: connection.id });
    this.logger.info('agent connected', { pool: record.name, connectionId: connection.id, agentId: connection.agentId, remoteAddress, metadata, keyGeneration });
    this.emit('agent-connected', connection.info());
  }
}
