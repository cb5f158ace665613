import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { ClosedError, type VcsAgentError } from '../errors.js';
import type { AgentRequestRecord } from './agent-stream.js';
import { ConnectionSlot, type ConnectionSlotOwner, type TunnelConnectionInfo } from './connection-slot.js';
import { resolveTunnelClientOptions, type TunnelClientConfig, type TunnelClientOptions } from './tunnel-client-options.js';

export { AGENT_VERSION } from './gateway-connection.js';
export type { TunnelClientOptions } from './tunnel-client-options.js';
export type { ConnectionSlotState, TunnelConnectionInfo } from './connection-slot.js';

/** `connected` while at least one gateway connection is; `connecting` while none is. */
export type TunnelClientState = 'idle' | 'connecting' | 'connected' | 'draining' | 'closed';

export interface TunnelClientEvents {
  /** One gateway connection (`slot`) authenticated and all its streams opened. */
  connected: [{ connectionId: string; streams: number; slot: number }];
  /** One gateway connection (`slot`) is gone or retired (GOAWAY); it is redialled in `retryInMs` unless closing. */
  disconnected: [{ error?: VcsAgentError; retryInMs?: number; slot: number }];
  /** One proxied request finished (allowed or denied). */
  request: [AgentRequestRecord];
}

/**
 * The agent side of the tunnel. It keeps `gatewayConnections` HTTP/2 connections (default 2)
 * to the gateway named in the pool token, each its own TCP dial so that a load balancer may
 * spread them over gateway replicas. Each authenticates with the pool id and key and keeps
 * `parallelism` long-lived streams open, each serving one proxied request at a time. Each
 * connection is redialled on its own, with exponential backoff and full jitter, so losing
 * one leaves the others serving.
 *
 * Lifecycle: `start()` (resolves once the first connection is ready; rejects only for bad
 * credentials) → `close()` (graceful: every connection drains, in-flight requests finish)
 * or `destroy()` (at once).
 */
export class TunnelClient extends EventEmitter<TunnelClientEvents> {
  readonly gatewayUrl: URL;
  readonly agentId: string;
  private readonly config: TunnelClientConfig;
  private readonly slots: readonly ConnectionSlot[];
  private lifecycle: 'idle' | 'running' | 'draining' | 'closed' = 'idle';
  private startWaiters: { resolve: () => void; reject: (error: Error) => void } | undefined;
  private drainWaiters: Array<() => void> = [];
  /** How the slots report to this client (kept off the public surface). */
  private readonly slotOwner: ConnectionSlotOwner = {
    starting: () => this.startWaiters !== undefined,
    onReady: (slot, connectionId, streams) => {
      this.emit('connected', { connectionId, streams, slot: slot.index });
      this.startWaiters?.resolve();
      this.startWaiters = undefined;
    },
    onDisconnected: (slot, event) => this.emit('disconnected', { ...event, slot: slot.index }),
    onFatal: (_slot, error) => {
      // Bad credentials are the pool's, not one connection's: every slot stops, start() rejects once.
      this.rejectStart(error);
      this.destroy();
    },
    onExchangeDone: () => this.checkDrained(),
    onRecord: (record) => {
      if (this.listenerCount('request') > 0) this.emit('request', record);
    },
  };

  constructor(options: TunnelClientOptions) {
    super();
    this.config = resolveTunnelClientOptions(options, randomUUID);
    this.gatewayUrl = this.config.gatewayUrl;
    this.agentId = this.config.agentId;
    this.slots = Array.from({ length: this.config.gatewayConnections }, (_, index) => new ConnectionSlot(index, this.config, options, this.slotOwner));
  }

  get state(): TunnelClientState {
    if (this.lifecycle !== 'running') return this.lifecycle;
    return this.slots.some((slot) => slot.state === 'connected') ? 'connected' : 'connecting';
  }

  /** The gateway's id for the lowest-numbered connected connection (see `connections` for all). */
  get connectionId(): string | undefined {
    return this.slots.find((slot) => slot.state === 'connected')?.connectionId;
  }

  /** Each gateway connection: its slot, id, state and streams. */
  get connections(): TunnelConnectionInfo[] {
    return this.slots.map((slot) => slot.info());
  }

  /** Streams open right now over all connections, and how many of them carry a request. */
  get streamCounts(): { open: number; busy: number } {
    let open = 0;
    let busy = 0;
    for (const slot of this.slots) {
      const counts = slot.streamCounts;
      open += counts.open;
      busy += counts.busy;
    }
    return { open, busy };
  }

  /**
   * Dials every connection and resolves once the first one is authenticated with all its
   * streams requested; the others keep dialling on their own. Network failures are retried
   * with backoff (the promise waits); bad credentials reject with `AuthenticationError`
   * (once, whichever connection heard it first), since retrying cannot fix them.
   */
  start(): Promise<void> {
    if (this.lifecycle !== 'idle') return Promise.reject(new ClosedError('This TunnelClient was already started and'));
    this.lifecycle = 'running';
    return new Promise<void>((resolve, reject) => {
      this.startWaiters = { resolve, reject };
      for (const slot of this.slots) slot.start();
    });
  }

  /**
   * Graceful stop: asks the gateway to stop dispatching to every connection (drain), lets
   * in-flight requests finish on all of them (up to `timeoutMs`, default 30 s), then closes.
   * Resolves when closed.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.lifecycle === 'closed') return;
    this.lifecycle = 'draining';
    this.rejectStart(new ClosedError('The TunnelClient'));
    // Until the gateway acknowledges, it may still dispatch to an idle stream: in-flight
    // only counts as finished once drain-ack has arrived (or the control stream is gone).
    for (const slot of this.slots) slot.drain();
    if (!this.drained) await this.waitDrained(options.timeoutMs ?? 30_000);
    this.destroy();
  }

  /** Closes everything at once; in-flight requests fail on both sides. */
  destroy(): void {
    this.lifecycle = 'closed';
    this.rejectStart(new ClosedError('The TunnelClient'));
    for (const slot of this.slots) slot.destroy();
    this.config.streamContext.upstream.destroy();
    for (const resolve of this.drainWaiters.splice(0)) resolve();
  }

  private get drained(): boolean {
    return this.slots.every((slot) => slot.drained);
  }

  /** Resolves when every slot is drained (see checkDrained), or after `timeoutMs`. */
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

  /** An exchange ended, a drain was acknowledged or a connection went: resolve close() once nothing is busy. */
  private checkDrained(): void {
    if (this.lifecycle !== 'draining' || !this.drained) return;
    for (const resolve of this.drainWaiters.splice(0)) resolve();
  }

  private rejectStart(error: VcsAgentError): void {
    const waiters = this.startWaiters;
    this.startWaiters = undefined;
    waiters?.reject(error);
  }
}
