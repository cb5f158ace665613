import type { Redis } from 'ioredis';
import type { Logger } from '../../logger.js';
import type { PoolRecord, PoolStore } from '../../pools/pool-store.js';
import { poolChangeChannel, type PoolChange } from '../../pools/redis-pool-store.js';

/** What the feed applies changes to: the gateway's own revalidation path. */
export interface PoolChangeTarget {
  revalidate(pool?: string): Promise<number>;
  schedulePreviousKeyExpiry(record: PoolRecord): void;
}

/** Options of a {@link PoolChangeFeed}. */
export interface PoolChangeFeedOptions {
  /** A client of its own: a subscribed connection can do nothing else. */
  subscriber: Redis;
  store: PoolStore;
  target: PoolChangeTarget;
  keyPrefix?: string;
  logger: Logger;
}

/**
 * Applies the pool changes every writer publishes (`RedisPoolStore` does it in the same
 * script as the change) to this replica at once: a deleted pool's connections close and its
 * requests stop, a rotated key's connections are revalidated and the old key's expiry armed.
 * Messages sent while the subscription was down are lost (pub/sub keeps nothing): the owner
 * calls `resync()` when Redis is back; periodic revalidation stays the backstop.
 */
export class PoolChangeFeed {
  /** Messages applied so far (for tests and metrics). */
  applied = 0;
  private readonly channel: string;
  private subscribedOnce = false;
  private stopped = false;
  private readonly onMessage = (channel: string, message: string): void => {
    if (channel === this.channel) this.apply(message);
  };
  private readonly onReady = (): void => {
    // ioredis re-subscribes by itself (autoResubscribe) once a SUBSCRIBE succeeded; one that
    // failed (Redis down at start) is sent again here.
    if (!this.stopped && !this.subscribedOnce) this.subscribe().catch((error: unknown) => this.warn('subscribing to pool changes failed', error));
  };

  constructor(private readonly options: PoolChangeFeedOptions) {
    this.channel = poolChangeChannel(options.keyPrefix);
  }

  /** Subscribes; resolves once subscribed (rejects if Redis cannot be reached now: it keeps trying). */
  async start(): Promise<void> {
    this.options.subscriber.on('message', this.onMessage);
    this.options.subscriber.on('ready', this.onReady);
    await this.subscribe();
  }

  private async subscribe(): Promise<void> {
    await this.options.subscriber.subscribe(this.channel);
    this.subscribedOnce = true;
  }

  /**
   * After the link to Redis was lost: what was published meanwhile is gone, so revalidate
   * every pool held. Call it once both the subscription and the store are back.
   */
  async resync(): Promise<number> {
    if (!this.subscribedOnce) await this.subscribe();
    return this.options.target.revalidate();
  }

  stop(): void {
    this.stopped = true;
    this.options.subscriber.off('message', this.onMessage);
    this.options.subscriber.off('ready', this.onReady);
  }

  private apply(message: string): void {
    let change: PoolChange;
    try {
      change = JSON.parse(message) as PoolChange;
    } catch {
      return this.options.logger.warn('ignored a pool change that is not JSON', { channel: this.channel });
    }
    if (change === null || typeof change !== 'object' || typeof change.poolId !== 'string') return this.options.logger.warn('ignored a malformed pool change', { channel: this.channel });
    this.applied++;
    const { target, store } = this.options;
    // The store, not the message, decides: revalidation closes what the stored record no longer allows.
    const work =
      change.kind === 'updated'
        ? store.get(change.poolId).then(async (record) => {
            await target.revalidate(change.poolId);
            if (record !== undefined && record.id === change.poolId && record.previousKeyExpiresAt !== undefined) target.schedulePreviousKeyExpiry(record);
          })
        : target.revalidate(change.poolId);
    work.catch((error: unknown) => this.warn('applying a pool change failed', error, change.poolId));
  }

  private warn(message: string, error: unknown, poolId?: string): void {
    this.options.logger.warn(message, { ...(poolId === undefined ? {} : { poolId }), error: error instanceof Error ? error.message : String(error) });
  }
}
