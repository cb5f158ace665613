import { monotonicFactory } from 'ulid';
import { InvalidOptionError, PoolNotFoundError } from '../errors.js';
import { encodePoolToken } from '../protocol/token.js';
import { generatePoolKey, hashPoolKey } from './pool-key.js';
import { keyGenerationOf } from './pool-key-check.js';
import type { PoolRecord, PoolStore } from './pool-store.js';

// Monotonic within a millisecond, so ids sort in creation order (the Redis store lists by id).
const nextPoolId = monotonicFactory();

/** Pool names: what may stand as the host of a `private://` URL and a front-door path segment. */
const POOL_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const MAX_DESCRIPTION_LENGTH = 1024;

export interface CreatePoolOptions {
  name: string;
  description?: string;
  /** The gateway URL agents dial, written into the token as `host`. */
  gatewayUrl: string;
}

export interface CreatedPool {
  pool: PoolRecord;
  /** The configuration token. It holds the key in clear and is shown only once. */
  token: string;
}

/** Checks a pool name; the message names the `name` field and what is expected. */
export function validatePoolName(name: string): void {
  if (!POOL_NAME_PATTERN.test(name)) {
    throw new InvalidOptionError(
      'name',
      `Invalid pool name "${name.slice(0, 80)}": expected 1-63 lower-case letters, digits and inner hyphens (like a DNS label)`,
    );
  }
}

export function validateGatewayUrl(gatewayUrl: string, option = 'gateway-url'): URL {
  let url: URL;
  try {
    url = new URL(gatewayUrl);
  } catch {
    throw new InvalidOptionError(option, `Invalid ${option} "${gatewayUrl}": expected an https:// (or http://) URL`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '') {
    throw new InvalidOptionError(option, `Invalid ${option}: expected an https:// (or http://) URL without credentials`);
  }
  return url;
}

/** Creates a pool and returns it with its configuration token (the only time the key exists in clear). */
export async function createPool(store: PoolStore, options: CreatePoolOptions): Promise<CreatedPool> {
  validatePoolName(options.name);
  const description = options.description ?? '';
  validateDescription(description);
  const host = validateGatewayUrl(options.gatewayUrl).href.replace(/\/$/, '');
  const key = generatePoolKey();
  const pool: PoolRecord = {
    id: nextPoolId(),
    name: options.name,
    description,
    keyHash: hashPoolKey(key),
    createdAt: new Date().toISOString(),
    keyGeneration: 1,
  };
  await store.create(pool);
  return { pool, token: encodePoolToken({ host, key, pool_ulid: pool.id }) };
}

/** Checks a pool description; the message names the `description` field. */
export function validateDescription(description: string): void {
  if (description.length > MAX_DESCRIPTION_LENGTH || /[\u0000-\u001f\u007f]/.test(description)) {
    throw new InvalidOptionError('description', `Invalid description: expected at most ${MAX_DESCRIPTION_LENGTH} characters without control characters`);
  }
}

/** Longest grace period a rotation accepts: 30 days. */
export const MAX_ROTATION_GRACE_MS = 30 * 24 * 3600 * 1000;

export interface RotatePoolKeyOptions {
  /** How long the replaced key stays valid (0: at once invalid). At most 30 days. */
  graceMs: number;
  /** The gateway URL agents dial, written into the new token as `host`. */
  gatewayUrl: string;
  /** The clock, for tests. */
  now?: number;
}

export interface RotatedPool extends CreatedPool {
  /** When the replaced key stops being accepted (and connections made with it are closed). */
  previousKeyExpiresAt: string;
}

/**
 * Gives a pool a new key. The key it replaces stays valid for `graceMs` so agents can be
 * re-configured without downtime; a key older than that (from an earlier rotation) is
 * dropped at once. Returns the new configuration token, the only time the key exists in clear.
 */
export async function rotatePoolKey(store: PoolStore, idOrName: string, options: RotatePoolKeyOptions): Promise<RotatedPool> {
  if (!Number.isInteger(options.graceMs) || options.graceMs < 0 || options.graceMs > MAX_ROTATION_GRACE_MS) {
    throw new InvalidOptionError('grace', `Invalid grace period: expected a whole number of milliseconds from 0 to ${MAX_ROTATION_GRACE_MS} (30 days)`);
  }
  const host = validateGatewayUrl(options.gatewayUrl).href.replace(/\/$/, '');
  const existing = await store.get(idOrName);
  if (existing === undefined) throw new PoolNotFoundError(idOrName);
  const now = options.now ?? Date.now();
  const key = generatePoolKey();
  const previousKeyExpiresAt = new Date(now + options.graceMs).toISOString();
  const pool: PoolRecord = {
    ...existing,
    keyHash: hashPoolKey(key),
    keyGeneration: keyGenerationOf(existing) + 1,
    previousKeyHash: existing.keyHash,
    previousKeyExpiresAt,
    updatedAt: new Date(now).toISOString(),
  };
  await store.update(pool);
  return { pool, token: encodePoolToken({ host, key, pool_ulid: pool.id }), previousKeyExpiresAt };
}

/** Changes a pool's description. */
export async function updatePoolDescription(store: PoolStore, idOrName: string, description: string): Promise<PoolRecord> {
  validateDescription(description);
  const existing = await store.get(idOrName);
  if (existing === undefined) throw new PoolNotFoundError(idOrName);
  const pool: PoolRecord = { ...existing, description, updatedAt: new Date().toISOString() };
  await store.update(pool);
  return pool;
}

/** What may be shown of a pool record: everything except the key hashes. */
export interface PoolSummary {
  id: string;
  name: string;
  description: string;
  createdAt: string;
  updatedAt?: string;
  keyGeneration: number;
  /** Set while a replaced key is still accepted. */
  previousKeyExpiresAt?: string;
}

/** A pool record without its key hashes, for APIs and listings. */
export function poolSummary(record: PoolRecord, now: number = Date.now()): PoolSummary {
  const summary: PoolSummary = {
    id: record.id,
    name: record.name,
    description: record.description,
    createdAt: record.createdAt,
    keyGeneration: keyGenerationOf(record),
  };
  if (record.updatedAt !== undefined) summary.updatedAt = record.updatedAt;
  if (record.previousKeyExpiresAt !== undefined && Date.parse(record.previousKeyExpiresAt) > now) summary.previousKeyExpiresAt = record.previousKeyExpiresAt;
  return summary;
}
