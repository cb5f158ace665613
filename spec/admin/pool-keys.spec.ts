import { expect } from 'chai';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilePoolStore } from '../../lib/pools/file-pool-store.js';
import { keyGenerationAllowed, matchPoolKey } from '../../lib/pools/pool-key-check.js';
import { createPool, poolSummary, rotatePoolKey, updatePoolDescription } from '../../lib/pools/pool-service.js';
import { decodePoolToken } from '../../lib/protocol/token.js';

describe('pool key rotation and description updates (pool-service)', () => {
  let store: FilePoolStore;
  beforeEach(async () => {
    store = new FilePoolStore(join(await mkdtemp(join(tmpdir(), 'rotate-')), 'pools.json'));
  });

  it('rotates: the new key is current, the old one valid until the grace period ends, an older one never', async () => {
    const created = await createPool(store, { name: 'p', gatewayUrl: 'https://gw.example' });
    const key1 = decodePoolToken(created.token).key;
    const now = Date.parse('2026-01-01T00:00:00Z');
    const first = await rotatePoolKey(store, 'p', { graceMs: 60_000, gatewayUrl: 'https://gw.example', now });
    const key2 = decodePoolToken(first.token).key;
    expect(first.previousKeyExpiresAt).to.equal('2026-01-01T00:01:00.000Z');
    const stored = await store.get('p');
    if (stored === undefined) throw new Error('pool missing');
    expect(stored.keyGeneration).to.equal(2);
    expect(matchPoolKey(stored, key2, now)).to.equal(2);
    expect(matchPoolKey(stored, key1, now + 59_999)).to.equal(1);
    expect(matchPoolKey(stored, key1, now + 60_000)).to.equal(undefined);
    expect(matchPoolKey(stored, 'not-a-key', now)).to.equal(undefined);
    expect(keyGenerationAllowed(stored, 1, now)).to.equal(true);
    expect(keyGenerationAllowed(stored, 1, now + 60_000)).to.equal(false);
    const text = await readFile(store.path, 'utf8');
    expect(text).to.not.include(key1);
    expect(text).to.not.include(key2);

    const second = await rotatePoolKey(store, 'p', { graceMs: 60_000, gatewayUrl: 'https://gw.example', now });
    const again = await store.get('p');
    if (again === undefined) throw new Error('pool missing');
    expect(matchPoolKey(again, key1, now)).to.equal(undefined);
    expect(matchPoolKey(again, key2, now)).to.equal(2);
    expect(matchPoolKey(again, decodePoolToken(second.token).key, now)).to.equal(3);
    expect(keyGenerationAllowed(again, 1, now)).to.equal(false);
    expect(poolSummary(again, now)).to.deep.equal({
      id: again.id,
      name: 'p',
      description: '',
      createdAt: again.createdAt,
      updatedAt: again.updatedAt,
      keyGeneration: 3,
      previousKeyExpiresAt: '2026-01-01T00:01:00.000Z',
    });
  });

  it('refuses a bad grace period (naming it) and an unknown pool', async () => {
    await createPool(store, { name: 'p', gatewayUrl: 'https://gw.example' });
    for (const graceMs of [-1, 1.5, 31 * 24 * 3600 * 1000]) {
      await rotatePoolKey(store, 'p', { graceMs, gatewayUrl: 'https://gw.example' }).then(
        () => expect.fail('accepted'),
        (error: { option?: string }) => expect(error.option).to.equal('grace'),
      );
    }
    await rotatePoolKey(store, 'q', { graceMs: 0, gatewayUrl: 'https://gw.example' }).then(
      () => expect.fail('accepted'),
      (error: { code?: string }) => expect(error.code).to.equal('VCS_POOL_NOT_FOUND'),
    );
  });

  it('updates a description, validating it', async () => {
    await createPool(store, { name: 'p', gatewayUrl: 'https://gw.example' });
    expect((await updatePoolDescription(store, 'p', 'new')).description).to.equal('new');
    expect((await store.get('p'))?.description).to.equal('new');
    await updatePoolDescription(store, 'p', 'bad\u0000').then(
      () => expect.fail('accepted'),
      (error: { option?: string }) => expect(error.option).to.equal('description'),
    );
  });
});
