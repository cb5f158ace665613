import type { AgentConnectionInfo, AgentIdentity } from './agent-connection.js';
import type { PoolRoute, RouteConnection, RouteStream } from './pool-route.js';

/*
 * What the registry, the router, the access log and the admin view need of an agent
 * connection and its streams, whichever protocol carries them: our HTTP/2 tunnel
 * (`AgentConnection` / `GatewayStream`) or Spacelift's gRPC calls (lib/gateway/spacelift/).
 */

/** A tunnel stream the router can hand work to and the connection can close. */
export interface TunnelStream extends RouteStream {
  /** Closes an idle stream (the connection drains). */
  close(): void;
}

/** One authenticated agent connection of a pool. */
export interface TunnelConnection extends RouteConnection {
  readonly identity: AgentIdentity;
  readonly id: string;
  readonly poolName: string;
  readonly agentId: string;
  readonly keyGeneration: number;
  readonly route: GatewayRoute;
  /** False once the connection is closed or closing: nothing left to evict. */
  readonly open: boolean;
  /** Stops new work: idle streams close now, busy ones when their exchange ends. */
  drain(): void;
  /** The gateway's goodbye after `drain()`: say so to the agent now, force the close after `graceMs`. */
  close(graceMs: number): void;
  info(): AgentConnectionInfo;
}

export type GatewayRoute = PoolRoute<TunnelConnection, TunnelStream>;

/** A stream a draining connection marks, so that it closes instead of going idle after its exchange. */
export interface RetirableStream extends TunnelStream {
  retire: boolean;
}

/**
 * What both protocols' connections share: the identity, the set of streams and how they are
 * offered to the pool's route, draining, and the admin view. Subclasses say how the
 * connection is known to be open and how it is closed.
 */
export abstract class TunnelConnectionBase<S extends RetirableStream> implements TunnelConnection {
  readonly streams = new Set<S>();
  draining = false;
  readonly connectedAt = new Date();

  constructor(
    readonly identity: AgentIdentity,
    readonly route: GatewayRoute,
  ) {}

  abstract get open(): boolean;
  abstract close(graceMs: number): void;

  get id(): string {
    return this.identity.id;
  }

  get poolName(): string {
    return this.identity.poolName;
  }

  get agentId(): string {
    return this.identity.agentId;
  }

  get keyGeneration(): number {
    return this.identity.keyGeneration;
  }

  /** Adds a freshly opened stream and offers it to the pool. */
  addStream(stream: S): void {
    this.streams.add(stream);
    if (this.draining) stream.close();
    else this.route.offer(this, stream);
  }

  drain(): void {
    if (this.draining) return;
    this.draining = true;
    for (const stream of this.streams) stream.retire = true;
    for (const stream of this.route.takeIdleStreams(this)) stream.close();
  }

  /** The stream finished an exchange and can take the next one. */
  onStreamIdle(stream: S): void {
    this.route.offer(this, stream);
  }

  info(): AgentConnectionInfo {
    const load = this.route.load(this);
    return {
      ...this.identity,
      connectedAt: this.connectedAt.toISOString(),
      streamsBusy: load.busy,
      streamsIdle: load.idle,
      requestsServed: load.served,
      draining: this.draining,
    };
  }
}
