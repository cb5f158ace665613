import { Server, ServerCredentials, status as GrpcStatus, type Metadata, type ServerOptions } from '@grpc/grpc-js';
import type { AddressInfo } from 'node:net';
import { ulid } from 'ulid';
import { VcsAgentError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { PoolStore } from '../../pools/pool-store.js';
import {
  SPACELIFT_METADATA_KEY,
  SPACELIFT_METADATA_POOL_ULID,
  SPACELIFT_DEFAULT_MAX_MESSAGE_BYTES,
  SPACELIFT_METADATA_TAGS,
  privatevcsGatewayService,
} from '../../protocol/spacelift/privatevcs-schema.js';
import type { AgentConnectionInfo } from '../agent-connection.js';
import { checkPoolCredentials, type AcceptedCredentials } from '../agent-handshake.js';
import type { AgentRegistry } from '../agent-registry.js';
import { SpaceliftCall, type ConnectCall } from './spacelift-call.js';
import { SpaceliftConnection } from './spacelift-connection.js';
import { RenewableServerCredentials } from './renewable-credentials.js';

/** What the Spacelift listener needs of its gateway. */
export interface SpaceliftListenerOptions {
  store: PoolStore;
  registry: AgentRegistry;
  logger: Logger;
  /** Default SPACELIFT_DEFAULT_MAX_MESSAGE_BYTES (4 MiB). */
  maxMessageBytes?: number;
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** PingRequest on idle calls (and gRPC keepalive PINGs on their sessions); undefined: off. */
  keepalive?: { intervalMs: number; timeoutMs: number };
  closing(): boolean;
  onConnected(info: AgentConnectionInfo): void;
  onDisconnected(info: AgentConnectionInfo): void;
  onRefused(event: { pool: string; reason: string; remoteAddress: string }): void;
  /** GatewayOptions.onBodyChunk: the bodies of Spacelift calls count too. */
  onBodyChunk?: ((bytes: number) => void) | undefined;
}

/** gRPC status for each refusal of checkPoolCredentials (by its HTTP status). */
function grpcStatusFor(status: number): GrpcStatus {
  if (status === 401) return GrpcStatus.UNAUTHENTICATED;
  if (status === 400) return GrpcStatus.INVALID_ARGUMENT;
  return GrpcStatus.UNAVAILABLE;
}

/** The one string value of a metadata key; undefined when absent, repeated or binary. */
function single(metadata: Metadata, key: string): string | undefined {
  const values = metadata.get(key);
  return values.length === 1 && typeof values[0] === 'string' ? values[0] : undefined;
}

/** The tags JSON; Go marshals a nil map as `null`, which means none. */
function tagsOf(metadata: Metadata): string | undefined {
  const value = single(metadata, SPACELIFT_METADATA_TAGS);
  return value === 'null' ? undefined : value;
}

/** `1.2.3.4:5678` or `[::1]:5678` → the address without the port. */
function peerHost(peer: string): string {
  const match = /^\[?(.*?)\]?:\d+$/.exec(peer);
  return match?.[1] ?? peer;
}

/**
 * The gateway's listener for Spacelift's own VCS agents: a gRPC server of
 * `privatevcs.Gateway/Connect` whose calls are authenticated like our agents (same store,
 * key generations and grace periods) and become tunnel streams of their pool's route.
 */
export class SpaceliftListener {
  private readonly server: Server;
  private credentials: RenewableServerCredentials | undefined;
  /** Open connections by grouping key (see SpaceliftConnection). */
  private readonly groups = new Map<string, SpaceliftConnection>();
  private readonly connections = new Set<SpaceliftConnection>();
  private readonly pingTimer: NodeJS.Timeout | undefined;
  private address: AddressInfo | undefined;
  private readonly maxMessageBytes: number;

  constructor(private readonly options: SpaceliftListenerOptions) {
    const keepalive = options.keepalive;
    this.maxMessageBytes = options.maxMessageBytes ?? SPACELIFT_DEFAULT_MAX_MESSAGE_BYTES;
    const serverOptions: ServerOptions = {
      'grpc.max_receive_message_length': this.maxMessageBytes,
      'grpc.max_send_message_length': this.maxMessageBytes,
      ...(keepalive === undefined ? {} : { 'grpc.keepalive_time_ms': keepalive.intervalMs, 'grpc.keepalive_timeout_ms': keepalive.timeoutMs }),
    };
    this.server = new Server(serverOptions);
    this.server.addService(privatevcsGatewayService(), { Connect: (call: ConnectCall) => this.onCall(call) });
    if (keepalive !== undefined) {
      this.pingTimer = setInterval(() => {
        for (const connection of this.connections) for (const call of connection.streams) call.ping(keepalive.timeoutMs);
      }, keepalive.intervalMs);
      this.pingTimer.unref();
    }
  }

  /** The bound address, once `listen()` resolved. */
  get boundAddress(): AddressInfo | undefined {
    return this.address;
  }

  /** Serves a renewed certificate and key to new connections (Gateway.setTls). */
  setTls(tls: { cert: string | Buffer; key: string | Buffer }): void {
    this.options.tls = tls;
    this.credentials?.renew(tls);
  }

  listen(options: { host?: string; port?: number } = {}): Promise<AddressInfo> {
    const host = options.host ?? '127.0.0.1';
    const ipv6 = host.includes(':');
    const tls = this.options.tls;
    if (tls !== undefined) this.credentials ??= new RenewableServerCredentials(tls);
    const credentials = this.credentials ?? ServerCredentials.createInsecure();
    return new Promise((resolve, reject) => {
      this.server.bindAsync(`${ipv6 ? `[${host}]` : host}:${options.port ?? 0}`, credentials, (error, port) => {
        if (error !== null) return reject(error);
        this.address = { address: host, family: ipv6 ? 'IPv6' : 'IPv4', port };
        resolve(this.address);
      });
    });
  }

  /** Stops taking calls and waits for the open ones to end (connections drain first); `destroy()` after `timeoutMs`. */
  close(timeoutMs: number): Promise<void> {
    this.stopTimer();
    for (const connection of this.connections) connection.drain();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.destroy(), timeoutMs);
      timer.unref();
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Ends every call at once. */
  destroy(): void {
    this.stopTimer();
    for (const connection of [...this.connections]) connection.destroy();
    this.server.forceShutdown();
  }

  private stopTimer(): void {
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer);
  }

  private onCall(call: ConnectCall): void {
    call.on('error', () => {}); // a cancelled call is handled through 'cancelled' / 'close'
    const remoteAddress = call.getPeer();
    const refuse = (code: GrpcStatus, details: string): void => {
      if (!call.cancelled) call.emit('error', Object.assign(new Error(details), { code, details }));
    };
    if (this.options.closing()) return refuse(GrpcStatus.UNAVAILABLE, 'The gateway is shutting down');
    const metadata = call.metadata;
    const presented = {
      poolId: single(metadata, SPACELIFT_METADATA_POOL_ULID),
      key: single(metadata, SPACELIFT_METADATA_KEY),
      metadata: tagsOf(metadata),
    };
    checkPoolCredentials(presented, this.options.store).then(
      (outcome) => {
        if (call.cancelled) return;
        if (outcome.kind === 'refused') {
          // The key is never logged: only the pool id the agent claimed and why it was refused.
          const event = { pool: presented.poolId?.slice(0, 40) ?? '', reason: outcome.reason, remoteAddress };
          this.options.logger.warn('agent refused', { ...event, protocol: 'spacelift' });
          this.options.onRefused(event);
          return refuse(grpcStatusFor(outcome.status), outcome.message);
        }
        if (this.options.closing()) return refuse(GrpcStatus.UNAVAILABLE, 'The gateway is shutting down');
        const agentVersion = single(metadata, 'user-agent')?.slice(0, 128) ?? 'unknown';
        const connection = this.connectionFor(outcome, remoteAddress, agentVersion);
        connection.addStream(new SpaceliftCall(call, connection, this.maxMessageBytes, this.options.onBodyChunk));
      },
      (error: unknown) => {
        this.options.logger.error('agent authentication failed', { error: error instanceof Error ? error.message : String(error), protocol: 'spacelift' });
        // Fail closed either way; UNAVAILABLE tells the agent to retry later (Redis down).
        const unavailable = error instanceof VcsAgentError && error.code === 'VCS_STORE_UNAVAILABLE';
        refuse(unavailable ? GrpcStatus.UNAVAILABLE : GrpcStatus.INTERNAL, 'The gateway could not check the credentials');
      },
    );
  }

  /** The open connection this call belongs to, or a new one. */
  private connectionFor(accepted: AcceptedCredentials, remoteAddress: string, agentVersion: string): SpaceliftConnection {
    const { record, keyGeneration, metadata } = accepted;
    const host = peerHost(remoteAddress);
    const tags = Object.keys(metadata).sort().map((key) => [key, metadata[key]]);
    const groupKey = JSON.stringify([record.id, keyGeneration, host, agentVersion, tags]);
    const existing = this.groups.get(groupKey);
    if (existing !== undefined && existing.open && !existing.draining && existing.route === this.options.registry.routeFor(record.id, record.name)) return existing;
    const route = this.options.registry.routeFor(record.id, record.name);
    const identity = {
      id: ulid(),
      protocol: 'spacelift' as const,
      poolId: record.id,
      poolName: record.name,
      // The Go agent sends no id of its own: its address names it in the admin view and the access log.
      agentId: `spacelift@${host}`,
      agentVersion,
      vendor: 'unknown',
      metadata,
      remoteAddress,
      keyGeneration,
    };
    const connection = new SpaceliftConnection(identity, route, {
      onClosed: (closed) => {
        this.connections.delete(closed);
        if (this.groups.get(groupKey) === closed) this.groups.delete(groupKey);
        this.options.logger.info('agent disconnected', { pool: closed.poolName, connectionId: closed.id, agentId: closed.agentId, protocol: 'spacelift' });
        this.options.onDisconnected(closed.info());
      },
      onCallFailed: (failed, reason) => {
        this.options.logger.warn('spacelift agent call closed', { pool: failed.poolName, connectionId: failed.id, agentId: failed.agentId, reason });
      },
    });
    this.groups.set(groupKey, connection);
    this.connections.add(connection);
    route.addConnection(connection);
    this.options.logger.info('agent connected', { pool: record.name, connectionId: connection.id, agentId: connection.agentId, remoteAddress, metadata, keyGeneration, protocol: 'spacelift' });
    this.options.onConnected(connection.info());
    return connection;
  }
}
