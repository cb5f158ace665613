import type { Redis } from 'ioredis';
import type { Logger } from '../../logger.js';
import { matchesAccessLogFilter, type AccessLogEntry, type AccessLogFilter } from '../access-log.js';

/** Options of a {@link SharedAccessLog}. */
export interface SharedAccessLogOptions {
  redis: Redis;
  replicaId: string;
  /** How many records the stream keeps, about (`MAXLEN ~`), and at most how many a query returns. */
  capacity: number;
  keyPrefix: string;
  logger: Logger;
}

/**
 * The access log of the whole service: every replica appends its records to one capped
 * Redis stream (`<prefix>access-log`), and any replica's admin API reads it. Appending never
 * waits and never fails a request: while Redis is down records are dropped and counted, with
 * one warning per outage.
 */
export class SharedAccessLog {
  /** Records that could not be appended (Redis down or refusing). */
  dropped = 0;
  readonly capacity: number;
  private readonly key: string;
  private warned = false;
  private readonly onReady = (): void => {
    this.warned = false;
  };

  constructor(private readonly options: SharedAccessLogOptions) {
    this.capacity = options.capacity;
    this.key = `${options.keyPrefix}access-log`;
    options.redis.on('ready', this.onReady);
  }

  /** Appends one entry (fire and forget). */
  add(entry: AccessLogEntry): void {
    const { redis } = this.options;
    // Not queued behind a reconnect: the record would arrive late or pile up in memory.
    if (redis.status !== 'ready') return this.drop('redis unreachable');
    const line = JSON.stringify({ ...entry, replica: this.options.replicaId });
    // `MAXLEN ~` lets Redis trim whole macro nodes, far cheaper than an exact cap (https://redis.io/docs/latest/commands/xadd/).
    redis.xadd(this.key, 'MAXLEN', '~', String(this.capacity), '*', 'r', line).catch((error: unknown) => this.drop(error instanceof Error ? error.message : String(error)));
  }

  /** The newest entries of every replica matching `filter`, newest first. */
  async query(filter: AccessLogFilter = {}): Promise<AccessLogEntry[]> {
    const rows = await this.options.redis.xrevrange(this.key, '+', '-', 'COUNT', this.capacity);
    const limit = filter.limit ?? this.capacity;
    const out: AccessLogEntry[] = [];
    for (const [, fields] of rows) {
      if (out.length >= limit) break;
      const index = fields.indexOf('r');
      if (index === -1 || index % 2 !== 0) continue;
      let entry: AccessLogEntry;
      try {
        entry = JSON.parse(fields[index + 1] as string) as AccessLogEntry;
      } catch {
        continue;
      }
      if (entry !== null && typeof entry === 'object' && matchesAccessLogFilter(entry, filter)) out.push(entry);
    }
    return out;
  }

  stop(): void {
    this.options.redis.off('ready', this.onReady);
  }

  private drop(reason: string): void {
    this.dropped++;
    if (this.warned) return;
    this.warned = true;
    this.options.logger.warn('access records are not reaching the shared access log; dropping them until Redis is back', { reason });
  }
}
