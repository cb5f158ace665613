/**
 * The proxy settings of the process, as raw strings. The CLI builds it from the
 * environment with {@link proxyEnvironmentFrom}; the library never reads `process.env`.
 */
export interface ProxyEnvironment {
  /** `HTTPS_PROXY` / `https_proxy`: the proxy for `https:` targets. */
  httpsProxy?: string;
  /** `HTTP_PROXY` / `http_proxy`: the proxy for `http:` targets. */
  httpProxy?: string;
  /** `NO_PROXY` / `no_proxy`: hosts, domains, IPs and CIDRs reached directly. */
  noProxy?: string;
}

/**
 * Picks the proxy variables out of an environment object (pass `process.env`).
 *
 * Follows Go's `net/http` (`httpproxy.FromEnvironment`): the upper-case name wins, the
 * lower-case one is used when the upper-case one is unset or empty, and an empty value
 * counts as unset. Values are returned as given; {@link resolveProxy} validates them.
 */
export function proxyEnvironmentFrom(env: Record<string, string | undefined>): ProxyEnvironment {
  const result: ProxyEnvironment = {};
  const httpsProxy = firstNonEmpty(env, 'HTTPS_PROXY', 'https_proxy');
  const httpProxy = firstNonEmpty(env, 'HTTP_PROXY', 'http_proxy');
  const noProxy = firstNonEmpty(env, 'NO_PROXY', 'no_proxy');
  if (httpsProxy !== undefined) result.httpsProxy = httpsProxy;
  if (httpProxy !== undefined) result.httpProxy = httpProxy;
  if (noProxy !== undefined) result.noProxy = noProxy;
  return result;
}

function firstNonEmpty(env: Record<string, string | undefined>, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}
