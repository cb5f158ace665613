import { buildConnector, DecoratorHandler, Pool, type Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import { messageOf, proxyAuthenticationRequired, ProxyError } from './proxy-errors.js';

/** What {@link absoluteFormDispatcher} needs, already checked by createUpstreamDispatcher. */
export interface AbsoluteFormSettings {
  /** The proxy without credentials. */
  proxy: URL;
  /** The proxy as printed (no credentials). */
  shownProxy: string;
  /** `Proxy-Authorization` from the proxy URL's credentials. */
  authorization: string | undefined;
  connections: number;
  timeoutMs: number;
  /** TLS verification for an `https:` proxy. */
  proxyTls: buildConnector.BuildOptions;
}

/**
 * An `http:` VCS through an HTTP proxy, on undici: every request goes to the proxy in
 * absolute form (RFC 9112 §3.2.2: `GET http://vcs:7990/rest/... HTTP/1.1`) over a keep-alive
 * pool of connections to the proxy, as http-proxy-agent sends it for node:http. Not CONNECT:
 * proxies commonly allow CONNECT to port 443 only (squid's default `http_access deny
 * CONNECT !SSL_ports`), and undici's own ProxyAgent absolute form serves `http:` proxies only.
 */
export function absoluteFormDispatcher(settings: AbsoluteFormSettings): Dispatcher {
  const connect = buildConnector({ ...(settings.proxy.protocol === 'https:' ? settings.proxyTls : {}), timeout: settings.timeoutMs });
  const pool = new Pool(settings.proxy.origin, { connections: settings.connections, connect });
  const hosts = new HostOf();
  return pool.compose((dispatch) => (options, handler) =>
    dispatch(absoluteForm(options, hosts, settings.authorization), new ProxyAnswer(handler, settings.shownProxy, settings.authorization !== undefined)),
  );
}

/** The Host of an origin, parsed once: the agent sends every request to the same origin. */
class HostOf {
  private origin = '';
  private host = '';

  get(origin: string): string {
    if (origin !== this.origin) {
      this.host = new URL(origin).host;
      this.origin = origin;
    }
    return this.host;
  }
}

/**
 * The request as the proxy must see it: the target URL as its path, the target's Host, and
 * the proxy's credentials in place of any `Proxy-Authorization` the request came with (one
 * the caller sent must never reach the proxy; the agent strips it as hop-by-hop already).
 */
function absoluteForm(options: Dispatcher.DispatchOptions, hosts: HostOf, authorization: string | undefined): Dispatcher.DispatchOptions {
  const origin = typeof options.origin === 'string' ? options.origin.replace(/\/$/, '') : String(options.origin?.origin);
  const flat: string[] = [];
  let host = false;
  for (const [name, value] of headerPairs(options.headers)) {
    const lower = name.toLowerCase();
    if (lower === 'proxy-authorization') continue;
    if (lower === 'host') host = true;
    for (const one of Array.isArray(value) ? value : [value]) flat.push(name, one);
  }
  if (!host) flat.push('host', hosts.get(origin));
  if (authorization !== undefined) flat.push('proxy-authorization', authorization);
  return { ...options, path: `${origin}${options.path}`, headers: flat };
}

type HeaderValue = string | string[] | undefined;

/** undici takes headers as a flat [name, value, …] array, an object, or an iterable (or array) of pairs. */
function headerPairs(headers: Dispatcher.DispatchOptions['headers']): Array<[string, string | string[]]> {
  if (headers === undefined || headers === null) return [];
  const pairs: Array<[string, string | string[]]> = [];
  if (Array.isArray(headers) && !Array.isArray(headers[0])) {
    for (let i = 0; i < headers.length; i += 2) {
      const value: unknown = headers[i + 1];
      pairs.push([String(headers[i]), Array.isArray(value) ? value.map(String) : String(value)]);
    }
    return pairs;
  }
  const entries: Iterable<[string, HeaderValue]> =
    Symbol.iterator in Object(headers) ? (headers as Iterable<[string, HeaderValue]>) : Object.entries(headers as Record<string, HeaderValue>);
  for (const [name, value] of entries) if (value !== undefined) pairs.push([name, value]);
  return pairs;
}

interface Callbacks {
  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void;
  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void;
  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void;
  onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void;
  onResponseError(controller: Dispatcher.DispatchController, error: Error): void;
}
/*
 * undici's DecoratorHandler (what its own interceptors extend) adapts a caller's handler of
 * either API (dispatcher.request() still passes the old onHeaders/onData one) to the
 * onResponse* one; its type declares none of the methods it has.
 */
const Decorator = DecoratorHandler as unknown as new (handler: Dispatcher.DispatchHandler) => Callbacks;

/**
 * A 407 in absolute form comes from the proxy (RFC 9110 §15.5.8: only a proxy sends it), so
 * the request fails with ProxyAuthenticationError, as a refused CONNECT does, instead of the
 * proxy's page being handed back as the VCS's answer. The 407's body is read to its end so
 * that the connection to the proxy stays usable. Any other answer passes through unchanged:
 * a 403 or 502 may be the VCS's own.
 */
class ProxyAnswer extends Decorator {
  #refused = false;
  /** undici starts a request once it has a connection to the proxy for it. */
  #started = false;

  constructor(
    handler: Dispatcher.DispatchHandler,
    private readonly shownProxy: string,
    private readonly credentialsSent: boolean,
  ) {
    super(handler);
  }

  override onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#started = true;
    super.onRequestStart(controller, context);
  }

  override onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    if (statusCode === 407) {
      this.#refused = true;
      return;
    }
    super.onResponseStart(controller, statusCode, headers, statusMessage);
  }

  override onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.#refused) super.onResponseData(controller, chunk);
  }

  override onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    if (!this.#refused) return super.onResponseEnd(controller, trailers);
    super.onResponseError(controller, proxyAuthenticationRequired(this.shownProxy, this.credentialsSent, 'HTTP_PROXY'));
  }

  // Failing before the request started means the proxy could not be reached (refused,
  // unknown host, connect timeout, TLS with an https: proxy): say so, as the CONNECT path does.
  override onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#started || (error as { code?: string }).code === 'UND_ERR_ABORTED') return super.onResponseError(controller, error);
    super.onResponseError(controller, new ProxyError(`Could not use proxy ${this.shownProxy} (from HTTP_PROXY): ${messageOf(error)}`, { proxy: this.shownProxy, cause: error }));
  }
}
