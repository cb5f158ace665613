import { InvalidOptionError } from '../errors.js';
import { isLoopbackTarget, isNoProxyMatch } from './no-proxy.js';
import type { ProxyEnvironment } from './proxy-environment.js';
import { parseProxyUrl } from './proxy-url.js';

/**
 * The proxy `target` must be reached through, or `undefined` to connect directly.
 *
 * `https:` targets use `httpsProxy`, `http:` targets use `httpProxy` (no fallback from one
 * to the other, as in curl and Go). Loopback targets and targets matched by `noProxy`
 * (see {@link isNoProxyMatch}) are reached directly. The proxy value and `noProxy` are
 * validated on every call, even when the target bypasses the proxy, so a typo is
 * reported at start-up rather than on the day the target changes.
 *
 * @throws InvalidOptionError naming `HTTPS_PROXY`, `HTTP_PROXY` or `NO_PROXY` (messages never
 *   contain proxy credentials), or `target` when it is not an http(s) URL.
 */
export function resolveProxy(target: URL, env: ProxyEnvironment): URL | undefined {
  let value: string | undefined;
  let variable: 'HTTPS_PROXY' | 'HTTP_PROXY';
  if (target.protocol === 'https:') {
    value = env.httpsProxy;
    variable = 'HTTPS_PROXY';
  } else if (target.protocol === 'http:') {
    value = env.httpProxy;
    variable = 'HTTP_PROXY';
  } else {
    throw new InvalidOptionError('target', `target must be an http: or https: URL; got a ${target.protocol} URL`);
  }
  const proxy = value === undefined || value === '' ? undefined : parseProxyUrl(value, variable);
  const bypass = isNoProxyMatch(target, env.noProxy);
  if (proxy === undefined || bypass || isLoopbackTarget(target)) return undefined;
  return proxy;
}
