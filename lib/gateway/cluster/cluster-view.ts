import type { Logger } from '../../logger.js';
import type { AgentConnectionInfo } from '../agent-connection.js';
import type { PoolLiveStats } from '../gateway-types.js';
import type { LiveRegistry, ReplicaConnectionInfo } from './live-registry.js';

/** What the view needs of this replica: its own live numbers, read from memory. */
export interface LocalView {
  connections(pool?: string): AgentConnectionInfo[];
  poolStats(): PoolLiveStats[];
}

/**
 * The whole service as operators see it (admin API, pools page): this replica's connections
 * and numbers from memory, every other live replica's from the registry in Redis, read when
 * asked. While Redis cannot be read, this replica's own (the admin API still answers).
 */
export class ClusterView {
  constructor(
    private readonly local: LocalView,
    private readonly registry: LiveRegistry,
    private readonly replicaId: string,
    private readonly logger: Logger,
  ) {}

  /** Every replica's connections (of `pool`, by name), each marked with its replica. */
  async connections(pool?: string): Promise<ReplicaConnectionInfo[]> {
    const own = this.local.connections(pool).map((info) => ({ ...info, replica: this.replicaId }));
    const others = await this.read(() => this.registry.readConnections(), []);
    return [...own, ...others.filter((info) => pool === undefined || info.poolName === pool)];
  }

  /** Each pool's numbers summed over every replica (a pool's id must match, as a name can be reused). */
  async poolStats(): Promise<PoolLiveStats[]> {
    const sums = new Map<string, PoolLiveStats>();
    for (const stats of this.local.poolStats()) sums.set(stats.name, { ...stats });
    for (const entry of await this.read(() => this.registry.readEntries(), [])) {
      for (const [name, load] of Object.entries(entry.pools)) {
        const sum = sums.get(name);
        if (sum === undefined) {
          sums.set(name, { id: load.id, name, connections: load.connections, streamsBusy: load.streamsBusy, streamsIdle: load.streamsIdle, queued: load.queued });
        } else if (sum.id === load.id) {
          sum.connections += load.connections;
          sum.streamsBusy += load.streamsBusy;
          sum.streamsIdle += load.streamsIdle;
          sum.queued += load.queued;
        }
      }
    }
    return [...sums.values()];
  }

  private async read<T>(work: () => Promise<T>, fallback: T): Promise<T> {
    if (!this.registry.reachable) return fallback;
    try {
      return await work();
    } catch (error) {
      this.logger.warn("cannot read the other replicas from the live registry; showing this replica's own", { error: error instanceof Error ? error.message : String(error) });
      return fallback;
    }
  }
}
