import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { ClientHttp2Session } from 'node:http2';
import { AuthenticationError, ClosedError, GatewayConnectionError, type VcsAgentError } from '../errors.js';
import type { Logger } from '../logger.js';
import { parseRefusal } from '../protocol/handshake.js';
import type { AgentRequestRecord } from './agent-stream.js';
import { Backoff } from './backoff.js';
import { asConnectionError, dialGateway } from './gateway-dial.js';
import { GatewayConnection } from './gateway-connection.js';
import type { TunnelConnection, TunnelConnectionOwner } from './tunnel-connection.js';
import { resolveTunnelClientOptions, type TunnelClientConfig, type TunnelClientOptions } from './tunnel-client-options.js';

export { AGENT_VERSION } from './gateway-connection.js';
export type { TunnelClientOptions } from './tunnel-client-options.js';

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
  private readonly config: TunnelClientConfig;
  private readonly options: TunnelClientOptions;
  private readonly logger: Logger;
  private readonly backoff: Backoff;
  /** The connection requests arrive on (or the one being set up). */
  private current: TunnelConnection | undefined;
  /** Connections the gateway sent GOAWAY on, finishing their busy exchanges. */
  private readonly retired = new Set<TunnelConnection>();
  private stateValue: TunnelClientState = 'idle';
  private reconnectTimer: NodeJS.Timeout | undefined;
  private startWaiters: { resolve: () => void; reject: (error: Error) => void } | undefined;
  private drainWaiters: Array<() => void> = [];
  /** How this client's connections report to it (kept off the public surface). */
  private readonly owner: TunnelConnectionOwner = {
    onAuthenticated: () => this.onAuthenticated(),
    onReady: (connection) => this.onReady(connection),
    onRefused: (connection, status, body) => this.onRefused(connection, status, body),
    onLost: (connection, error) => this.onLost(connection, error),
    onGoaway: (connection) => this.onGoaway(connection),
    onExchangeDone: () => this.checkDrained(),
    onRecord: (record) => this.onRecord(record),
    mayOpenStreams: (connection) => connection === this.current && this.stateValue === 'connected',
  };

  constructor(options: TunnelClientOptions) {
    super();
    this.config = resolveTunnelClientOptions(options, randomUUID);
    this.options = options;
    this.gatewayUrl = this.config.gatewayUrl;
    this.agentId = this.config.agentId;
    this.logger = this.config.logger;
    this.backoff = new Backoff(options.reconnect);
  }

  get state(): TunnelClientState {
    return this.stateValue;
  }

  /** The gateway's id for the current connection, while connected. */
  get connectionId(): string | undefined {
    return this.current?.connectionId;
  }

  /** Streams open right now, and how many of them carry a request. */
  get streamCounts(): { open: number; busy: number } {
    let busy = this.current?.busy ?? 0;
    for (const connection of this.retired) busy += connection.busy;
    return { open: this.current?.openStreams ?? 0, busy };
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
    this.rejectStart(new ClosedError('The TunnelClient'));
    const timeoutMs = options.timeoutMs ?? 30_000;
    // Until the gateway acknowledges, it may still dispatch to an idle stream: in-flight
    // only counts as finished once drain-ack has arrived (or the control stream is gone).
    const draining = wasConnected && this.current?.requestDrain() === true;
    if (draining || [...this.retired].some((connection) => connection.busy > 0)) await this.waitDrained(timeoutMs);
    this.destroy();
  }

  /** Closes everything at once; in-flight requests fail on both sides. */
  destroy(): void {
    this.stateValue = 'closed';
    clearTimeout(this.reconnectTimer);
    this.rejectStart(new ClosedError('The TunnelClient'));
    this.current?.destroy();
    this.current = undefined;
    for (const connection of this.retired) connection.destroy();
    this.retired.clear();
    this.config.streamContext.upstream.destroy();
    for (const resolve of this.drainWaiters.splice(0)) resolve();
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

  private rejectStart(error: VcsAgentError): boolean {
    const waiters = this.startWaiters;
    this.startWaiters = undefined;
    waiters?.reject(error);
    return waiters !== undefined;
  }

  private dial(): void {
    if (this.stateValue === 'closed' || this.stateValue === 'draining') return;
    this.stateValue = 'connecting';
    if (this.config.protocol === 'spacelift') {
      // Loaded only for this protocol: grpc-js costs RSS an agent of ours need not carry.
      import('./spacelift/spacelift-connection.js').then(
        ({ SpaceliftConnection }) => {
          if (this.stateValue === 'closed' || this.stateValue === 'draining') return;
          let connection: InstanceType<typeof SpaceliftConnection>;
          try {
            connection = new SpaceliftConnection(this.config, this.options, this.owner);
          } catch (error) {
            this.onConnectionLost(asConnectionError(error, this.gatewayUrl));
            return;
          }
          this.current = connection;
          connection.start();
        },
        (error: unknown) => this.onConnectionLost(asConnectionError(error, this.gatewayUrl)),
      );
      return;
    }
    dialGateway(this.gatewayUrl, this.options, this.config.connectTimeoutMs).then(
      (session) => this.attach(session),
      (error: unknown) => {
        const failure = asConnectionError(error, this.gatewayUrl);
        // The proxy wants other credentials: a configuration problem retrying cannot fix.
        if (failure.code === 'VCS_PROXY_AUTH_REQUIRED' && this.startWaiters !== undefined) {
          this.stateValue = 'closed';
          this.rejectStart(failure);
          return;
        }
        this.onConnectionLost(failure);
      },
    );
  }

  private attach(session: ClientHttp2Session): void {
    if (this.stateValue === 'closed' || this.stateValue === 'draining') {
      session.destroy();
      return;
    }
    this.current = new GatewayConnection(session, this.config, this.owner);
  }

  private onAuthenticated(): void {
    this.stateValue = 'connected';
    this.backoff.succeeded();
  }

  private onReady(connection: TunnelConnection): void {
    const connectionId = connection.connectionId ?? '';
    const streams = this.config.parallelism;
    this.logger.info('connected to gateway', { gateway: this.gatewayUrl.origin, pool: this.config.token.pool_ulid, connectionId, streams });
    this.emit('connected', { connectionId, streams });
    this.startWaiters?.resolve();
    this.startWaiters = undefined;
  }

  private onRefused(connection: TunnelConnection, status: number, body: string): void {
    const refusal = parseRefusal(body);
    const message = refusal.message === undefined ? `The gateway refused the connection with HTTP ${status}` : `The gateway refused the agent: ${refusal.message.slice(0, 200)}`;
    connection.destroy();
    if (this.current === connection) this.current = undefined;
    if (status !== 401 && status !== 403) return this.onConnectionLost(new GatewayConnectionError(message));
    const reason = refusal.reason === 'unknown_pool' || refusal.reason === 'malformed' ? refusal.reason : 'bad_key';
    const error = new AuthenticationError(message, reason);
    if (this.startWaiters === undefined) return this.onConnectionLost(error);
    // Bad credentials at start-up: retrying cannot help, so the caller hears at once.
    this.stateValue = 'closed';
    this.rejectStart(error);
  }

  private onLost(connection: TunnelConnection, error: VcsAgentError): void {
    if (connection === this.current) this.onConnectionLost(error);
  }

  private onGoaway(connection: TunnelConnection): void {
    if (connection !== this.current) return;
    // The gateway is going away: let in-flight requests finish on the old session and dial
    // a new one now, so the pool keeps capacity (docs/protocol.md § Shutdown).
    this.logger.info('gateway sent GOAWAY; reconnecting', { gateway: this.gatewayUrl.origin });
    this.current = undefined;
    this.retired.add(connection);
    connection.retire(() => this.retired.delete(connection));
    // Redial unless stopping, also when the GOAWAY came before authentication finished.
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

  /** An exchange ended or a drain was acknowledged: resolve close() once nothing is busy. */
  private checkDrained(): void {
    if (this.stateValue !== 'draining') return;
    for (const connection of this.retired) if (connection.busy > 0) return;
    const current = this.current;
    if (current !== undefined && (!current.drainAcked || current.busy > 0)) return;
    for (const resolve of this.drainWaiters.splice(0)) resolve();
  }

  private onRecord(record: AgentRequestRecord): void {
    const line = `${record.method} ${record.path} ${record.decision} ${record.status}`;
    this.logger.info(line, record as unknown as Record<string, unknown>);
    if (this.listenerCount('request') > 0) this.emit('request', record);
  }

  private onConnectionLost(error: VcsAgentError): void {
    const connection = this.current;
    this.current = undefined;
    connection?.destroy();
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
