import { Client, Metadata, status as GrpcStatus, type ChannelOptions, type StatusObject } from '@grpc/grpc-js';
import { GatewayConnectionError } from '../../errors.js';
import { errorBody } from '../../protocol/error-response.js';
import {
  SPACELIFT_CONNECT_PATH,
  SPACELIFT_METADATA_KEY,
  SPACELIFT_METADATA_POOL_ULID,
  SPACELIFT_METADATA_TAGS,
  privatevcsGatewayService,
  type SpaceliftRequest,
  type SpaceliftResponse,
} from '../../protocol/spacelift/privatevcs-schema.js';
import type { AgentStreamContext } from '../agent-stream.js';
import { Backoff } from '../backoff.js';
import { AGENT_VERSION } from '../gateway-connection.js';
import type { TunnelClientConfig, TunnelClientOptions } from '../tunnel-client-options.js';
import type { TunnelConnection, TunnelConnectionOwner } from '../tunnel-connection.js';
import { SpaceliftCall, type SpaceliftCallOwner } from './spacelift-call.js';
import { spaceliftChannelCredentials } from './spacelift-credentials.js';

let connectionCount = 0;

/**
 * The agent's end of a Spacelift-protocol gateway connection: one grpc-js channel (one
 * HTTP/2 connection) carrying `parallelism` `Connect` calls. grpc-js owns the transport;
 * reconnection with backoff stays the `ConnectionSlot`'s, so a lost channel is closed and a
 * new one dialled, never left to grpc-js's own retry loop.
 */
export class SpaceliftConnection implements TunnelConnection {
  /** A local id: the protocol has no connection id from the gateway. */
  readonly connectionId: string;
  drainAcked = false;
  private readonly calls = new Set<SpaceliftCall>();
  private readonly client: Client;
  private readonly metadata: Metadata;
  private readonly callBackoff = new Backoff({ initialDelayMs: 100, maxDelayMs: 5_000, healthyAfterMs: 10_000 });
  private active = true;
  private draining = false;
  private acceptedCount = 0;
  private authenticated = false;
  private ready = false;
  private acceptTimer: NodeJS.Timeout | undefined;
  private readonly contextBase: Omit<AgentStreamContext, 'onStreamClosed' | 'onExchangeDone'>;
  private onRetired: (() => void) | undefined;

  constructor(
    private readonly config: TunnelClientConfig,
    options: TunnelClientOptions,
    private readonly owner: TunnelConnectionOwner,
  ) {
    const spacelift = config.spacelift as NonNullable<TunnelClientConfig['spacelift']>;
    const target = spacelift.target;
    const channelOptions: ChannelOptions = {
      // grpc-js would read HTTPS_PROXY / NO_PROXY from the environment itself; the library
      // takes its proxy as an option only, so that is switched off and set explicitly below.
      'grpc.enable_http_proxy': 0,
      // Each connection (a TunnelClient keeps gatewayConnections of them) gets its own HTTP/2
      // connection, a TCP dial of its own: grpc-js otherwise shares one subchannel between
      // all channels of the same target, options and credentials in the process.
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_receive_message_length': spacelift.maxMessageBytes,
      'grpc.max_send_message_length': spacelift.maxMessageBytes,
      'grpc.keepalive_time_ms': config.keepaliveIntervalMs,
      'grpc.keepalive_timeout_ms': config.keepaliveTimeoutMs,
      'grpc.primary_user_agent': `vcs-agent/${AGENT_VERSION}`,
    };
    let address = target.address;
    if (options.proxy !== undefined) {
      // grpc-js's own HTTP CONNECT support, pointed at the proxy we were given: the channel
      // dials the proxy and asks it for the gateway (RFC 9110 §9.3.6).
      const proxy = options.proxy;
      address = `${proxy.hostname}:${proxy.port === '' ? (proxy.protocol === 'https:' ? '443' : '80') : proxy.port}`;
      channelOptions['grpc.http_connect_target'] = `dns:///${target.address}`;
      if (proxy.username !== '') channelOptions['grpc.http_connect_creds'] = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    }
    const credentials = spaceliftChannelCredentials({ secure: target.secure, servername: target.hostname, tls: options.tls, wrapSocket: options.wrapSocket });
    this.client = new Client(address, credentials, channelOptions);
    this.metadata = new Metadata();
    this.metadata.set(SPACELIFT_METADATA_POOL_ULID, config.token.pool_ulid);
    this.metadata.set(SPACELIFT_METADATA_KEY, config.token.key);
    this.metadata.set(SPACELIFT_METADATA_TAGS, JSON.stringify(config.metadata));
    this.contextBase = {
      ...config.streamContext,
      onRecord: (record) => owner.onRecord(record),
    };
    connectionCount++;
    this.connectionId = `spacelift-${connectionCount}`;
  }

