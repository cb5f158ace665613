import { createRequire } from 'node:module';
import type { Redis, RedisOptions } from 'ioredis';
import { InvalidOptionError } from '../../errors.js';

/** Options of {@link createRedisClient}. */
export interface RedisClientOptions {
  /** `redis://[[user]:password@]host[:port][/db]` or `rediss://…` (TLS). */
  url: string;
  /** The option name to blame in errors (`redis`, `VCS_GATEWAY_REDIS_URL`, …). */
  option?: string;
  /** Connection name shown by `CLIENT LIST` (e.g. `vcs-gateway:<replica>`). */
  connectionName?: string;
  /** Bound on one connection attempt. */
  connectTimeoutMs?: number;
}

/*
 * Commands fail fast while Redis is unreachable instead of queueing without limit: a replica
 * must keep serving the connections it holds and report not-ready, not block requests
 * behind an offline queue (issue 8: "Redis restarted or unreachable for 10 s").
 * Reconnects back off to at most 1 s with jitter so that a fleet of replicas does not hit a
 * restarted Redis in step.
 */
const MAX_RETRIES_PER_REQUEST = 1;
const MAX_RECONNECT_DELAY_MS = 1000;

/*
 * ioredis is loaded on the first client, not with this module: it and what it pulls in cost
 * ~16 MiB of resident memory at start-up (a process importing the gateway's other packages:
 * 59.7 MiB, with ioredis 75.4; Node 20), and a gateway on a pool file never talks to Redis.
 * `require`, not `import()`: GatewayCluster builds its clients synchronously.
 */
const requireFromHere = createRequire(import.meta.url);
let ioredis: typeof import('ioredis') | undefined;

/** Parses and checks a Redis URL; the message never repeats the password. */
export function parseRedisUrl(value: string, option = 'redis'): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch (error) {
    throw new InvalidOptionError(option, `${option} must be a redis:// or rediss:// URL`, { cause: error });
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new InvalidOptionError(option, `${option} must be a redis:// or rediss:// URL, got scheme ${url.protocol}`);
  }
  if (url.hostname === '') throw new InvalidOptionError(option, `${option} must name a host`);
  const db = url.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw new InvalidOptionError(option, `${option}: the path must be a database number, e.g. /0`);
  return url;
}

/** The URL with any password replaced, for logs and errors. */
export function redactRedisUrl(url: URL): string {
  const copy = new URL(url.href);
  if (copy.password !== '') copy.password = '***';
  return copy.href;
}

/**
 * A new ioredis client for `url` (not yet connected: call `connect()`), with fail-fast
 * commands and jittered reconnects. `rediss://` uses TLS; user and password come from the URL.
 */
export function createRedisClient(options: RedisClientOptions): Redis {
  const url = parseRedisUrl(options.url, options.option);
  const redisOptions: RedisOptions = {
    lazyConnect: true,
    maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST,
    connectTimeout: options.connectTimeoutMs ?? 2000,
    retryStrategy: (times) => Math.min(MAX_RECONNECT_DELAY_MS, 50 * 2 ** Math.min(times, 5)) * (0.5 + Math.random() / 2),
    ...(options.connectionName === undefined ? {} : { connectionName: options.connectionName }),
  };
  ioredis ??= requireFromHere('ioredis') as typeof import('ioredis');
  return new ioredis.Redis(url.href, redisOptions);
}
