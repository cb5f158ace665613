import type { Readable } from 'node:stream';
import type { VcsAgentError } from '../errors.js';
import type { PoolStore } from '../pools/pool-store.js';
import type { Logger } from '../logger.js';
import type { AgentConnectionInfo } from './agent-connection.js';
import type { GatewayClusterOptions } from './cluster/gateway-cluster.js';

/*
 * The public shapes of the gateway (options, events, records), apart from the class so the
 * role adapter stays small; `gateway.ts` re-exports them.
 */

/** Options of a `Gateway`. */
export interface GatewayOptions {
  /** Where pools and their key hashes are kept. Optional with `cluster`: the pools are then in its Redis. */
  store?: PoolStore;
  /**
   * Run as one replica of a replicated gateway: pools, pool changes and the access log are
   * shared through Redis (docs/scaling.md). Without it the gateway stands alone.
   */
  cluster?: GatewayClusterOptions;
  /** Receives connection events and the access log (one `info` line per request). */
  logger?: Logger;
  /** PEM certificate and key: agents then connect with TLS (ALPN h2); without, cleartext h2. Renewed with `Gateway.setTls()`. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** How long a request waits for an idle stream before 503 (default 10 000 ms). */
  queueTimeoutMs?: number;
  /** How many requests may wait per pool before 503 at once (default 1 000). */
  maxQueue?: number;
  /**
   * Every this many ms, re-read the store for each pool with live connections and close the
   * connections it no longer allows (pool deleted, or key replaced and its grace period over),
   * so changes made by another process (`vcs-gateway pool delete|rotate`) take effect.
   * Default: off (changes made through this process's admin API take effect at once).
   */
  revalidateIntervalMs?: number;
  /** How long a connection closed by the gateway (pool deleted, key expired) may finish its in-flight requests (default 30 000 ms). */
  disconnectGraceMs?: number;
  /**
   * Half-open detection: every `intervalMs` (default 30 000) each agent connection gets an
   * HTTP/2 PING; no ACK within `timeoutMs` (default 10 000) and the gateway closes it, fails
   * its in-flight requests and stops routing to it. `false` turns the check off.
   */
  keepalive?: { intervalMs?: number; timeoutMs?: number } | false;
  /**
   * Longest silence of a streamed `Gateway.request()` body while the gateway is sending it
   * (time queued for a stream or paused by a full stream does not count); then the request
   * fails with `BodyIdleTimeoutError` (`VCS_BODY_IDLE_TIMEOUT`) and frees its stream.
   * Default: off (the caller owns the body; a `signal` bounds the whole request).
   */
  requestBodyIdleTimeoutMs?: number;
  /**
   * Called with the size of every body chunk this process streams, in either direction
   * (a small body sent in one piece with its head may not be): a hook for
   * process-level memory tuning (the CLIs run a minor GC every 4 MiB with it,
   * docs/performance.md § Memory). Runs on the hot path: keep it to a counter.
   */
  onBodyChunk?: (bytes: number) => void;
  /** Settings of the listener for Spacelift's own (gRPC) agents, started by `Gateway.listenSpacelift()`. */
  spacelift?: SpaceliftGatewayOptions;
}

/** Settings of the gateway's listener for Spacelift's own VCS agents (`privatevcs.Gateway/Connect`). */
export interface SpaceliftGatewayOptions {
  /**
   * Largest gRPC message either way, in bytes (`grpc.max_receive_message_length` and
   * `…send…`). Default 4 MiB, gRPC's own default and what the Go agent accepts: a request
   * whose body and head do not fit is answered 413 (`VCS_BODY_TOO_LARGE`) without reaching
   * the agent; a larger response fails its call and the caller gets 502 (`VCS_STREAM_RESET`).
   */
  maxMessageBytes?: number;
}

/** Why the gateway closed an agent connection itself. */
export type DisconnectReason = 'pool_deleted' | 'key_expired' | 'unresponsive';

/** Live numbers of one pool, for metrics and the admin API. */
export interface PoolLiveStats {
  id: string;
  name: string;
  connections: number;
  streamsBusy: number;
  streamsIdle: number;
  /** Requests waiting for an idle stream. */
  queued: number;
}

/** What `Gateway.request` accepts. */
export interface GatewayRequestInit {
  method?: string;
  /** An object, or flat raw pairs `[name, value, …]` to send repeated headers. */
  headers?: Record<string, string | readonly string[]> | readonly string[];
  body?: string | Uint8Array | Readable | AsyncIterable<Uint8Array> | null;
  signal?: AbortSignal;
}

/**
 * One line of the gateway's access log. `requestId` is the `id` of the agent's own log line
 * for the same request. `bytesOut` is the request body sent to the agent, `bytesIn` the
 * response body received from it. `status` is 0 when no response came (rejected, failed).
 */
export interface AccessLogRecord {
  time: string;
  requestId: string;
  pool: string;
  connectionId?: string;
  agentId?: string;
  method: string;
  path: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  /** Milliseconds the request waited for an idle stream, when the router measured it. */
  queueMs?: number;
  outcome: 'completed' | 'failed' | 'aborted' | 'rejected';
  errorCode?: string;
  /**
   * Replicated gateway: on the record of the replica whose caller sent the request, the
   * replica it was forwarded to and served by (`connectionId`/`agentId` are that replica's).
   */
  forwardedTo?: string;
  /** Replicated gateway: on the serving replica's record, the replica that forwarded the request here. */
  forwardedFrom?: string;
}

/** Handle on a dispatched request: abort it, or resume a paused response. */
export interface ExchangeControl {
  abort(error?: VcsAgentError): void;
  resume(): void;
}

export interface GatewayEvents {
  'agent-connected': [AgentConnectionInfo];
  'agent-disconnected': [AgentConnectionInfo];
  'agent-refused': [{ pool: string; reason: string; remoteAddress: string }];
  /** The gateway itself closed a connection (it drains first: in-flight requests finish). */
  'agent-evicted': [{ connection: AgentConnectionInfo; reason: DisconnectReason }];
  access: [AccessLogRecord];
}
