import { constants as h2constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { GatewayConnectionError } from '../errors.js';
import { HEADER_CONNECTION_ID, STREAM_PATH } from '../protocol/constants.js';
import { ControlChannel } from '../protocol/control-channel.js';
import { collectBody, connectRequestHeaders } from '../protocol/handshake.js';
import { probeLiveness } from '../protocol/liveness.js';
import { destroySession } from '../protocol/session-socket.js';
import { AgentStream, type AgentStreamContext } from './agent-stream.js';
import type { TunnelClientConfig } from './tunnel-client-options.js';
import type { TunnelConnection, TunnelConnectionOwner } from './tunnel-connection.js';
import { wakeWindows } from '../protocol/flow-window.js';

/** The library's version, sent to the gateway so operators can see what runs. */
export const AGENT_VERSION = '0.2.0';

/** What a connection tells the client that dialled it. */
export type GatewayConnectionOwner = TunnelConnectionOwner;

/**
 * The agent's end of one gateway session (the gateway's `AgentConnection` is the other
 * end): the connect stream and its control channel, keepalive, and the tunnel streams.
 * All per-connection state lives here, so a new connection starts fresh by construction.
 */
export class GatewayConnection implements TunnelConnection {
  readonly streams = new Set<AgentStream>();
  connectionId: string | undefined;
  control: ControlChannel | undefined;
  /** The gateway acknowledged our drain: nothing more will be dispatched here. */
  drainAcked = false;
  /** False once retired (GOAWAY) or destroyed: its events no longer concern the client. */
  private active = true;
  private pendingStreams = 0;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private lastPongAt = 0;
  private readonly context: AgentStreamContext;

  constructor(
    readonly session: ClientHttp2Session,
    private readonly config: TunnelClientConfig,
    private readonly owner: GatewayConnectionOwner,
  ) {
    this.context = {
      ...config.streamContext,
      onRecord: (record) => owner.onRecord(record),
      onStreamClosed: (stream) => this.onStreamClosed(stream),
      onExchangeDone: () => owner.onExchangeDone(),
      onBulkData: () => wakeWindows(session),
    };
    session.on('error', (error) => config.logger.debug('gateway session error', { error: error.message }));
    session.once('close', () => {
      if (this.active) owner.onLost(this, new GatewayConnectionError(`The connection to the gateway ${config.gatewayUrl.origin} closed`));
    });
    session.on('goaway', () => {
      if (this.active) owner.onGoaway(this);
    });
    this.authenticate();
  }

  get openStreams(): number {
    return this.streams.size;
  }

  /** Streams carrying a request now. */
  get busy(): number {
    let busy = 0;
    for (const stream of this.streams) if (stream.busy) busy++;
    return busy;
  }

  /** Asks the gateway to stop dispatching here; `drainAcked` turns true on drain-ack or when the control stream goes. */
  requestDrain(): boolean {
    const control = this.control;
    if (control === undefined || !control.open) return false;
    this.drainAcked = false;
    control.stream.once('close', () => this.drainAckedNow());
    control.send({ type: 'drain' });
    return true;
  }

  /** GOAWAY: idle streams close, busy ones finish their exchange, then the session closes. */
  retire(onClosed: () => void): void {
    this.session.once('close', onClosed);
    this.stop();
    for (const stream of this.streams) if (!stream.busy) stream.close();
    this.session.close();
  }

  /** Closes everything at once; in-flight requests fail on both sides. */
  destroy(): void {
    this.stop();
    const streams = [...this.streams];
    this.streams.clear();
    for (const stream of streams) stream.close(h2constants.NGHTTP2_CANCEL);
    destroySession(this.session);
  }

  private stop(): void {
    this.active = false;
    this.pendingStreams = 0;
    clearInterval(this.keepaliveTimer);
  }

  private authenticate(): void {
    const config = this.config;
    const control = this.session.request(
      connectRequestHeaders({
        poolId: config.token.pool_ulid,
        key: config.token.key,
        agentId: config.agentId,
        agentVersion: AGENT_VERSION,
        vendor: config.vendor,
        parallelism: config.parallelism,
        metadata: config.metadata,
      }),
      { endStream: false },
    );
    control.on('error', () => {});
    // A peer that accepted TCP (and TLS) but never answers must not hold start() for ever.
    const authTimer = setTimeout(() => {
      if (this.active) this.owner.onLost(this, new GatewayConnectionError(`The gateway ${config.gatewayUrl.origin} did not answer the connect stream within ${config.connectTimeoutMs} ms`));
    }, config.connectTimeoutMs);
    authTimer.unref();
    control.once('close', () => clearTimeout(authTimer));
    control.once('response', (headers) => {
      clearTimeout(authTimer);
      const status = Number(headers[':status']);
      if (status === 200) this.onAuthenticated(control, String(headers[HEADER_CONNECTION_ID] ?? ''));
      else void collectBody(control).then((body) => this.owner.onRefused(this, status, body));
    });
  }

  private onAuthenticated(stream: ClientHttp2Stream, connectionId: string): void {
    this.connectionId = connectionId;
    this.control = new ControlChannel(stream, {
      onPong: () => {
        this.lastPongAt = Date.now();
      },
      // The gateway will dispatch nothing more here; it closes our idle streams itself.
      onDrainAck: () => this.drainAckedNow(),
      onProtocolError: (error) => {
        this.config.logger.warn('protocol error on the control stream', { error: error.message });
        destroySession(this.session);
      },
    });
    stream.once('close', () => {
      if (this.active && !this.session.closed) this.session.close();
    });
    this.owner.onAuthenticated(this);
    this.startKeepalive();
    this.pendingStreams = this.config.parallelism;
    for (let i = 0; i < this.config.parallelism; i++) this.openStream();
  }

  private drainAckedNow(): void {
    this.drainAcked = true;
    this.owner.onExchangeDone();
  }

  /*
   * Half-open detection: a connection whose peer vanished (NAT timeout, dropped route)
   * looks healthy to TCP until a write times out, which can take many minutes. An HTTP/2
   * PING (RFC 9113 §6.7) proves the peer's HTTP/2 stack answers; the control-stream ping
   * also carries DATA, which keeps idle-timeout load balancers that ignore PING from
   * cutting the connection. Either answer within the timeout counts as alive.
   */
  private startKeepalive(): void {
    const { keepaliveIntervalMs, keepaliveTimeoutMs, logger, gatewayUrl } = this.config;
    this.lastPongAt = Date.now();
    this.keepaliveTimer = setInterval(() => {
      if (!this.active || this.session.destroyed) return clearInterval(this.keepaliveTimer);
      const onResult = (result: string): void => {
        if (result !== 'silent' || !this.active) return;
        logger.warn('gateway did not answer keepalive pings; the connection is half-open', { timeoutMs: keepaliveTimeoutMs });
        this.owner.onLost(this, new GatewayConnectionError(`No answer to keepalive pings from ${gatewayUrl.origin} within ${keepaliveTimeoutMs} ms`));
      };
      probeLiveness(this.session, keepaliveTimeoutMs, onResult, (sentAt) => this.lastPongAt >= sentAt);
      this.control?.ping();
    }, keepaliveIntervalMs);
    this.keepaliveTimer.unref();
  }

  private onStreamReady(): void {
    if (this.pendingStreams === 0) return;
    this.pendingStreams--;
    if (this.pendingStreams === 0) this.owner.onReady(this);
  }

  private openStream(): void {
    const session = this.session;
    if (session.closed || session.destroyed || !this.owner.mayOpenStreams(this)) return;
    try {
      const http2Stream = session.request({ ':method': 'POST', ':path': STREAM_PATH }, { endStream: false });
      const stream = new AgentStream(http2Stream, this.context);
      http2Stream.on('response', (headers) => {
        if (headers[':status'] !== 200) {
          stream.refused = true;
          http2Stream.close(h2constants.NGHTTP2_REFUSED_STREAM);
        } else this.onStreamReady();
      });
      this.streams.add(stream);
    } catch (error) {
      this.config.logger.warn('could not open a tunnel stream', { error: (error as Error).message });
    }
  }

  private onStreamClosed(stream: AgentStream): void {
    if (!this.streams.delete(stream)) return;
    this.owner.onExchangeDone();
    if (!this.active || !this.owner.mayOpenStreams(this)) return;
    if (stream.refused) {
      // The gateway will not take streams on this connection (draining, key revoked): do not
      // hammer it; once no stream is left, redial with backoff.
      if (this.streams.size === 0) this.owner.onLost(this, new GatewayConnectionError('The gateway refused every tunnel stream on this connection'));
      return;
    }
    // Replace a stream reset by an abort or an early answer, while the session lives.
    setImmediate(() => this.openStream());
  }
}
