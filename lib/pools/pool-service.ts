import { ulid } from 'ulid';
import { InvalidOptionError } from '../errors.js';
import { encodePoolToken } from '../protocol/token.js';
import { generatePoolKey, hashPoolKey } from './pool-key.js';
import type { PoolRecord, PoolStore } from './pool-store.js';

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
  if (description.length > MAX_DESCRIPTION_LENGTH || /[\u0000-\u001f\u007f]/.test(description)) {
    throw new InvalidOptionError('description', `Invalid description: expected at most ${MAX_DESCRIPTION_LENGTH} characters without control characters`);
  }
  const host = validateGatewayUrl(options.gatewayUrl).href.replace(/\/$/, '');
  const key = generatePoolKey();
  const pool: PoolRecord = {
    id: ulid(),
    name: options.name,
    description,
    keyHash: hashPoolKey(key),
    createdAt: new Date().toISOString(),
  };
  await store.create(pool);
  return { pool, token: encodePoolToken({ host, key, pool_ulid: pool.id }) };
}
