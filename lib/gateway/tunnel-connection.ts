import type { AgentConnectionInfo, AgentIdentity } from './agent-connection.js';
import type { ConnectionLoad, PoolRoute, RouteConnection, RouteStream } from './pool-route.js';

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

/** The admin view of a connection: its identity and its routing numbers. */
export function connectionInfo(identity: AgentIdentity, connectedAt: Date, load: ConnectionLoad, draining: boolean): AgentConnectionInfo {
  return {
    ...identity,
    connectedAt: connectedAt.toISOString(),
    streamsBusy: load.busy,
    streamsIdle: load.idle,
    requestsServed: load.served,
    draining,
  };
}
