import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { PoolExistsError, PoolStoreError } from '../errors.js';
import type { PoolRecord, PoolStore } from './pool-store.js';

interface StoreFile {
  version: 1;
  pools: PoolRecord[];
}

/**
 * Pools in one JSON file (mode 0600), rewritten atomically (temp file + rename) on every
 * change, so a crash never leaves half a file. Reads go to disk each time so that a
 * running gateway sees pools created by `vcs-gateway pool create` in another process.
 * Writes within one process are serialised; across processes the last rename wins.
 */
export class FilePoolStore implements PoolStore {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly path: string) {}

  async create(record: PoolRecord): Promise<void> {
    await this.mutate((file) => {
      if (file.pools.some((pool) => pool.name === record.name)) throw new PoolExistsError(record.name);
      file.pools.push(record);
    });
  }

  async list(): Promise<PoolRecord[]> {
    return (await this.read()).pools;
  }

  async get(idOrName: string): Promise<PoolRecord | undefined> {
    const { pools } = await this.read();
    return pools.find((pool) => pool.id === idOrName) ?? pools.find((pool) => pool.name === idOrName);
  }

  async delete(idOrName: string): Promise<PoolRecord | undefined> {
    let removed: PoolRecord | undefined;
    await this.mutate((file) => {
      const index = file.pools.findIndex((pool) => pool.id === idOrName || pool.name === idOrName);
      if (index === -1) return false;
      [removed] = file.pools.splice(index, 1);
      return true;
    });
    return removed;
  }

  async update(record: PoolRecord): Promise<void> {
    await this.mutate((file) => {
      const index = file.pools.findIndex((pool) => pool.id === record.id);
      if (index === -1) throw new PoolStoreError(`Pool ${record.id} is not in the store`);
      file.pools[index] = record;
    });
  }

  private async read(): Promise<StoreFile> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, pools: [] };
      throw new PoolStoreError(`Cannot read the pool store ${this.path}`, { cause: error });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new PoolStoreError(`The pool store ${this.path} is not valid JSON`, { cause: error });
    }
    const file = parsed as Partial<StoreFile>;
    if (file === null || typeof file !== 'object' || file.version !== 1 || !Array.isArray(file.pools)) {
      throw new PoolStoreError(`The pool store ${this.path} is not a version 1 store`);
    }
    return file as StoreFile;
  }

  private mutate(change: (file: StoreFile) => boolean | void): Promise<void> {
    const run = this.queue.then(async () => {
      const file = await this.read();
      if (change(file) === false) return;
      try {
        await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
        await writeFileAtomic(this.path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
      } catch (error) {
        throw new PoolStoreError(`Cannot write the pool store ${this.path}`, { cause: error });
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}
