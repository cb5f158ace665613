import { InvalidTokenError } from '../errors.js';

/** The pool configuration token's content: base64 of this object as JSON. */
export interface PoolToken {
  /** Gateway URL agents dial (`https://…`, or `http://…` for local cleartext use). */
  host: string;
  /** The pool's secret key. */
  key: string;
  /** The pool's ULID. */
  pool_ulid: string;
}

const ULID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** Encodes a configuration token (base64 of JSON), as the gateway hands it out. */
export function encodePoolToken(token: PoolToken): string {
  return Buffer.from(JSON.stringify({ host: token.host, key: token.key, pool_ulid: token.pool_ulid })).toString('base64');
}

/**
 * Decodes and validates a configuration token. Errors name the field at fault and never
 * echo the token or the key.
 */
export function decodePoolToken(token: string, options: { host?: 'url' | 'grpc-target' } = {}): PoolToken {
  const text = token.trim();
  if (text === '') throw new InvalidTokenError('token', 'The pool token is empty: expected the base64 configuration token of a pool');
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
    throw new InvalidTokenError('token', 'The pool token is not base64: expected the base64 configuration token of a pool');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
  } catch {
    throw new InvalidTokenError('token', 'The pool token is not base64 of JSON: expected {"host", "key", "pool_ulid"}');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InvalidTokenError('token', 'The pool token is not a JSON object: expected {"host", "key", "pool_ulid"}');
  }
  const record = parsed as Record<string, unknown>;
  const host = stringField(record, 'host');
  const key = stringField(record, 'key');
  const poolUlid = stringField(record, 'pool_ulid');
  if (!ULID_PATTERN.test(poolUlid)) {
    throw new InvalidTokenError('pool_ulid', 'The pool token field "pool_ulid" is not a ULID (26 Crockford base32 characters)');
  }
  // Spacelift's tokens name a gRPC target (host:port); spacelift-target.ts checks those.
  if (options.host === 'grpc-target') return { host, key, pool_ulid: poolUlid };
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    throw new InvalidTokenError('host', 'The pool token field "host" is not a URL: expected https://gateway.example.com');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InvalidTokenError('host', `The pool token field "host" has scheme ${url.protocol}: expected https: (or http: for local use)`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new InvalidTokenError('host', 'The pool token field "host" must not contain credentials');
  }
  return { host, key, pool_ulid: poolUlid };
}

function stringField(record: Record<string, unknown>, field: keyof PoolToken): string {
  const value = record[field];
  if (typeof value !== 'string' || value === '') {
    throw new InvalidTokenError(field, `The pool token has no "${field}" field: expected a non-empty string`);
  }
  return value;
}
