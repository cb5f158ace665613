import { PoolExistsError } from '../errors.js';
import type { PoolRecord, PoolStore } from './pool-store.js';

/** A pool store held in memory: for tests and embedding. */
export class MemoryPoolStore implements PoolStore {
  private readonly pools = new Map<string, PoolRecord>();

  async create(record: PoolRecord): Promise<void> {
    for (const existing of this.pools.values()) if (existing.name === record.name) throw new PoolExistsError(record.name);
    this.pools.set(record.id, record);
  }

  async list(): Promise<PoolRecord[]> {
    return [...this.pools.values()];
  }

  async get(idOrName: string): Promise<PoolRecord | undefined> {
    return this.pools.get(idOrName) ?? [...this.pools.values()].find((pool) => pool.name === idOrName);
  }

  async delete(idOrName: string): Promise<PoolRecord | undefined> {
    const record = await this.get(idOrName);
    if (record !== undefined) this.pools.delete(record.id);
    return record;
  }

  async update(record: PoolRecord): Promise<void> {
    this.pools.set(record.id, record);
  }
}
