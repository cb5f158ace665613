import type { Redis } from 'ioredis';
import type { AddressInfo } from 'node:net';
import { ClosedError, InvalidOptionError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { DEFAULT_REDIS_KEY_PREFIX, RedisPoolStore } from '../../pools/redis-pool-store.js';
import type { ExchangeHandler, ExchangeRequest } from '../exchange.js';
import type { ExchangeControl } from '../gateway-types.js';
import { ClusterHealth, watchRedis } from './cluster-health.js';
import { LiveRegistry, type RegistrySource } from './live-registry.js';
import { PeerForwarder, type LocalRoute } from './peer-forwarder.js';
import { PeerListener } from './peer-listener.js';
import { checkPeerOptions, checkPeerTls, peerUrlOf, type CheckedPeerOptions, type PeerOptions, type PeerTlsOptions } from './peer-options.js';
import { PeerToken } from './peer-protocol.js';
import { PoolChangeFeed, type PoolChangeTarget } from './pool-change-feed.js';
import { createRedisClient, parseRedisUrl, redactRedisUrl } from './redis-client.js';
import { SharedAccessLog } from './shared-access-log.js';
import { positiveInteger } from '../../util/positive-integer.js';

const REDIS_COMPONENTS: readonly string[] = ['redis', 'redis-subscriber'];

/**
 * Options of a replicated gateway (`GatewayOptions.cluster`): the shared state lives in
 * Redis; with `peer`, requests a replica cannot serve at once go to one that can.
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
  /**
   * Peer forwarding: this replica forwards what it cannot serve at once to a replica with a
   * free stream, and `Gateway.listenPeers()` takes what others forward (docs/scaling.md).
   */
  peer?: PeerOptions;
  /** Timing of the live registry (default: written every 500 ms, entries live 1 500 ms). */
  registry?: { refreshIntervalMs?: number; ttlMs?: number };
}

/** What the cluster serves forwarded requests with, and publishes: the gateway. */
export interface ClusterTarget extends PoolChangeTarget, RegistrySource {
  dispatch(request: ExchangeRequest, handler: ExchangeHandler): ExchangeControl;
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
  /** Which replica holds connections of which pool (refreshed on a timer, read by routing and the admin view). */
  readonly registry: LiveRegistry;
  private peer: CheckedPeerOptions | undefined;
  private forwarder: PeerForwarder | undefined;
  private listener: PeerListener | undefined;
  /** The option to blame for a missing peer URL (the CLI passes `--peer-url`). */
  private readonly peerUrlOption: string;
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
    const timing = options.registry ?? {};
    this.registry = new LiveRegistry({
      redis: this.redis,
      replicaId: this.replicaId,
      keyPrefix: this.keyPrefix,
      logger,
      ...(timing.refreshIntervalMs === undefined ? {} : { refreshIntervalMs: positiveInteger(timing.refreshIntervalMs, 0, 'registry.refreshIntervalMs') }),
      ...(timing.ttlMs === undefined ? {} : { ttlMs: positiveInteger(timing.ttlMs, 0, 'registry.ttlMs') }),
      ...(options.peer === undefined ? {} : { health: this.health }),
    });
    this.peer = options.peer === undefined ? undefined : checkPeerOptions(options.peer);
    this.peerUrlOption = options.peer?.urlOption ?? 'peer.url';
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
  async start(target: ClusterTarget): Promise<void> {
    this.feed = new PoolChangeFeed({ subscriber: this.subscriber, store: this.store, target, keyPrefix: this.keyPrefix, logger: this.logger });
    await Promise.all([this.redis.connect().catch(() => undefined), this.subscriber.connect().catch(() => undefined)]);
    await this.feed.start().catch(() => undefined);
    await this.registry.start(target);
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

  /** The forwarder for a gateway whose own route is `local` (undefined without `peer`); `onBodyChunk` is GatewayOptions'. */
  forwarderFor(local: LocalRoute, onBodyChunk?: (bytes: number) => void): PeerForwarder | undefined {
    if (this.peer === undefined) return undefined;
    const { token, url: _url, ...timing } = this.peer;
    this.forwarder ??= new PeerForwarder({ ...timing, replicaId: this.replicaId, token, registry: this.registry, local, logger: this.logger, onBodyChunk });
    return this.forwarder;
  }

  /** Starts the peer listener for `target` and advertises it in the registry; resolves with the bound address. */
  async listenPeers(target: ClusterTarget, options: { host?: string; port?: number }): Promise<AddressInfo> {
    if (this.peer === undefined) throw new InvalidOptionError('peer', 'listenPeers() needs cluster.peer (the peer token)');
    if (this.listener !== undefined) throw new InvalidOptionError('peer', 'The peer listener is already started');
    const advertised = this.peer.url;
    if (advertised === undefined && (options.host === '0.0.0.0' || options.host === '::')) {
      throw new InvalidOptionError(this.peerUrlOption, `${this.peerUrlOption} is needed when the peer listener binds every address (${options.host}): other replicas must know where to reach this one`);
    }
    if (target.isClosing) throw new ClosedError('The gateway');
    this.listener = new PeerListener({ replicaId: this.replicaId, token: new PeerToken(this.peer.token), dispatch: (request, handler) => target.dispatch(request, handler), closing: () => target.isClosing, logger: this.logger, tls: this.peer.tls });
    const address = await this.listener.listen(options);
    const url = advertised ?? (peerUrlOf(address, this.peer.tls !== undefined) as string);
    this.registry.setPeerUrl(url);
    this.logger.info('peer listener advertised', { replicaId: this.replicaId, peerUrl: url });
    return address;
  }

  /**
   * Replaces the peer TLS material (`cluster.peer.tls`), checked as at start, for connections
   * made from now on, both ways: a renewed certificate or CA (cert-manager rotates the Secret).
   * Sessions already open keep theirs. Only a replica started with peer TLS can take it:
   * turning TLS on or off would change the URL this replica advertises.
   */
  setPeerTls(tls: PeerTlsOptions): void {
    if (this.peer?.tls === undefined) throw new InvalidOptionError('peer.tls', 'setPeerTls() needs a replica started with cluster.peer.tls');
    const checked = checkPeerTls(tls);
    this.peer = { ...this.peer, tls: checked };
    this.listener?.setTls(checked);
    this.forwarder?.sessions.setTls(checked);
  }

  /**
   * Graceful, once the gateway is closing: this replica leaves the registry, the peer listener
   * stops taking forwarded requests (GOAWAY) and waits for those in flight, no new session to a
   * peer opens.
   */
  async drainPeers(): Promise<void> {
    // The gateway is closing: the refresh withdraws this replica's entries now, not at the next tick.
    void this.registry.refresh();
    this.forwarder?.close();
    await this.listener?.close();
  }

  /** Withdraws from the registry and closes both connections; whatever peer traffic is left is cut. */
  async stop(): Promise<void> {
    this.listener?.destroy();
    this.forwarder?.destroy();
    await this.registry.stop().catch(() => undefined);
    this.feed?.stop();
    this.accessLog.stop();
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    this.health.removeAllListeners();
    // QUIT only on a live connection: while reconnecting it would wait for the next attempt.
    await Promise.all([this.subscriber, this.redis].map((client) => (client.status === 'ready' ? client.quit().then(() => undefined, () => client.disconnect()) : client.disconnect())));
  }
}

