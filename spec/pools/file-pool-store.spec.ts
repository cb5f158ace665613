import { expect } from 'chai';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoolExistsError, PoolStoreError } from '../../lib/errors.js';
import { FilePoolStore } from '../../lib/pools/file-pool-store.js';
import { verifyPoolKey } from '../../lib/pools/pool-key.js';
import { createPool } from '../../lib/pools/pool-service.js';
import { decodePoolToken } from '../../lib/protocol/token.js';

describe('FilePoolStore and createPool', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pools-'));
  });

  it('creates a pool whose token carries the gateway URL, the key and the ULID; stores only a hash', async () => {
    const store = new FilePoolStore(join(dir, 'pools.json'));
    const { pool, token } = await createPool(store, { name: 'prod-eu', description: 'EU GitLab', gatewayUrl: 'https://gw.example.com/' });
    const decoded = decodePoolToken(token);
    expect(decoded).to.deep.equal({ host: 'https://gw.example.com', key: decoded.key, pool_ulid: pool.id });
    const text = await readFile(join(dir, 'pools.json'), 'utf8');
    expect(text).to.not.include(decoded.key);
    expect(verifyPoolKey(decoded.key, pool.keyHash)).to.equal(true);
    expect(verifyPoolKey(`${decoded.key}x`, pool.keyHash)).to.equal(false);
    expect((await stat(join(dir, 'pools.json'))).mode & 0o777).to.equal(0o600);
  });

  it('lists, gets by id or name, and deletes', async () => {
    const store = new FilePoolStore(join(dir, 'pools.json'));
    const a = await createPool(store, { name: 'a', gatewayUrl: 'https://gw' });
    await createPool(store, { name: 'b', gatewayUrl: 'https://gw' });
    expect((await store.list()).map((pool) => pool.name)).to.deep.equal(['a', 'b']);
    expect((await store.get(a.pool.id))?.name).to.equal('a');
    expect((await store.get('b'))?.name).to.equal('b');
    expect((await store.delete('a'))?.id).to.equal(a.pool.id);
    expect(await store.delete('a')).to.equal(undefined);
    expect((await store.list()).map((pool) => pool.name)).to.deep.equal(['b']);
  });

  it('refuses a duplicate name, also under concurrent creation', async () => {
    const store = new FilePoolStore(join(dir, 'pools.json'));
    const results = await Promise.allSettled([1, 2, 3].map(() => createPool(store, { name: 'same', gatewayUrl: 'https://gw' })));
    expect(results.filter((result) => result.status === 'fulfilled')).to.have.length(1);
    for (const result of results.filter((r) => r.status === 'rejected')) expect((result as PromiseRejectedResult).reason).to.be.instanceOf(PoolExistsError);
    expect(await store.list()).to.have.length(1);
  });

  it('validates the name, description and gateway URL, naming the field', async () => {
    const store = new FilePoolStore(join(dir, 'pools.json'));
    await createPool(store, { name: 'Bad Name', gatewayUrl: 'https://gw' }).then(
      () => expect.fail('accepted'),
      (error: { option: string }) => expect(error.option).to.equal('name'),
    );
    await createPool(store, { name: 'ok', description: 'line\nbreak', gatewayUrl: 'https://gw' }).then(
      () => expect.fail('accepted'),
      (error: { option: string }) => expect(error.option).to.equal('description'),
    );
    await createPool(store, { name: 'ok', gatewayUrl: 'ftp://gw' }).then(
      () => expect.fail('accepted'),
      (error: { option: string }) => expect(error.option).to.equal('gateway-url'),
    );
    expect(await store.list()).to.have.length(0);
  });

  it('reports a corrupt store file clearly instead of overwriting it', async () => {
    const path = join(dir, 'pools.json');
    await writeFile(path, '{ not json');
    const store = new FilePoolStore(path);
    await store.list().then(
      () => expect.fail('accepted'),
      (error: Error) => {
        expect(error).to.be.instanceOf(PoolStoreError);
        expect(error.message).to.include('not valid JSON');
      },
    );
    await createPool(store, { name: 'x', gatewayUrl: 'https://gw' }).catch(() => undefined);
    expect(await readFile(path, 'utf8')).to.equal('{ not json');
  });
});
