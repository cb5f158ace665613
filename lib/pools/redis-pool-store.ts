import type { Redis } from 'ioredis';
import { PoolExistsError, PoolStoreError, PoolStoreUnavailableError } from '../errors.js';
import type { PoolRecord, PoolStore } from './pool-store.js';

/** Options of a {@link RedisPoolStore}. */
export interface RedisPoolStoreOptions {
  /** A connected (or connecting) ioredis client; the store never closes it. */
  redis: Redis;
  /** Prepended to every key and channel, so several services can share one Redis (default `vcs-gateway:`). */
  keyPrefix?: string;
  /** How errors name the store, e.g. the redacted URL (never a password). */
  label?: string;
}

/** The default key prefix of a {@link RedisPoolStore}. */
export const DEFAULT_REDIS_KEY_PREFIX = 'vcs-gateway:';

/** A change the store publishes on `<prefix>pool-changes` (see `PoolChangeFeed`). */
export interface PoolChange {
  kind: 'deleted' | 'updated';
  poolId: string;
  name: string;
  /** The key generation after an update (a rotation raises it). */
  keyGeneration?: number;
}

/** The pub/sub channel a store with `keyPrefix` publishes its changes on. */
export function poolChangeChannel(keyPrefix: string = DEFAULT_REDIS_KEY_PREFIX): string {
  return `${keyPrefix}pool-changes`;
}

/*
 * Layout (prefix `p`): `p pool:<id>` holds the record as JSON, `p pool-name:<name>` the id
 * that owns the name, `p pool-ids` the set of ids. Every change is one Lua script, so the
 * record and its name index move together and two replicas creating one name at once cannot
 * both win (Redis runs a script atomically: https://redis.io/docs/latest/develop/interactive/programmability/eval-intro/).
 * Deletions and updates PUBLISH a `PoolChange` from the same script, so whoever made the
 * change (admin API of any replica, `vcs-gateway pool … --redis`) tells every replica.
 * Keys are built inside the scripts from the prefix, which fits one Redis (or a replicated
 * primary), not Redis Cluster's slot-per-key rule.
 */
const CREATE = `
local p = ARGV[1]
if redis.call('EXISTS', p .. 'pool-name:' .. ARGV[3]) == 1 then return 0 end
if redis.call('EXISTS', p .. 'pool:' .. ARGV[2]) == 1 then return -1 end
redis.call('SET', p .. 'pool:' .. ARGV[2], ARGV[4])
redis.call('SET', p .. 'pool-name:' .. ARGV[3], ARGV[2])
redis.call('SADD', p .. 'pool-ids', ARGV[2])
return 1`;

const GET = `
local p = ARGV[1]
local json = redis.call('GET', p .. 'pool:' .. ARGV[2])
if json then return json end
local id = redis.call('GET', p .. 'pool-name:' .. ARGV[2])
if not id then return false end
return redis.call('GET', p .. 'pool:' .. id)`;

const LIST = `
local ids = redis.call('SMEMBERS', ARGV[1] .. 'pool-ids')
if #ids == 0 then return {} end
table.sort(ids)
local keys = {}
for i, id in ipairs(ids) do keys[i] = ARGV[1] .. 'pool:' .. id end
return redis.call('MGET', unpack(keys))`;

const DELETE = `
local p = ARGV[1]
local id = ARGV[2]
local json = redis.call('GET', p .. 'pool:' .. id)
if not json then
  id = redis.call('GET', p .. 'pool-name:' .. ARGV[2])
  if not id then return false end
  json = redis.call('GET', p .. 'pool:' .. id)
  if not json then return false end
end
local name = cjson.decode(json).name
redis.call('DEL', p .. 'pool:' .. id)
if redis.call('GET', p .. 'pool-name:' .. name) == id then redis.call('DEL', p .. 'pool-name:' .. name) end
redis.call('SREM', p .. 'pool-ids', id)
redis.call('PUBLISH', p .. 'pool-changes', cjson.encode({kind = 'deleted', poolId = id, name = name}))
return json`;

