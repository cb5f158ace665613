import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new pool key: 32 random bytes, base64url. */
export function generatePoolKey(): string {
  return randomBytes(32).toString('base64url');
}

export function hashPoolKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Constant-time comparison of a presented key against a stored hash. */
export function verifyPoolKey(key: string, keyHash: string): boolean {
  const presented = createHash('sha256').update(key, 'utf8').digest();
  const stored = Buffer.from(keyHash, 'hex');
  // Both are SHA-256 digests, so lengths only differ for a corrupt record.
  return stored.length === presented.length && timingSafeEqual(presented, stored);
}
