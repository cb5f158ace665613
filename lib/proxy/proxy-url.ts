import { InvalidOptionError } from '../errors.js';

/** The variable a proxy URL came from, named in error messages. */
export type ProxyVariable = 'HTTPS_PROXY' | 'HTTP_PROXY';

const EXPECTED =
  'an http:// or https:// proxy URL such as http://proxy.example.com:3128 ' +
  '(credentials go in the URL: http://user:password@proxy.example.com:3128)';

/**
 * Parses and validates a proxy URL taken from `HTTPS_PROXY` or `HTTP_PROXY`.
 *
 * A value without a scheme (`proxy.example.com:3128`) means `http://`, as curl and Go
 * read it. Everything else that is not a bare `http(s)://[user:password@]host[:port][/]`
 * is rejected (SOCKS, paths, queries, port 0) rather than guessed at.
 *
 * @throws InvalidOptionError naming `variable`; the message never shows credentials.
 */
export function parseProxyUrl(value: string, variable: ProxyVariable): URL {
  const trimmed = value.trim();
  const fail = (problem: string): never => {
    throw new InvalidOptionError(variable, `${variable} must be ${EXPECTED}; ${problem}`);
  };
  if (trimmed === '') fail('it is empty');
  if (/\s/.test(trimmed)) fail('it contains whitespace');
  // No scheme at all: curl and Go both default to http://. A scheme-like prefix without
  // "//" (e.g. "socks5:host") is caught below as an unsupported protocol.
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return fail('got a value that is not a URL (not shown: it may contain credentials)');
  }
  const shown = describeUrl(url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    fail(`got ${shown} (${url.protocol.slice(0, -1)} proxies are not supported)`);
  }
  if (url.hostname === '') fail(`got ${shown} (no host)`);
  if (url.port === '0') fail(`got ${shown} (port 0)`);
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    fail(`got ${shown} (a proxy URL has no path, query or fragment)`);
  }
  try {
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
  } catch {
    fail(`got ${shown} (the credentials are not valid percent-encoding)`);
  }
  return url;
}

/** The proxy as `http://host:port`, port always explicit, credentials never shown. */
export function displayProxy(proxy: URL): string {
  return `${proxy.protocol}//${proxy.hostname}:${effectivePort(proxy)}`;
}

/** `Proxy-Authorization` value for the credentials in the proxy URL, if any (RFC 7617 Basic). */
export function proxyAuthorization(proxy: URL): string | undefined {
  if (proxy.username === '' && proxy.password === '') return undefined;
  const pair = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
}

/** The proxy URL without credentials, path or query: what may be handed to code that might log it. */
export function withoutCredentials(proxy: URL): URL {
  return new URL(`${proxy.protocol}//${proxy.host}`);
}

/** The URL's port, or the scheme's default (80/443) when it has none. */
export function effectivePort(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

function describeUrl(url: URL): string {
  const credentials = url.username !== '' || url.password !== '' ? '***@' : '';
  // Path, query and fragment are elided: nothing in them is needed to spot the mistake.
  const rest = (url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '' ? '/…' : '';
  return `"${url.protocol}//${credentials}${url.host}${rest}"`;
}
