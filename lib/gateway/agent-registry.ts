import type { ServerHttp2Session } from 'node:http2';
import { PoolNotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import { keyGenerationAllowed } from '../pools/pool-key-check.js';
import type { PoolRecord, PoolStore } from '../pools/pool-store.js';
import { openWindows } from '../protocol/flow-window.js';
import { destroySession } from '../protocol/session-socket.js';
import type { AgentConnection, AgentConnectionInfo } from './agent-connection.js';
import type { DisconnectReason, PoolLiveStats } from './gateway-types.js';
import { guardSession } from './http2-server-limits.js';
import { PoolRoute } from './pool-route.js';
import type { GatewayRoute, TunnelConnection } from './tunnel-connection.js';

export interface AgentRegistryOptions {
  store: PoolStore;
  logger: Logger;
  queueTimeoutMs: number;
  maxQueue: number;
  disconnectGraceMs: number;
  /** The gateway itself closed a connection. */
  onEvicted(connection: TunnelConnection, reason: DisconnectReason): void;
}

/**
 * The gateway's live agent connections: one route per pool, the sessions they ride on, and
 * the gateway's own reasons to close one (pool deleted, key expired, no PING answer).
 */
export class AgentRegistry {
  readonly routes = new Map<string, GatewayRoute>();
  /** Every session; undefined until its connect stream authenticated. */
  readonly sessions = new Map<ServerHttp2Session, AgentConnection | undefined>();
  private readonly expiryTimers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly options: AgentRegistryOptions) {}

  /**
   * Tracks a new agent session, unauthenticated until its connect stream succeeds; when it
   * closes, its connection (if it had one) is gone and `onDisconnected` is told.
   */
  trackSession(session: ServerHttp2Session, onDisconnected: (connection: AgentConnection) => void): void {
    const sessions = this.sessions;
    sessions.set(session, undefined);
    guardSession(session, () => sessions.get(session) !== undefined, this.options.logger);
    session.on('error', () => {}); // reported through 'close'
    session.once('connect', () => openWindows(session));
    session.once('close', () => {
      const connection = sessions.get(session);
      sessions.delete(session);
      if (connection === undefined) return;
      connection.closed();
      this.options.logger.info('agent disconnected', { pool: connection.poolName, connectionId: connection.id, agentId: connection.agentId });
      onDisconnected(connection);
    });
  }

  routeFor(id: string, name: string): GatewayRoute {
    let route = this.routes.get(name);
    if (route === undefined || route.id !== id) {
      route = new PoolRoute(id, name, { queueTimeoutMs: this.options.queueTimeoutMs, maxQueue: this.options.maxQueue });
      this.routes.set(name, route);
    }
    return route;
  }

  connections(pool?: string): AgentConnectionInfo[] {
    const out: AgentConnectionInfo[] = [];
    for (const route of this.routes.values()) {
      if (pool !== undefined && route.name !== pool) continue;
      for (const connection of route.connections) out.push(connection.info());
    }
    return out;
  }

  poolStats(): PoolLiveStats[] {
    const out: PoolLiveStats[] = [];
    for (const route of this.routes.values()) {
      let streamsBusy = 0;
      let streamsIdle = 0;
      for (const connection of route.connections) {
        const load = route.load(connection);
        streamsBusy += load.busy;
        streamsIdle += load.idle;
      }
      out.push({ id: route.id, name: route.name, connections: route.connections.length, streamsBusy, streamsIdle, queued: route.queued });
    }
    return out;
  }

  *live(): Generator<AgentConnection> {
    for (const connection of this.sessions.values()) if (connection !== undefined) yield connection;
  }

  disconnectPool(idOrName: string, reason: DisconnectReason): number {
    let closed = 0;
    for (const [name, route] of [...this.routes]) {
      if (route.id !== idOrName && route.name !== idOrName) continue;
      this.routes.delete(name);
      route.failQueued(() => new PoolNotFoundError(route.name));
      for (const connection of [...route.connections]) if (this.evict(connection, reason)) closed++;
      this.clearExpiry(route.id);
    }
    return closed;
  }

  async revalidate(pool?: string): Promise<number> {
    let closed = 0;
    const now = Date.now();
    for (const route of [...this.routes.values()]) {
      if (pool !== undefined && route.id !== pool && route.name !== pool) continue;
      if (route.connections.length === 0) continue;
      const record = await this.options.store.get(route.id);
      if (record === undefined || record.id !== route.id) {
        closed += this.disconnectPool(route.id, 'pool_deleted');
        continue;
      }
      for (const connection of [...route.connections]) {
        if (connection.draining || keyGenerationAllowed(record, connection.keyGeneration, now)) continue;
        if (this.evict(connection, 'key_expired')) closed++;
      }
    }
    return closed;
  }

  schedulePreviousKeyExpiry(record: PoolRecord): void {
    this.clearExpiry(record.id);
    const expires = record.previousKeyExpiresAt === undefined ? Date.now() : Date.parse(record.previousKeyExpiresAt);
    // setTimeout holds at most 2^31-1 ms (~24.8 days); longer waits re-arm themselves.
    const delay = Math.min(Math.max(0, expires - Date.now()), 2 ** 31 - 1);
    const timer = setTimeout(() => {
      this.expiryTimers.delete(record.id);
      if (Date.now() < expires) return this.schedulePreviousKeyExpiry(record);
      this.revalidate(record.id).catch((error: unknown) =>
        this.options.logger.warn('pool revalidation failed', { pool: record.name, error: error instanceof Error ? error.message : String(error) }),
      );
    }, delay);
    timer.unref();
    this.expiryTimers.set(record.id, timer);
  }

  clearExpiry(poolId: string): void {
    const timer = this.expiryTimers.get(poolId);
    if (timer !== undefined) clearTimeout(timer);
    this.expiryTimers.delete(poolId);
  }

  stop(): void {
    for (const timer of this.expiryTimers.values()) clearTimeout(timer);
    this.expiryTimers.clear();
  }

  /**
   * A connection that did not answer a PING is gone in all but name: no grace period (nothing
   * would arrive in it), its in-flight requests fail now (502) and new ones go elsewhere.
   */
  dropUnresponsive(connection: AgentConnection, timeoutMs: number): void {
    this.options.logger.warn('agent did not answer keepalive pings; closing the half-open connection', {
      pool: connection.poolName,
      connectionId: connection.id,
      agentId: connection.agentId,
      timeoutMs,
    });
    this.retire(connection, 'unresponsive');
    destroySession(connection.session);
  }

  /** Closes one connection on the gateway's initiative: drain, goodbye (GOAWAY), destroy after the grace period. */
  evict(connection: TunnelConnection, reason: DisconnectReason): boolean {
    if (!connection.open) return false;
    this.options.logger.info('agent evicted', { pool: connection.poolName, connectionId: connection.id, agentId: connection.agentId, reason });
    this.retire(connection, reason);
    connection.close(this.options.disconnectGraceMs);
    return true;
  }

  private retire(connection: TunnelConnection, reason: DisconnectReason): void {
    connection.drain();
    // No new work goes to a draining connection; the route lets go of it now so requests
    // for the pool are answered from the store (404 once deleted) rather than queued.
    connection.route.removeConnection(connection);
    this.options.onEvicted(connection, reason);
  }
}
