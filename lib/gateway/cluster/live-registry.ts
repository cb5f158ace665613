import type { Redis } from 'ioredis';
import type { Logger } from '../../logger.js';
import type { HealthReporter } from './cluster-health.js';
import type { AgentConnectionInfo } from '../agent-connection.js';
import type { PoolLiveStats } from '../gateway-types.js';

/** What the registry publishes about this replica, read on every refresh. */
export interface RegistrySource {
  poolStats(): PoolLiveStats[];
  connections(): AgentConnectionInfo[];
  /** A replica shutting down withdraws its entry at once: nobody forwards to it any more. */
  readonly isClosing: boolean;
}

/** One pool's load on one replica, as that replica last published it. */
export interface ReplicaPoolLoad {
  id: string;
  connections: number;
  streamsIdle: number;
  streamsBusy: number;
  queued: number;
}

/** A replica's entry in the live registry (`<prefix>replica:<id>`). */
export interface ReplicaEntry {
  replicaId: string;
  /** Where its peer listener is reached; absent when it forwards nothing to nobody. */
  peerUrl?: string;
  /** ISO-8601 time of the write (the writer's clock: shown, never compared). */
  at: string;
  /** Its live pools, by name. */
  pools: Record<string, ReplicaPoolLoad>;
}

/** A connection as the service-wide view shows it: with the replica that holds it. */
export interface ReplicaConnectionInfo extends AgentConnectionInfo {
  replica: string;
}

/** A replica that holds connections of a pool and takes forwarded requests. */
export interface PeerCandidate {
  replicaId: string;
  peerUrl: string;
  load: ReplicaPoolLoad;
}

/** Options of a {@link LiveRegistry}. */
export interface LiveRegistryOptions {
  redis: Redis;
  replicaId: string;
  keyPrefix: string;
  logger: Logger;
  /** How often the entry is written and the others read (default 500 ms). */
  refreshIntervalMs?: number;
  /** How long an entry outlives its last write (default 1 500 ms): a dead replica is gone after it. */
  ttlMs?: number;
  /** How often the (larger) connection list is written (default 2 000 ms). */
  connectionsIntervalMs?: number;
  /**
   * With peer forwarding: reported not ok (`live-registry`) until the other replicas were read
   * once, so a replica takes no traffic before it knows where to forward.
   */
  health?: HealthReporter;
}

/*
 * Timing (docs/scaling.md § Live registry): an entry lives 1.5 s past its last write and the
 * readers refresh every 0.5 s, so a replica that died (or froze) is out of every other
 * replica's view at most 2 s after its last write. Three writes fit in one TTL, so one slow
 * write does not make a live replica vanish.
 */
const DEFAULT_REFRESH_MS = 500;
const DEFAULT_TTL_MS = 1_500;
const DEFAULT_CONNECTIONS_MS = 2_000;

/**
 * The live registry of a replicated gateway: every replica writes, on a timer, which pools it
 * holds agent connections for (with their stream counts) and its peer URL, under keys that
 * expire unless refreshed; and reads everyone else's into an in-memory snapshot. Routing reads
 * only the snapshot: a request never waits for Redis. The connection lists (for the admin
 * view) are written less often and read on demand.
 */
export class LiveRegistry {
  private readonly redis: Redis;
  private readonly replicaId: string;
  private readonly setKey: string;
  private readonly entryPrefix: string;
  private readonly connectionsPrefix: string;
  private readonly refreshMs: number;
  private readonly ttlMs: number;
  private readonly connectionsEvery: number;
  private source: RegistrySource | undefined;
  private peerUrl: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticks = 0;
  private running = false;
  private withdrawn = false;
  private warned = false;
  private byPool = new Map<string, PeerCandidate[]>();
  private replicas: ReplicaEntry[] = [];
  private readonly snapshotListeners: Array<() => void> = [];

  constructor(private readonly options: LiveRegistryOptions) {
    this.redis = options.redis;
    this.replicaId = options.replicaId;
    this.setKey = `${options.keyPrefix}replicas`;
    this.entryPrefix = `${options.keyPrefix}replica:`;
    this.connectionsPrefix = `${options.keyPrefix}replica-connections:`;
    this.refreshMs = options.refreshIntervalMs ?? DEFAULT_REFRESH_MS;
    this.ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    this.connectionsEvery = Math.max(1, Math.round((options.connectionsIntervalMs ?? DEFAULT_CONNECTIONS_MS) / this.refreshMs));
    options.health?.report('live-registry', false, 'the live registry was not read yet');
  }

  /** Starts publishing `source` and reading the others; resolves after the first refresh (which never rejects). */
  start(source: RegistrySource): Promise<void> {
    this.source = source;
    if (this.timer !== undefined) return Promise.resolve();
    this.timer = setInterval(() => void this.refresh(), this.refreshMs);
    this.timer.unref();
    return this.refresh();
  }

  /** Advertises this replica's peer listener from the next refresh on. */
  setPeerUrl(url: string): void {
    this.peerUrl = url;
    this.ticks = 0; // the connection list goes out with it
    void this.refresh();
  }

  /** Calls `listener` after every snapshot read from Redis (every refresh that reached it). */
  onSnapshot(listener: () => void): void {
    this.snapshotListeners.push(listener);
  }

  /** The other replicas holding connections of `pool` that take forwarded requests (from the snapshot). */
  candidates(pool: string): readonly PeerCandidate[] {
    return this.byPool.get(pool) ?? [];
  }

