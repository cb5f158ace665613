import type { Redis } from 'ioredis';
import { InvalidOptionError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { DEFAULT_REDIS_KEY_PREFIX, RedisPoolStore } from '../../pools/redis-pool-store.js';
import { ClusterHealth, watchRedis } from './cluster-health.js';
import { PoolChangeFeed, type PoolChangeTarget } from './pool-change-feed.js';
import { createRedisClient, parseRedisUrl, redactRedisUrl } from './redis-client.js';
import { SharedAccessLog } from './shared-access-log.js';

const REDIS_COMPONENTS: readonly string[] = ['redis', 'redis-subscriber'];

/**
 * Options of a replicated gateway (`GatewayOptions.cluster`): the shared state lives in
 * Redis. Peer forwarding adds its own fields here.
 */
export interface GatewayClusterOptions {
  /** `redis://[[user]:password@]host[:port][/db]` or `rediss://…`. */
  redisUrl: string;
  /** This replica's name in the shared state (access log, registry). */
  replicaId: string;
  /** Prefix of every key and channel (default `vcs-gateway:`), so services can share one Redis. */
  keyPrefix?: string;
  /** About how many records the shared access log keeps (default 1 000). */
  accessLogSize?: number;
  /** The option to blame for a bad URL (default `redisUrl`; the CLI passes `--redis`). */
  redisOption?: string;
  /** Bound on one Redis connection attempt (default 2 000 ms). */
  connectTimeoutMs?: number;
}

/**
 * A replica's link to the shared state: the Redis clients (one for commands, one
 * subscribed), the pool store on Redis, the change feed, the shared access log and the
 * health they report into. Created by the `Gateway` from `GatewayOptions.cluster`.
 */
export class GatewayCluster {
  readonly replicaId: string;
  readonly keyPrefix: string;
  readonly health = new ClusterHealth();
  readonly store: RedisPoolStore;
  readonly accessLog: SharedAccessLog;
  /** The command connection (other cluster parts may share it). */
  readonly redis: Redis;
  private readonly subscriber: Redis;
  private readonly redactedUrl: string;
  private feed: PoolChangeFeed | undefined;
  /** Set when Redis was lost after start: the next full reconnect resyncs. */
  private lostRedis = false;
  private lastError: string | undefined;
  private readonly cleanups: Array<() => void> = [];

  constructor(
    options: GatewayClusterOptions,
    private readonly logger: Logger,
  ) {
    const option = options.redisOption ?? 'redisUrl';
    this.redactedUrl = redactRedisUrl(parseRedisUrl(options.redisUrl, option));
    if (typeof options.replicaId !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(options.replicaId)) {
      throw new InvalidOptionError('replicaId', 'Invalid replicaId: expected 1-128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit');
    }
    this.replicaId = options.replicaId;
    this.keyPrefix = options.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX;
    const clientOptions = {
      url: options.redisUrl,
      option,
      connectionName: `vcs-gateway:${this.replicaId}`,
      ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
    };
    this.redis = createRedisClient(clientOptions);
    this.subscriber = createRedisClient(clientOptions);
    this.store = new RedisPoolStore({ redis: this.redis, keyPrefix: this.keyPrefix, label: this.redactedUrl });
    this.accessLog = new SharedAccessLog({ redis: this.redis, replicaId: this.replicaId, capacity: options.accessLogSize ?? 1000, keyPrefix: this.keyPrefix, logger });
    for (const client of [this.redis, this.subscriber]) {
      // Reported through the health below (an 'error' without a listener would reach the
      // console); the last one is kept for the warning. ioredis messages never hold the password.
      const remember = (error: Error): void => {
        this.lastError = error.message;
      };
      client.on('error', remember);
      this.cleanups.push(() => client.off('error', remember));
    }
    this.cleanups.push(watchRedis(this.redis, this.health, 'redis'), watchRedis(this.subscriber, this.health, 'redis-subscriber'));
    const onChange = (state: { component: string; ok: boolean; reason?: string }): void => {
      if (!REDIS_COMPONENTS.includes(state.component)) return;
      if (!state.ok) {
        if (this.feed !== undefined) this.lostRedis = true;
        this.logger.warn('redis unreachable: serving the connections held, not ready', {
          component: state.component,
          redis: this.redactedUrl,
          reason: state.reason,
          ...(this.lastError === undefined ? {} : { error: this.lastError }),
        });
        return;
      }
      this.logger.info('redis connected', { component: state.component, redis: this.redactedUrl });
      // Both connections reconnect on their own schedule: resync once the store and the
      // subscription are both back, or the revalidation would fail against a half-back Redis.
      const redisOk = this.health.snapshot().filter((c) => REDIS_COMPONENTS.includes(c.component)).every((c) => c.ok);
      if (!this.lostRedis || !redisOk || this.feed === undefined) return;
      this.lostRedis = false;
      this.feed.resync().then(
        (closed) => this.logger.info('resynced with redis: every held pool revalidated', { closed }),
        (error: unknown) => {
          this.lostRedis = true;
          this.logger.warn('revalidation after reconnecting to redis failed; periodic revalidation will retry', { error: error instanceof Error ? error.message : String(error) });
        },
      );
    };
    this.health.on('change', onChange);
    this.cleanups.push(() => this.health.off('change', onChange));
  }

  /**
   * Connects and subscribes to the change feed for `target`. Never rejects: while Redis is
   * unreachable the replica starts not ready and the clients keep trying.
   */
  async start(target: PoolChangeTarget): Promise<void> {
    this.feed = new PoolChangeFeed({ subscriber: this.subscriber, store: this.store, target, keyPrefix: this.keyPrefix, logger: this.logger });
    await Promise.all([this.redis.connect().catch(() => undefined), this.subscriber.connect().catch(() => undefined)]);
    await this.feed.start().catch(() => undefined);
    const reason = this.health.reason;
    if (reason !== undefined) this.logger.warn('redis unreachable at start: not ready until it is back', { redis: this.redactedUrl, reason, ...(this.lastError === undefined ? {} : { error: this.lastError }) });
  }

  /**
   * Why the shared parts are not ready, or undefined. Asks the clients first: ioredis changes
   * its status at once but tells 'close' on a later tick, so a command can fail (and a probe
   * ask) before the event has reported the outage.
   */
  get notReadyReason(): string | undefined {
    for (const [client, component] of [[this.redis, 'redis'], [this.subscriber, 'redis-subscriber']] as const) {
      if (client.status !== 'ready') this.health.report(component, false, 'redis unreachable');
    }
    return this.health.reason;
  }

  /** Closes both connections. */
  async stop(): Promise<void> {
    this.feed?.stop();
    this.accessLog.stop();
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    this.health.removeAllListeners();
    // QUIT only on a live connection: while reconnecting it would wait for the next attempt.
    await Promise.all([this.subscriber, this.redis].map((client) => (client.status === 'ready' ? client.quit().then(() => undefined, () => client.disconnect()) : client.disconnect())));
  }
}

