import { verifyPoolKey } from './pool-key.js';
import type { PoolRecord } from './pool-store.js';

/** The key generation of a pool record (stores written before rotation existed hold 1). */
export function keyGenerationOf(record: PoolRecord): number {
  return record.keyGeneration ?? 1;
}

/** Whether a record's previous key is still inside its grace period at `now`. */
export function previousKeyValid(record: PoolRecord, now: number = Date.now()): boolean {
  if (record.previousKeyHash === undefined || record.previousKeyExpiresAt === undefined) return false;
  const expires = Date.parse(record.previousKeyExpiresAt);
  return Number.isFinite(expires) && now < expires;
}

/**
 * Which key generation a presented key belongs to: the current one, or the previous one
 * while its grace period runs; `undefined` when neither matches. Both comparisons always
 * run, so the timing says nothing about which key (if any) matched.
 */
export function matchPoolKey(record: PoolRecord, key: string, now: number = Date.now()): number | undefined {
  const current = verifyPoolKey(key, record.keyHash);
  const previous = record.previousKeyHash !== undefined && verifyPoolKey(key, record.previousKeyHash);
  if (current) return keyGenerationOf(record);
  if (previous && previousKeyValid(record, now)) return keyGenerationOf(record) - 1;
  return undefined;
}

/**
 * Whether a connection authenticated with key `generation` may stay connected to `record`
 * at `now`: the current key always, the previous one until its grace period ends.
 */
export function keyGenerationAllowed(record: PoolRecord, generation: number, now: number = Date.now()): boolean {
  const current = keyGenerationOf(record);
  if (generation === current) return true;
  return generation === current - 1 && previousKeyValid(record, now);
}