const UPDATE = `
local p = ARGV[1]
local json = redis.call('GET', p .. 'pool:' .. ARGV[2])
if not json then return 0 end
if cjson.decode(json).name ~= ARGV[3] then return -1 end
redis.call('SET', p .. 'pool:' .. ARGV[2], ARGV[4])
redis.call('PUBLISH', p .. 'pool-changes', ARGV[5])
return 1`;

/** ioredis states in which a command cannot reach Redis before the next reconnect. */
const UNREACHABLE: ReadonlySet<string> = new Set(['reconnecting', 'close', 'end']);

/**
 * Pools in Redis, for a gateway run as several replicas (`vcs-gateway serve --redis`).
 * Records are the same `PoolRecord`s as in the file store (key hashes, never keys). Names
 * are unique across every writer; deletions and updates are published on
 * {@link poolChangeChannel} in the same atomic step.
 */
export class RedisPoolStore implements PoolStore {
  readonly keyPrefix: string;
  private readonly redis: Redis;
  private readonly label: string;

  constructor(options: RedisPoolStoreOptions) {
    this.redis = options.redis;
    this.keyPrefix = options.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX;
    this.label = options.label ?? 'Redis';
  }

  async create(record: PoolRecord): Promise<void> {
    const outcome = await this.run('create a pool in', CREATE, record.id, record.name, JSON.stringify(record));
    if (outcome === 0) throw new PoolExistsError(record.name);
    if (outcome === -1) throw new PoolStoreError(`Pool ${record.id} is already in the pool store (${this.label})`);
  }

  async list(): Promise<PoolRecord[]> {
    const values = (await this.run('list the pools of', LIST)) as Array<string | null>;
    // A Redis set has no order; ULIDs sort in creation order, as the file store lists them.
    const records = values.filter((value): value is string => value !== null).map((value) => this.parse(value));
    return records.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async get(idOrName: string): Promise<PoolRecord | undefined> {
    const value = (await this.run('read', GET, idOrName)) as string | null;
    return value === null ? undefined : this.parse(value);
  }

  async delete(idOrName: string): Promise<PoolRecord | undefined> {
    const value = (await this.run('delete a pool from', DELETE, idOrName)) as string | null;
    return value === null ? undefined : this.parse(value);
  }

  async update(record: PoolRecord): Promise<void> {
    const change: PoolChange = { kind: 'updated', poolId: record.id, name: record.name, keyGeneration: record.keyGeneration ?? 1 };
    const outcome = await this.run('update a pool in', UPDATE, record.id, record.name, JSON.stringify(record), JSON.stringify(change));
    if (outcome === 0) throw new PoolStoreError(`Pool ${record.id} is not in the store`);
    // Pool names never change (the service has no rename); a different name is a caller's bug.
    if (outcome === -1) throw new PoolStoreError(`Pool ${record.id} cannot change its name in an update`);
  }

  private async run(what: string, script: string, ...args: string[]): Promise<unknown> {
    // While the client is reconnecting, a command would wait in ioredis's offline queue for the
    // next attempt: fail at once instead, so an agent's authentication is answered now (503).
    if (UNREACHABLE.has(this.redis.status)) throw new PoolStoreUnavailableError(`Cannot ${what} the pool store (${this.label}): Redis is unreachable`);
    try {
      return await this.redis.eval(script, 0, this.keyPrefix, ...args);
    } catch (error) {
      // ioredis messages name the address and the failure, never the password.
      const message = `Cannot ${what} the pool store (${this.label}): ${error instanceof Error ? error.message : String(error)}`;
      if (this.redis.status !== 'ready') throw new PoolStoreUnavailableError(message, { cause: error });
      throw new PoolStoreError(message, { cause: error });
    }
  }

  private parse(value: string): PoolRecord {
    let record: unknown;
    try {
      record = JSON.parse(value);
    } catch (error) {
      throw new PoolStoreError(`The pool store (${this.label}) holds a record that is not JSON`, { cause: error });
    }
    const candidate = record as Partial<PoolRecord> | null;
    if (candidate === null || typeof candidate !== 'object' || typeof candidate.id !== 'string' || typeof candidate.name !== 'string' || typeof candidate.keyHash !== 'string') {
      throw new PoolStoreError(`The pool store (${this.label}) holds a record that is not a pool`);
    }
    return candidate as PoolRecord;
  }
}
