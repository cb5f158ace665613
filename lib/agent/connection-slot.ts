import type { ClientHttp2Session } from 'node:http2';
import { AuthenticationError, GatewayConnectionError, type VcsAgentError } from '../errors.js';
import { loggerWithFields, type Logger } from '../logger.js';
import { destroySession } from '../protocol/session-socket.js';
import { parseRefusal } from '../protocol/handshake.js';
import type { AgentRequestRecord } from './agent-stream.js';
import { Backoff } from './backoff.js';
import { asConnectionError, dialGateway } from './gateway-dial.js';
import { GatewayConnection } from './gateway-connection.js';
import type { TunnelClientConfig, TunnelClientOptions } from './tunnel-client-options.js';
import type { TunnelConnection, TunnelConnectionOwner } from './tunnel-connection.js';

/** Where one of a `TunnelClient`'s gateway connections stands. */
export type ConnectionSlotState = 'idle' | 'connecting' | 'connected' | 'draining' | 'closed';

/** One gateway connection of a `TunnelClient`, as its `connections` getter shows it. */
export interface TunnelConnectionInfo {
  /** Which of the client's `gatewayConnections` this is (0-based); it keeps its number across redials. */
  readonly slot: number;
  /** The gateway's id for the connection in use (undefined until authenticated). */
  readonly connectionId: string | undefined;
  readonly state: ConnectionSlotState;
  /** Streams open on the connection in use, and busy ones (a connection the gateway retired included). */
  readonly streams: { readonly open: number; readonly busy: number };
}

/** What a slot reports to the `TunnelClient` that owns it. */
export interface ConnectionSlotOwner {
  /** Whether `start()` still waits: credentials refused now reject it rather than being retried. */
  starting(): boolean;
  /** Every stream of a new connection was accepted. */
  onReady(slot: ConnectionSlot, connectionId: string, streams: number): void;
  /** The slot's connection is gone (or retired by GOAWAY); a redial follows in `retryInMs`. */
  onDisconnected(slot: ConnectionSlot, event: { error?: VcsAgentError; retryInMs?: number }): void;
  /** Credentials refused while `start()` waits: retrying cannot fix them. The slot has stopped. */
  onFatal(slot: ConnectionSlot, error: VcsAgentError): void;
  /** An exchange ended, a drain was acknowledged or a connection went while draining. */
  onExchangeDone(): void;
  onRecord(record: AgentRequestRecord): void;
}

/**
 * One of a `TunnelClient`'s `gatewayConnections`: dials its own connection (a TCP dial of
 * its own, so a load balancer may pick another gateway replica for it), redials it with its
 * own backoff when lost, and on GOAWAY lets the old connection finish its busy exchanges
 * while it dials a new one. Slots know nothing of each other.
 */
export class ConnectionSlot {
  private readonly config: TunnelClientConfig;
  private readonly logger: Logger;
  /** The injected logger itself, for the per-request line (see onRecord). */
  private readonly baseLogger: Logger;
  private readonly backoff: Backoff;
  /** The connection requests arrive on (or the one being set up). */
  private current: TunnelConnection | undefined;
  /** Connections the gateway sent GOAWAY on, finishing their busy exchanges. */
  private readonly retired = new Set<TunnelConnection>();
  private stateValue: ConnectionSlotState = 'idle';
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** How this slot's connections report to it. */
  private readonly connectionOwner: TunnelConnectionOwner = {
    onAuthenticated: () => this.onAuthenticated(),
    onReady: (connection) => this.onReady(connection),
    onRefused: (connection, status, body) => this.onRefused(connection, status, body),
    onLost: (connection, error) => {
      if (connection === this.current) this.onConnectionLost(error);
    },
    onGoaway: (connection) => this.onGoaway(connection),
    onExchangeDone: () => this.owner.onExchangeDone(),
    onRecord: (record) => this.onRecord(record),
    mayOpenStreams: (connection) => connection === this.current && this.stateValue === 'connected',
  };

