import type { Socket } from 'node:net';
import { Agent, Pool, buildConnector, type Dispatcher } from 'undici';
import { InvalidOptionError } from '../errors.js';
import { verificationOf, type ProxyTlsOptions } from './gateway-socket.js';
import { absoluteFormDispatcher } from './upstream-absolute-form.js';
import { messageOf, proxyAuthenticationRequired, ProxyError } from './proxy-errors.js';
import { displayProxy, proxyAuthorization, withoutCredentials } from './proxy-url.js';

/** Options of {@link createUpstreamDispatcher}. */
export interface CreateUpstreamDispatcherOptions {
  /** The HTTP proxy for the VCS (from {@link resolveProxy}): `http:` or `https:`. */
  proxy: URL;
  /** Concurrent connections: CONNECT tunnels to an `https:` VCS, connections to the proxy for an `http:` one; a positive integer. */
  connections: number;
  /** How long opening one connection may take: reaching the proxy, its answer to CONNECT, TLS with the VCS (ms, default 30 000). */
  connectTimeoutMs?: number;
  /** TLS settings for the VCS; `ca` and `rejectUnauthorized` also apply to an `https:` proxy. */
  tls?: ProxyTlsOptions;
}

/** What {@link createUpstreamDispatcher} returns. */
export interface UpstreamDispatcher {
  /** The undici dispatcher (CONNECT tunnels for `https:`, absolute form for `http:`): pass as `upstreamDispatcher` to `TunnelClient`. */
  dispatcher: Dispatcher;
  /** The proxy in use, without credentials. */
  proxy: URL;
}

/**
 * The undici dispatcher for forwarding requests to the VCS at `target` through an HTTP proxy,
 * on undici instead of `node:http` ({@link createUpstreamAgent}), with the same contract:
 * - an `https:` VCS: every connection is a `CONNECT` tunnel with TLS to the VCS inside it,
 *   kept alive and reused like a direct one; a non-200 answer to CONNECT fails the request
 *   with `ProxyError` (`statusCode`), never hands the proxy's page back as the VCS's answer;
 * - an `http:` VCS: requests go to the proxy in absolute form over keep-alive connections;
 *   any answer but a 407 is passed on, since a 403 or 502 may be the VCS's own;
 * - a 407 fails the request with `ProxyAuthenticationError`, an unreachable proxy with
 *   `ProxyError`; credentials in the proxy URL go as `Proxy-Authorization` to the proxy only.
 *
 * @throws InvalidOptionError for a target or proxy that is not http(s), a bad
 *   `connections` or `connectTimeoutMs`.
 */
export function createUpstreamDispatcher(target: URL, options: CreateUpstreamDispatcherOptions): UpstreamDispatcher {
  if (target.protocol !== 'https:' && target.protocol !== 'http:') {
    throw new InvalidOptionError('target', `The VCS URL must be http:// or https://; got a ${target.protocol} URL`);
  }
  const { proxy } = options;
  if (!(proxy instanceof URL) || (proxy.protocol !== 'http:' && proxy.protocol !== 'https:')) {
    throw new InvalidOptionError('proxy', `The proxy must be an http:// or https:// URL; got ${proxy instanceof URL ? `a ${proxy.protocol} URL` : String(proxy)}`);
  }
  if (!Number.isInteger(options.connections) || options.connections < 1) {
    throw new InvalidOptionError('connections', `connections must be a positive integer; got ${options.connections}`);
  }
  const timeout = options.connectTimeoutMs ?? 30_000;
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw new InvalidOptionError('connectTimeoutMs', `connectTimeoutMs must be a positive number of milliseconds; got ${timeout}`);
  }
  const settings = options.tls ?? {};
  const verification = verificationOf(settings);
  const shownProxy = displayProxy(proxy);
  const authorization = proxyAuthorization(proxy);
  const bareProxy = withoutCredentials(proxy);
  if (target.protocol === 'http:') {
    const absolute = { proxy: bareProxy, shownProxy, authorization, connections: options.connections, timeoutMs: timeout, proxyTls: verification };
    return { dispatcher: absoluteFormDispatcher(absolute), proxy: bareProxy };
  }
  const tunnels = new TunnelOpener(
    /*
     * A pool of connections to the proxy that only ever carries CONNECT, as undici's own
     * ProxyAgent keeps one: a successful CONNECT takes the socket over, and the pool holds no
     * connection afterwards, so it needs no closing of its own (a CONNECT still pending when
     * the agent is destroyed hands its socket to a destroyed client, which destroys it).
     * headersTimeout bounds the wait for the proxy's answer.
     */
    new Pool(bareProxy.origin, { connect: buildConnector({ ...(bareProxy.protocol === 'https:' ? verification : {}), timeout }), headersTimeout: timeout }),
    buildConnector({ ...verification, timeout }),
    { shownProxy, authorization, servername: settings.servername },
  );
  const dispatcher = new Agent({ connections: options.connections, connect: (opts, callback) => tunnels.open(opts, callback) });
  return { dispatcher, proxy: bareProxy };
}

interface TunnelSettings {
  shownProxy: string;
  /** `Proxy-Authorization` for CONNECT, from the proxy URL's credentials. */
  authorization: string | undefined;
  /** SNI override for the VCS (ProxyTlsOptions.servername). */
  servername: string | undefined;
}

type Connect = buildConnector.connector;

/** Opens one CONNECT tunnel per connection the agent asks for, then TLS with the VCS inside it. */
class TunnelOpener {
  constructor(
    private readonly proxyPool: Pool,
    private readonly tlsToVcs: Connect,
    private readonly settings: TunnelSettings,
  ) {}

  open(opts: buildConnector.Options, callback: buildConnector.Callback): void {
    // The authority the VCS is known by (the Host header of CONNECT too): host[:port] as
    // undici gives it, with the default port made explicit as RFC 9110 §9.3.6 asks.
    const host = opts.hostname.includes(':') && !opts.hostname.startsWith('[') ? `[${opts.hostname}]` : opts.hostname;
    const authority = `${host}:${opts.port === '' ? 443 : opts.port}`;
    const { shownProxy, authorization } = this.settings;
    const headers: Record<string, string> = { host: authority };
    if (authorization !== undefined) headers['proxy-authorization'] = authorization;
    this.proxyPool.connect({ path: authority, headers }).then(
      ({ statusCode, socket }) => {
        if (statusCode !== 200) {
          socket.on('error', () => {}).destroy();
          return callback(refusal(statusCode, shownProxy, authority, authorization !== undefined), null);
        }
        const servername = this.settings.servername ?? opts.servername;
        this.tlsToVcs({ ...opts, ...(servername === undefined ? {} : { servername }), httpSocket: socket as Socket }, callback);
      },
      (error: unknown) =>
        callback(new ProxyError(`Could not use proxy ${shownProxy} (from HTTPS_PROXY): ${messageOf(error)}`, { proxy: shownProxy, cause: error }), null),
    );
  }
}

function refusal(statusCode: number, shownProxy: string, authority: string, credentialsSent: boolean): Error {
  if (statusCode === 407) return proxyAuthenticationRequired(shownProxy, credentialsSent, 'HTTPS_PROXY');
  return new ProxyError(`Proxy ${shownProxy} refused CONNECT to the VCS ${authority} with status ${statusCode}`, { proxy: shownProxy, statusCode });
}
