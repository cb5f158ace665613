import type { VcsAgentError } from '../errors.js';
import type { AgentRequestRecord } from './agent-stream.js';

/**
 * One connection of a `TunnelClient` to its gateway, whatever the wire protocol: ours
 * (`GatewayConnection`, a connect stream plus tunnel streams) or Spacelift's gRPC
 * (`SpaceliftConnection`, Connect calls on one channel). Its `ConnectionSlot` keeps the
 * lifecycle (backoff, drain, GOAWAY); the connection keeps all per-connection state.
 */
export interface TunnelConnection {
  /** The gateway's id for this connection once authenticated (or a local one). */
  readonly connectionId: string | undefined;
  /** Streams (or calls) open right now. */
  readonly openStreams: number;
  /** Streams carrying a request now. */
  readonly busy: number;
  /** Nothing more will be dispatched here (the gateway acknowledged the drain). */
  readonly drainAcked: boolean;
  /** Asks the gateway to stop dispatching here; false when there is nothing to drain. */
  requestDrain(): boolean;
  /** The gateway is going away: busy exchanges finish, then `onClosed`. */
  retire(onClosed: () => void): void;
  /** Closes everything at once; in-flight requests fail on both sides. */
  destroy(): void;
}

/** What a connection tells the slot that dialled it. */
export interface TunnelConnectionOwner {
  /** The gateway accepted the credentials. */
  onAuthenticated(connection: TunnelConnection): void;
  /** Every stream was accepted: requests can come. */
  onReady(connection: TunnelConnection): void;
  /** The gateway refused the connection: an HTTP status and our JSON error body. */
  onRefused(connection: TunnelConnection, status: number, body: string): void;
  /** The connection is unusable (closed, silent, every stream refused). */
  onLost(connection: TunnelConnection, error: VcsAgentError): void;
  onGoaway(connection: TunnelConnection): void;
  /** An exchange ended or drain was acknowledged (a drain may be complete). */
  onExchangeDone(): void;
  onRecord(record: AgentRequestRecord): void;
  /** Whether this connection may open (replacement) streams now. */
  mayOpenStreams(connection: TunnelConnection): boolean;
}