  constructor(
    readonly index: number,
    config: TunnelClientConfig,
    private readonly options: TunnelClientOptions,
    private readonly owner: ConnectionSlotOwner,
  ) {
    // Every line this slot and its connections log names the slot.
    this.baseLogger = config.logger;
    this.logger = loggerWithFields(config.logger, { slot: index });
    this.config = { ...config, logger: this.logger };
    this.backoff = new Backoff(options.reconnect);
  }

  get state(): ConnectionSlotState {
    return this.stateValue;
  }

  get connectionId(): string | undefined {
    return this.current?.connectionId;
  }

  get streamCounts(): { open: number; busy: number } {
    let busy = this.current?.busy ?? 0;
    for (const connection of this.retired) busy += connection.busy;
    return { open: this.current?.openStreams ?? 0, busy };
  }

  info(): TunnelConnectionInfo {
    return { slot: this.index, connectionId: this.connectionId, state: this.stateValue, streams: this.streamCounts };
  }

  start(): void {
    if (this.stateValue === 'idle') this.dial();
  }

  /** Graceful stop: no redial; the gateway is asked to stop dispatching to the connection in use. */
  drain(): void {
    if (this.stateValue === 'closed') return;
    const wasConnected = this.stateValue === 'connected';
    this.stateValue = 'draining';
    clearTimeout(this.reconnectTimer);
    const current = this.current;
    // Not yet authenticated (or nothing to drain): no request can be on it, so it goes now.
    if (current !== undefined && !(wasConnected && current.requestDrain())) {
      this.current = undefined;
      current.destroy();
    }
  }

  /** Draining and nothing left to wait for: the gateway acknowledged, and no stream is busy. */
  get drained(): boolean {
    for (const connection of this.retired) if (connection.busy > 0) return false;
    const current = this.current;
    return current === undefined || (current.drainAcked && current.busy === 0);
  }

  /** Closes everything at once; in-flight requests fail on both sides. */
  destroy(): void {
    this.stateValue = 'closed';
    clearTimeout(this.reconnectTimer);
    const current = this.current;
    this.current = undefined;
    current?.destroy();
    for (const connection of this.retired) connection.destroy();
    this.retired.clear();
  }

  private get stopping(): boolean {
    return this.stateValue === 'closed' || this.stateValue === 'draining';
  }

  private dial(): void {
    if (this.stopping) return;
    this.stateValue = 'connecting';
    if (this.config.protocol === 'spacelift') {
      // Loaded only for this protocol: grpc-js costs RSS an agent of ours need not carry.
      import('./spacelift/spacelift-connection.js').then(
        ({ SpaceliftConnection }) => {
          if (this.stopping) return;
          let connection: InstanceType<typeof SpaceliftConnection>;
          try {
            connection = new SpaceliftConnection(this.config, this.options, this.connectionOwner);
          } catch (error) {
            this.onConnectionLost(asConnectionError(error, this.config.gatewayUrl));
            return;
          }
          this.current = connection;
          connection.start();
        },
        (error: unknown) => this.onConnectionLost(asConnectionError(error, this.config.gatewayUrl)),
      );
      return;
    }
    dialGateway(this.config.gatewayUrl, this.options, this.config.connectTimeoutMs).then(
      (session) => this.attach(session),
      (error: unknown) => {
        const failure = asConnectionError(error, this.config.gatewayUrl);
        // The proxy wants other credentials: a configuration problem retrying cannot fix.
        if (failure.code === 'VCS_PROXY_AUTH_REQUIRED' && this.owner.starting() && !this.stopping) return this.fatal(failure);
        this.onConnectionLost(failure);
      },
    );
  }

  private attach(session: ClientHttp2Session): void {
    if (this.stopping) {
      destroySession(session);
      return;
    }
    this.current = new GatewayConnection(session, this.config, this.connectionOwner);
  }