  /** Opens the calls; separate from the constructor so that the owner knows this connection first. */
  start(): void {
    const spacelift = this.config.spacelift as NonNullable<TunnelClientConfig['spacelift']>;
    // The calls are how this protocol authenticates, so the first ones open before the
    // client counts as connected; replacements later ask mayOpenStreams.
    for (let i = 0; i < this.config.parallelism; i++) this.openCall(true);
    this.client.waitForReady(Date.now() + this.config.connectTimeoutMs, (error) => {
      if (!this.active) return;
      if (error !== undefined && error !== null) {
        this.lost(`Cannot connect to the gateway ${spacelift.target.url.origin}: ${error.message}`);
        return;
      }
      // Connected, and no refusal yet: see SpaceliftProtocolOptions.acceptAfterMs.
      this.acceptTimer = setTimeout(() => {
        for (const call of this.calls) call.accept();
      }, spacelift.acceptAfterMs);
      this.acceptTimer.unref();
    });
  }

  get openStreams(): number {
    return this.calls.size;
  }

  get busy(): number {
    let busy = 0;
    for (const call of this.calls) if (call.busy) busy++;
    return busy;
  }

  /*
   * The protocol has no drain message: idle calls end now, busy ones after their answer,
   * and the gateway sees the calls close. A Request the gateway sends on an idle call in
   * the same instant fails on its side; there is no way to refuse it more gently.
   */
  requestDrain(): boolean {
    if (!this.active || this.calls.size === 0) return false;
    this.draining = true;
    for (const call of [...this.calls]) call.endAfterExchange();
    this.drainAcked = true;
    this.owner.onExchangeDone();
    return true;
  }

  retire(onClosed: () => void): void {
    this.onRetired = onClosed;
    this.requestDrain();
    this.maybeRetired();
  }

  destroy(): void {
    this.stop();
    for (const call of [...this.calls]) call.cancel();
    this.calls.clear();
    this.client.close();
  }

  private stop(): void {
    this.active = false;
    clearTimeout(this.acceptTimer);
  }

  private openCall(initial = false): void {
    if (!this.active || this.draining || (!initial && !this.owner.mayOpenStreams(this))) return;
    const service = privatevcsGatewayService()['Connect'];
    if (service === undefined) throw new Error('privatevcs.Gateway has no Connect method');
    const stream = this.client.makeBidiStreamRequest<SpaceliftResponse, SpaceliftRequest>(
      SPACELIFT_CONNECT_PATH,
      service.requestSerialize as (value: SpaceliftResponse) => Buffer,
      service.responseDeserialize as (value: Buffer) => SpaceliftRequest,
      this.metadata,
    );
    this.calls.add(new SpaceliftCall(stream, this.callOwner, this.config.spacelift?.maxMessageBytes ?? 0));
  }

  private readonly callOwner: SpaceliftCallOwner = {
    onAccepted: (call) => this.onAccepted(call),
    onEnded: (call, status, byUs) => this.onCallEnded(call, status, byUs),
    onFlushed: (call) => {
      call.onExchangeDone();
      this.owner.onExchangeDone();
    },
    streamContext: (call) => ({
      ...this.contextBase,
      onStreamClosed: (stream) => call.onStreamClosed(stream),
      onExchangeDone: () => {
        call.onExchangeDone();
        this.owner.onExchangeDone();
      },
    }),
  };

  private onAccepted(_call: SpaceliftCall): void {
    if (!this.active) return;
    this.acceptedCount++;
    this.callBackoff.succeeded();
    if (!this.authenticated) {
      this.authenticated = true;
      this.owner.onAuthenticated(this);
    }
    if (!this.ready && this.acceptedCount >= this.config.parallelism) {
      this.ready = true;
      this.owner.onReady(this);
    }
  }

  private onCallEnded(call: SpaceliftCall, status: StatusObject, byUs: boolean): void {
    this.calls.delete(call);
    this.owner.onExchangeDone();
    this.maybeRetired();
    if (!this.active || byUs) return;
    const details = status.details.replace(/[\r\n]+/g, ' ').slice(0, 300);
    if (status.code === GrpcStatus.UNAUTHENTICATED || status.code === GrpcStatus.PERMISSION_DENIED) {
      this.stop();
      const httpStatus = status.code === GrpcStatus.UNAUTHENTICATED ? 401 : 403;
      this.owner.onRefused(this, httpStatus, errorBody('VCS_AUTH_FAILED', details === '' ? `gRPC status ${status.code}` : details));
      return;
    }
    if (status.code === GrpcStatus.UNAVAILABLE) {
      const origin = this.config.gatewayUrl.origin;
      this.lost(this.authenticated ? `The connection to the gateway ${origin} was lost: ${details}` : `Cannot connect to the gateway ${origin}: ${details}`);
      return;
    }
    if (this.draining) return;
    // The gateway ended one call (OK, or an error of that call alone): open a replacement,
    // with backoff so that a gateway ending every call at once is not hammered.
    this.config.logger.debug('gateway ended a Connect call; replacing it', { code: status.code, details });
    const timer = setTimeout(() => this.openCall(), this.callBackoff.next(false));
    timer.unref();
  }

  private maybeRetired(): void {
    if (this.onRetired !== undefined && this.calls.size === 0) {
      const onClosed = this.onRetired;
      this.onRetired = undefined;
      this.client.close();
      onClosed();
    }
  }

  private lost(message: string): void {
    if (!this.active) return;
    this.stop();
    this.owner.onLost(this, new GatewayConnectionError(message));
  }
}
