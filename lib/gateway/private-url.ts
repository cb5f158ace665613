import { InvalidRequestUrlError } from '../errors.js';

export interface PoolTarget {
  pool: string;
  /** Origin-form target, byte for byte as given (only a missing leading `/` is supplied). */
  path: string;
}

const SCHEME = 'private://';

/**
 * Splits `<pool>/<path>` without decoding or normalising anything: the agent decides
 * what the bytes mean, so the gateway must not have its own opinion of them.
 */
export function splitPoolTarget(rest: string, what: string): PoolTarget {
  let end = 0;
  while (end < rest.length) {
    const c = rest.charCodeAt(end);
    if (c === 0x2f /* / */ || c === 0x3f /* ? */) break;
    end++;
  }
  const pool = rest.slice(0, end);
  if (pool === '' || !/^[a-z0-9-]{1,63}$/.test(pool)) {
    throw new InvalidRequestUrlError(`${what} does not start with a pool name (lower-case letters, digits and hyphens)`);
  }
  const tail = rest.slice(end);
  return { pool, path: tail === '' ? '/' : tail.charCodeAt(0) === 0x3f ? `/${tail}` : tail };
}

/** Parses `private://<pool>/<path>`. */
export function parsePrivateUrl(url: string): PoolTarget {
  if (typeof url !== 'string' || !url.startsWith(SCHEME)) {
    throw new InvalidRequestUrlError('Expected a URL of the form private://<pool>/<path>');
  }
  return splitPoolTarget(url.slice(SCHEME.length), 'The private:// URL');
}
