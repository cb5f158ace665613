import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { PoolExistsError, PoolStoreError, PoolStoreUnavailableError } from '../../lib/errors.js';
import { createRedisClient } from '../../lib/gateway/cluster/redis-client.js';
import { RedisPoolStore, poolChangeChannel, type PoolChange } from '../../lib/pools/redis-pool-store.js';
import { createPool, rotatePoolKey, updatePoolDescription } from '../../lib/pools/pool-service.js';
import type { PoolRecord } from '../../lib/pools/pool-store.js';
import { redisSkipReason, startRedisServer, type RunningRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait-for.js';

const PASSWORD = 'store-spec-secret-7f3a';
const GATEWAY_URL = 'https://gateway.example.com';

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (error: unknown) => error,
  );
}

function record(id: string, name: string): PoolRecord {
  return { id, name, description: '', keyHash: 'a'.repeat(64), createdAt: new Date().toISOString(), keyGeneration: 1 };
}

describe('RedisPoolStore', function () {
  this.timeout(20_000);
  let redis: RunningRedis;
  const clients: Redis[] = [];

  async function client(url = redis.url): Promise<Redis> {
    const created = createRedisClient({ url });
    created.on('error', () => {});
    clients.push(created);
    await created.connect();
    return created;
  }

  before(async function () {
    const reason = redisSkipReason();
    if (reason !== undefined) {
      this.skip();
    }
    redis = (await startRedisServer({ password: PASSWORD })) as RunningRedis;
  });

  after(async () => {
    for (const c of clients) c.disconnect();
    await redis?.stop();
  });

  it('creates, gets by id and by name, lists, updates and deletes (name index and record together)', async () => {
    const store = new RedisPoolStore({ redis: await client(), keyPrefix: 'crud:' });
    const { pool } = await createPool(store, { name: 'alpha', description: 'first', gatewayUrl: GATEWAY_URL });
    await createPool(store, { name: 'beta', gatewayUrl: GATEWAY_URL });
    expect(await store.get(pool.id)).to.deep.equal(pool);
    expect(await store.get('alpha')).to.deep.equal(pool);
    expect(await store.get('nope')).to.equal(undefined);
    expect((await store.list()).map((p) => p.name)).to.deep.equal(['alpha', 'beta']);
    // Keys stay hashed: the record holds a 64-hex SHA-256, never the key.
    const raw = await (await client()).get(`crud:pool:${pool.id}`);
    expect(JSON.parse(raw as string).keyHash).to.match(/^[0-9a-f]{64}$/);
    const updated = await updatePoolDescription(store, 'alpha', 'second');
    expect((await store.get(pool.id))?.description).to.equal('second');
    expect(updated.description).to.equal('second');
    const removed = await store.delete('alpha');
    expect(removed?.id).to.equal(pool.id);
    expect(await store.get(pool.id)).to.equal(undefined);
    expect(await store.get('alpha')).to.equal(undefined);
    expect(await store.delete('alpha')).to.equal(undefined);
    // The name is free again.
    await createPool(store, { name: 'alpha', gatewayUrl: GATEWAY_URL });
    expect((await store.list()).map((p) => p.name).sort()).to.deep.equal(['alpha', 'beta']);
  });

  it('keeps services with different key prefixes apart', async () => {
    const c = await client();
    const one = new RedisPoolStore({ redis: c, keyPrefix: 'one:' });
    const two = new RedisPoolStore({ redis: c, keyPrefix: 'two:' });
    await one.create(record('01AAAAAAAAAAAAAAAAAAAAAAAA', 'shared-name'));
    await two.create(record('01BBBBBBBBBBBBBBBBBBBBBBBB', 'shared-name'));
    expect((await one.get('shared-name'))?.id).to.equal('01AAAAAAAAAAAAAAAAAAAAAAAA');
    expect((await two.get('shared-name'))?.id).to.equal('01BBBBBBBBBBBBBBBBBBBBBBBB');
  });

  it('lets exactly one of two clients create a name they create at once', async () => {
    const [a, b] = [new RedisPoolStore({ redis: await client(), keyPrefix: 'race:' }), new RedisPoolStore({ redis: await client(), keyPrefix: 'race:' })];
    for (let round = 0; round < 20; round++) {
      const name = `contested-${round}`;
      const results = await Promise.allSettled([createPool(a, { name, gatewayUrl: GATEWAY_URL }), createPool(b, { name, gatewayUrl: GATEWAY_URL })]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won, `round ${round}`).to.have.length(1);
      expect(lost[0]?.reason).to.be.instanceOf(PoolExistsError);
      const winner = (won[0] as PromiseFulfilledResult<{ pool: PoolRecord }>).value.pool;
      expect((await a.get(name))?.id).to.equal(winner.id);
    }
    expect(await a.list()).to.have.length(20);
  });

  it('publishes deletions and updates (rotations) on the change channel', async () => {
    const store = new RedisPoolStore({ redis: await client(), keyPrefix: 'feed:' });
    const subscriber = await client();
    await subscriber.subscribe(poolChangeChannel('feed:'));
    const { pool } = await createPool(store, { name: 'rotating', gatewayUrl: GATEWAY_URL });
    const messages: PoolChange[] = [];
    subscriber.on('message', (_channel: string, message: string) => messages.push(JSON.parse(message) as PoolChange));
    await rotatePoolKey(store, pool.id, { graceMs: 0, gatewayUrl: GATEWAY_URL });
    await store.delete(pool.id);
    await waitFor(() => messages.length >= 2, 5000, 'two change messages');
    expect(messages).to.deep.equal([
      { kind: 'updated', poolId: pool.id, name: 'rotating', keyGeneration: 2 },
      { kind: 'deleted', poolId: pool.id, name: 'rotating' },
    ]);
  });

  it('refuses an update of a pool that is not there, and a name change', async () => {
    const store = new RedisPoolStore({ redis: await client(), keyPrefix: 'upd:' });
    const missing = await rejection(store.update(record('01CCCCCCCCCCCCCCCCCCCCCCCC', 'ghost')));
    expect(missing).to.be.instanceOf(PoolStoreError).with.property('message').that.matches(/not in the store/);
    await store.create(record('01CCCCCCCCCCCCCCCCCCCCCCCC', 'kept'));
    const renamed = await rejection(store.update(record('01CCCCCCCCCCCCCCCCCCCCCCCC', 'renamed')));
    expect(renamed).to.be.instanceOf(PoolStoreError).with.property('message').that.matches(/name/);
    expect((await store.get('kept'))?.name).to.equal('kept');
  });

  it('fails with PoolStoreError on a record that is not a pool', async () => {
    const c = await client();
    await c.set('bad:pool:01DDDDDDDDDDDDDDDDDDDDDDDD', 'not json');
    await c.sadd('bad:pool-ids', '01DDDDDDDDDDDDDDDDDDDDDDDD');
    const store = new RedisPoolStore({ redis: c, keyPrefix: 'bad:' });
    const error = await rejection(store.list());
    expect(error).to.be.instanceOf(PoolStoreError);
    expect((error as PoolStoreError).code).to.equal('VCS_STORE_FAILED');
  });

  it('fails with PoolStoreUnavailableError (503), never naming the password, when Redis refuses the password', async () => {
    const wrong = createRedisClient({ url: redis.url.replace(encodeURIComponent(PASSWORD), 'wrong-password-x') });
    wrong.on('error', () => {});
    clients.push(wrong);
    await wrong.connect().catch(() => undefined);
    const store = new RedisPoolStore({ redis: wrong, label: 'redis://:***@127.0.0.1' });
    const error = await rejection(store.list());
    expect(error).to.be.instanceOf(PoolStoreUnavailableError);
    expect((error as PoolStoreUnavailableError).code).to.equal('VCS_STORE_UNAVAILABLE');
    expect((error as Error).message).to.not.include(PASSWORD).and.not.include('wrong-password-x');
  });
});