  private fatal(error: VcsAgentError): void {
    this.destroy();
    this.owner.onFatal(this, error);
  }

  private onAuthenticated(): void {
    this.stateValue = 'connected';
    this.backoff.succeeded();
  }

  private onReady(connection: TunnelConnection): void {
    const connectionId = connection.connectionId ?? '';
    const streams = this.config.parallelism;
    this.logger.info('connected to gateway', { gateway: this.config.gatewayUrl.origin, pool: this.config.token.pool_ulid, connectionId, streams });
    this.owner.onReady(this, connectionId, streams);
  }

  private onRefused(connection: TunnelConnection, status: number, body: string): void {
    connection.destroy();
    // A refusal that arrives after this slot stopped or moved on concerns nobody.
    if (connection !== this.current) return;
    this.current = undefined;
    const refusal = parseRefusal(body);
    const message = refusal.message === undefined ? `The gateway refused the connection with HTTP ${status}` : `The gateway refused the agent: ${refusal.message.slice(0, 200)}`;
    if (status !== 401 && status !== 403) return this.onConnectionLost(new GatewayConnectionError(message));
    const reason = refusal.reason === 'unknown_pool' || refusal.reason === 'malformed' ? refusal.reason : 'bad_key';
    const error = new AuthenticationError(message, reason);
    // Bad credentials at start-up: retrying cannot help, so the caller hears at once.
    if (this.owner.starting() && !this.stopping) return this.fatal(error);
    this.onConnectionLost(error);
  }

  private onGoaway(connection: TunnelConnection): void {
    if (connection !== this.current) return;
    // The gateway is going away: let in-flight requests finish on the old session and dial
    // a new one now, so the pool keeps capacity (docs/protocol.md § Shutdown).
    this.logger.info('gateway sent GOAWAY; reconnecting', { gateway: this.config.gatewayUrl.origin, connectionId: connection.connectionId });
    this.current = undefined;
    this.retired.add(connection);
    connection.retire(() => {
      this.retired.delete(connection);
      this.owner.onExchangeDone();
    });
    // Redial unless stopping, also when the GOAWAY came before authentication finished.
    if (this.stopping) return this.owner.onExchangeDone();
    this.stateValue = 'connecting';
    // Every agent of that gateway got the GOAWAY in the same instant: a small random delay
    // keeps them from stampeding the remaining gateway instances.
    this.scheduleDial(this.backoff.jitter(), {});
  }

  private onRecord(record: AgentRequestRecord): void {
    // The record is made for this line: the slot goes into it, and the line goes to the
    // injected logger as is, without the copies loggerWithFields makes (one line per request).
    record.slot = this.index;
    this.baseLogger.info(`${record.method} ${record.path} ${record.decision} ${record.status}`, record as unknown as Record<string, unknown>);
    this.owner.onRecord(record);
  }

  private onConnectionLost(error: VcsAgentError): void {
    const connection = this.current;
    this.current = undefined;
    connection?.destroy();
    if (this.stateValue === 'closed') return;
    // Draining: nothing more will arrive on it, so close() may be done waiting.
    if (this.stateValue === 'draining') return this.owner.onExchangeDone();
    this.stateValue = 'connecting';
    const credentials = error instanceof AuthenticationError || error.code === 'VCS_PROXY_AUTH_REQUIRED';
    const delay = this.backoff.next(credentials);
    this.logger.warn(credentials ? 'credentials refused (gateway or proxy)' : 'gateway connection lost', {
      code: error.code,
      error: error.message,
      connectionId: connection?.connectionId,
      retryInMs: delay,
    });
    this.scheduleDial(delay, { error });
  }

  private scheduleDial(delay: number, event: { error?: VcsAgentError }): void {
    this.owner.onDisconnected(this, { ...event, retryInMs: delay });
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.dial(), delay);
  }
}
