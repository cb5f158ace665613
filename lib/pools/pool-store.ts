/** A pool as stored: never the key itself, only its hash. */
export interface PoolRecord {
  /** ULID, the `pool_ulid` of the configuration token. */
  readonly id: string;
  /** Unique name; `private://<name>/…` routes to this pool. */
  readonly name: string;
  readonly description: string;
  /** Hex SHA-256 of the pool key (the key has 256 bits of entropy, so no slow KDF is needed). */
  readonly keyHash: string;
  /** ISO-8601 creation time. */
  readonly createdAt: string;
  /** Which key `keyHash` is: 1 at creation, +1 on every rotation (absent in older stores: 1). */
  readonly keyGeneration?: number;
  /**
   * After a rotation, the hash of the key it replaced (generation `keyGeneration - 1`), still
   * accepted until `previousKeyExpiresAt`. Absent when there is no grace period running.
   */
  readonly previousKeyHash?: string;
  /** ISO-8601 end of the previous key's grace period. */
  readonly previousKeyExpiresAt?: string;
  /** ISO-8601 time of the last change (description or key). */
  readonly updatedAt?: string;
}

/**
 * Where pools live. The embedded default is `FilePoolStore`; a database-backed store only
 * has to implement these five methods. `create` must fail with `PoolExistsError` when the
 * name is taken, atomically with respect to other writers.
 */
export interface PoolStore {
  create(record: PoolRecord): Promise<void>;
  list(): Promise<PoolRecord[]>;
  /** Looks a pool up by ULID or by name. */
  get(idOrName: string): Promise<PoolRecord | undefined>;
  /** Removes a pool by ULID or name; resolves to the removed record, if there was one. */
  delete(idOrName: string): Promise<PoolRecord | undefined>;
  /** Replaces a stored record (same id). */
  update(record: PoolRecord): Promise<void>;
}
