import type { AgentIdentity } from '../agent-connection.js';
import type { ExchangeResult } from '../gateway-stream.js';
import { TunnelConnectionBase, type GatewayRoute } from '../tunnel-connection.js';
import type { SpaceliftCall, SpaceliftCallOwner } from './spacelift-call.js';

/** What the connection reports to the Spacelift listener. */
export interface SpaceliftConnectionEvents {
  /** The last call ended: the connection is gone. */
  onClosed(connection: SpaceliftConnection): void;
  onCallFailed(connection: SpaceliftConnection, reason: string): void;
}

/**
 * The `Connect` calls of one Spacelift agent, shown and routed as one connection. The Go
 * agent opens each call on a client (and TCP connection) of its own, so the HTTP/2 session
 * says nothing about which agent a call comes from: calls are grouped by what they present
 * instead (pool, key generation, remote IP and metadata tags), see SpaceliftListener.
 * Each call is one tunnel stream; the connection ends when its last call does.
 */
export class SpaceliftConnection extends TunnelConnectionBase<SpaceliftCall> implements SpaceliftCallOwner {
  private ended = false;
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(
    identity: AgentIdentity,
    route: GatewayRoute,
    private readonly events: SpaceliftConnectionEvents,
  ) {
    super(identity, route);
  }

  get open(): boolean {
    return !this.ended;
  }

  close(graceMs: number): void {
    this.drain();
    if (this.ended || this.graceTimer !== undefined) return;
    this.graceTimer = setTimeout(() => {
      for (const call of [...this.streams]) call.destroy('The gateway closed this agent connection');
    }, graceMs);
    this.graceTimer.unref();
  }

  /** Ends every call at once (the gateway is destroyed). */
  destroy(): void {
    this.drain();
    for (const call of [...this.streams]) call.destroy('The gateway is shutting down');
  }

  onStreamClosed(call: SpaceliftCall): void {
    this.streams.delete(call);
    this.route.release(this, call);
    if (this.streams.size > 0 || this.ended) return;
    this.ended = true;
    if (this.graceTimer !== undefined) clearTimeout(this.graceTimer);
    this.route.removeConnection(this);
    this.events.onClosed(this);
  }

  onExchangeDone(call: SpaceliftCall, result: ExchangeResult): void {
    this.route.settle(call, result);
  }

  onCallFailed(_call: SpaceliftCall, reason: string): void {
    this.events.onCallFailed(this, reason);
  }
}