  /** Whether Redis can be asked now (reads on demand fail fast otherwise). */
  get reachable(): boolean {
    return this.redis.status === 'ready';
  }

  /** Every other replica's entry as last read. */
  get others(): readonly ReplicaEntry[] {
    return this.replicas;
  }

  /** Stops the timer and removes this replica's entries (best effort). */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.withdraw();
  }

  /** Writes this replica's entry and reads the others. Never throws: a failure keeps the last snapshot. */
  async refresh(): Promise<void> {
    if (this.running || this.source === undefined) return;
    if (this.redis.status !== 'ready') return this.warnOnce('redis unreachable');
    this.running = true;
    try {
      if (this.source.isClosing) {
        await this.withdraw();
        return;
      }
      await this.publish(this.source);
      await this.read();
      this.warned = false;
    } catch (error) {
      this.warnOnce(error instanceof Error ? error.message : String(error));
    } finally {
      this.running = false;
    }
  }

  private async publish(source: RegistrySource): Promise<void> {
    const pools: Record<string, ReplicaPoolLoad> = {};
    for (const stats of source.poolStats()) {
      if (stats.connections === 0 && stats.queued === 0) continue;
      pools[stats.name] = { id: stats.id, connections: stats.connections, streamsIdle: stats.streamsIdle, streamsBusy: stats.streamsBusy, queued: stats.queued };
    }
    const entry: ReplicaEntry = { replicaId: this.replicaId, at: new Date().toISOString(), pools, ...(this.peerUrl === undefined ? {} : { peerUrl: this.peerUrl }) };
    const pipeline = this.redis.pipeline().set(`${this.entryPrefix}${this.replicaId}`, JSON.stringify(entry), 'PX', this.ttlMs).sadd(this.setKey, this.replicaId);
    if (this.ticks++ % this.connectionsEvery === 0) {
      const ttl = this.connectionsEvery * this.refreshMs + this.ttlMs;
      pipeline.set(`${this.connectionsPrefix}${this.replicaId}`, JSON.stringify(source.connections()), 'PX', ttl);
    }
    throwFirst(await pipeline.exec());
  }

  private async read(): Promise<void> {
    const entries = await this.readEntries();
    const byPool = new Map<string, PeerCandidate[]>();
    for (const entry of entries) {
      if (entry.peerUrl === undefined) continue;
      for (const [name, load] of Object.entries(entry.pools)) {
        if (load.connections === 0) continue;
        let list = byPool.get(name);
        if (list === undefined) byPool.set(name, (list = []));
        list.push({ replicaId: entry.replicaId, peerUrl: entry.peerUrl, load });
      }
    }
    this.replicas = entries;
    this.byPool = byPool;
    // Once: afterwards a Redis outage is what the Redis components report.
    this.options.health?.report('live-registry', true);
    for (const listener of this.snapshotListeners) listener();
  }

  /** The other replicas' live entries, read now; ids whose entry expired leave the set. */
  async readEntries(): Promise<ReplicaEntry[]> {
    const ids = (await this.redis.smembers(this.setKey)).filter((id) => id !== this.replicaId).sort();
    if (ids.length === 0) return [];
    const values = await this.redis.mget(ids.map((id) => `${this.entryPrefix}${id}`));
    const entries: ReplicaEntry[] = [];
    const gone: string[] = [];
    ids.forEach((id, i) => {
      const entry = parse<ReplicaEntry>(values[i]);
      if (entry === undefined || entry.replicaId !== id || typeof entry.pools !== 'object' || entry.pools === null) gone.push(id);
      else entries.push(entry);
    });
    if (gone.length > 0) await this.redis.srem(this.setKey, ...gone);
    return entries;
  }

  /** Every other live replica's connections, read now, each marked with its replica. */
  async readConnections(): Promise<ReplicaConnectionInfo[]> {
    const entries = await this.readEntries();
    if (entries.length === 0) return [];
    const values = await this.redis.mget(entries.map((entry) => `${this.connectionsPrefix}${entry.replicaId}`));
    const out: ReplicaConnectionInfo[] = [];
    entries.forEach((entry, i) => {
      const list = parse<AgentConnectionInfo[]>(values[i]);
      if (Array.isArray(list)) for (const info of list) out.push({ ...info, replica: entry.replicaId });
    });
    return out;
  }

  private async withdraw(): Promise<void> {
    if (this.withdrawn || this.redis.status !== 'ready') return;
    this.withdrawn = true;
    this.byPool = new Map();
    await this.redis
      .pipeline()
      .del(`${this.entryPrefix}${this.replicaId}`, `${this.connectionsPrefix}${this.replicaId}`)
      .srem(this.setKey, this.replicaId)
      .exec()
      .catch(() => undefined);
  }

  private warnOnce(reason: string): void {
    if (this.warned) return;
    this.warned = true;
    // The snapshot stays as it was: forwarding keeps using it, and a peer that went away meanwhile fails at connect and is skipped.
    this.options.logger.warn('live registry not refreshed; forwarding uses the last known replicas until Redis is back', { reason });
  }
}

function parse<T>(value: string | null | undefined): T | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    return JSON.parse(value) as T;
  } catch {
    return undefined;
  }
}

function throwFirst(results: Array<[Error | null, unknown]> | null): void {
  for (const [error] of results ?? []) if (error !== null) throw error;
}
