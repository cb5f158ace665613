import type { ClientRequestArgs } from 'node:http';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import http2wrapper from 'http2-wrapper';
import { GatewayConnectionError, InvalidOptionError, RequestAbortedError } from '../errors.js';
import { messageOf, proxyAuthenticationRequired, ProxyError } from './proxy-errors.js';
import { displayProxy, effectivePort, proxyAuthorization, withoutCredentials } from './proxy-url.js';

/** TLS settings for the connection to a target (and to an `https:` proxy, except `servername`). */
export interface ProxyTlsOptions {
  /** Extra trusted CA certificate(s), PEM. Replaces Node's bundled roots, as in `tls.connect`. */
  ca?: string | Buffer;
  /** Verify the peer certificate (default true). Turning it off is for tests only. */
  rejectUnauthorized?: boolean;
  /** SNI and certificate name to expect instead of the target's host name. */
  servername?: string;
}

/** The certificate checks of `settings` (`ca`, `rejectUnauthorized`), as `tls.connect` options: what an `https:` proxy gets too. */
export function verificationOf(settings: ProxyTlsOptions): { ca?: string | Buffer; rejectUnauthorized?: boolean } {
  const result: { ca?: string | Buffer; rejectUnauthorized?: boolean } = {};
  if (settings.ca !== undefined) result.ca = settings.ca;
  if (settings.rejectUnauthorized !== undefined) result.rejectUnauthorized = settings.rejectUnauthorized;
  return result;
}

/** Options of {@link connectGatewaySocket}. */
export interface ConnectGatewaySocketOptions {
  /** HTTP proxy to tunnel through with CONNECT (from {@link resolveProxy}); direct when absent. */
  proxy?: URL;
  tls?: ProxyTlsOptions;
  /** Aborting rejects with `RequestAbortedError` and destroys whatever was opened. */
  signal?: AbortSignal;
  /** Bound on the whole set-up (proxy CONNECT and TLS handshake), default 30 000 ms. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Opens the transport for the agent's HTTP/2 session to the gateway, to be handed to
 * `http2.connect(target, { createConnection: () => socket })`.
 *
 * `https:` targets get a TLS socket whose ALPN negotiated `h2`; `http:` targets a
 * cleartext socket (h2c with prior knowledge). With `proxy`, the socket is an HTTP
 * CONNECT tunnel through that proxy (itself `http:` or `https:`) and TLS runs end to end
 * inside it; credentials in the proxy URL are sent as `Proxy-Authorization` on the
 * CONNECT request only.
 *
 * @throws ProxyAuthenticationError (`VCS_PROXY_AUTH_REQUIRED`) when the proxy answers 407.
 * @throws ProxyError (`VCS_PROXY_FAILED`) when the proxy is unreachable, times out or
 *   answers CONNECT with any other non-200 status (`statusCode`).
 * @throws GatewayConnectionError (`VCS_GATEWAY_UNREACHABLE`) when the gateway itself cannot
 *   be reached, the TLS handshake fails or ALPN did not select `h2`.
 * @throws RequestAbortedError (`VCS_ABORTED`) when `signal` aborts.
 */
export async function connectGatewaySocket(target: URL, options: ConnectGatewaySocketOptions = {}): Promise<Duplex> {
  if (target.protocol !== 'https:' && target.protocol !== 'http:') {
    throw new InvalidOptionError('target', `The gateway URL must be https:// (or http:// for h2c); got a ${target.protocol} URL`);
  }
  const { proxy } = options;
  if (proxy !== undefined && proxy.protocol !== 'http:' && proxy.protocol !== 'https:') {
    throw new InvalidOptionError('proxy', `The proxy must be an http:// or https:// URL; got a ${proxy.protocol} URL`);
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new InvalidOptionError('timeoutMs', `timeoutMs must be a positive number of milliseconds; got ${timeoutMs}`);
  }
  if (options.signal?.aborted === true) throw new RequestAbortedError('Connecting to the gateway was aborted');

  // One controller for "give up": the caller's signal or our deadline. A plain timer, not
  // AbortSignal.timeout(), so it is cleared as soon as the socket is ready (nothing lingers).
  const controller = new AbortController();
  const onCallerAbort = (): void => controller.abort();
  options.signal?.addEventListener('abort', onCallerAbort, { once: true });
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const context: Context = {
    target,
    authority: `${target.hostname}:${effectivePort(target)}`,
    tls: options.tls ?? {},
    signal: controller.signal,
    callerSignal: options.signal,
    timeoutMs,
  };
  try {
    const socket = proxy === undefined ? connectDirect(context) : await connectThroughProxy(context, proxy);
    await waitUntilReady(socket, context, proxy);
    return socket;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onCallerAbort);
  }
}

interface Context {
  target: URL;
  /** host:port of the gateway (IPv6 in brackets), used in CONNECT and in messages. */
  authority: string;
  tls: ProxyTlsOptions;
  signal: AbortSignal;
  callerSignal: AbortSignal | undefined;
  timeoutMs: number;
}

function bareHost(hostname: string): string {
  return hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
}

/**
 * SNI must be a DNS name, never an IP literal (RFC 6066 §3); Node warns (DEP0123) if it is.
 * An empty servername sends no SNI and makes Node check the certificate against the host.
 */
function servernameFor(hostname: string, override: string | undefined): string {
  if (override !== undefined) return override;
  const host = bareHost(hostname);
  return net.isIP(host) === 0 ? host : '';
}


function connectDirect(context: Context): net.Socket {
  const host = bareHost(context.target.hostname);
  const port = effectivePort(context.target);
  if (context.target.protocol === 'http:') return net.connect({ host, port });
  return tls.connect({
    ...verificationOf(context.tls),
    host,
    port,
    servername: servernameFor(context.target.hostname, context.tls.servername),
    ALPNProtocols: ['h2'],
  });
}

/*
 * The tunnel is opened with http2-wrapper's `proxies.Http2OverHttp` (the same class serves
 * `https:` proxies). Its public `createConnection(origin, options)` resolves to the socket
 * that http2-wrapper's own Agent hands to `http2.connect({ createConnection })`, which is
 * exactly what an externally owned session needs, so no Agent session pool is involved.
 * Three gaps in http2-wrapper 2.2.4 are closed through `proxyOptions`, which it spreads
 * into the `http(s).request({ method: 'CONNECT' })` it makes:
 *  - credentials: given a URL with user:password it sends them as `Proxy-Authorization`
 *    AND as `Authorization` (source/proxies/get-auth-headers.js). We pass a URL without
 *    credentials and set `proxy-authorization` ourselves, so only that header carries them.
 *  - abort/timeout: it has no signal of its own; `signal` reaches the CONNECT request.
 *  - leaks: on a non-200 answer it throws but never destroys the proxy connection (the
 *    socket is detached from the request after 'connect'). Our `createConnection` keeps a
 *    handle on that socket so it can be destroyed; it also connects to IPv6 proxies, whose
 *    bracketed `url.hostname` http2-wrapper passes to `http.request` as is.
 * For `http:` targets (`raw: false`) it derives the CONNECT authority as
 * `origin.port || 443`, so the origin passed carries an explicit port.
 */
async function connectThroughProxy(context: Context, proxy: URL): Promise<net.Socket> {
  const shownProxy = displayProxy(proxy);
  const authorization = proxyAuthorization(proxy);
  const proxyHost = bareHost(proxy.hostname);
  const proxyPort = effectivePort(proxy);
  const opened: net.Socket[] = [];
  const openProxyConnection = (_options: ClientRequestArgs, _callback: unknown): net.Socket => {
    const socket =
      proxy.protocol === 'https:'
        ? tls.connect({
            ...verificationOf(context.tls),
            host: proxyHost,
            port: proxyPort,
            servername: servernameFor(proxy.hostname, undefined),
            ALPNProtocols: ['http/1.1'],
          })
        : net.connect({ host: proxyHost, port: proxyPort });
    opened.push(socket);
    return socket;
  };
  const encrypted = context.target.protocol === 'https:';
  const proxyOptions: ProxyOptionsPassedThrough = {
    url: withoutCredentials(proxy),
    headers: authorization === undefined ? {} : { 'proxy-authorization': authorization },
    raw: encrypted,
    signal: context.signal,
    createConnection: openProxyConnection,
  };
  const tunnelAgent = new http2wrapper.proxies.Http2OverHttp({ proxyOptions });
  const origin = {
    hostname: context.target.hostname,
    port: String(effectivePort(context.target)),
  } as unknown as URL; // http2-wrapper reads only hostname and port (see above).
  const tlsOptions = {
    ...verificationOf(context.tls),
    servername: servernameFor(context.target.hostname, context.tls.servername),
  };
  try {
    return await tunnelAgent.createConnection(origin, tlsOptions);
  } catch (error) {
    for (const socket of opened) socket.destroy();
    throw proxyFailure(error, context, proxy, shownProxy);
  }
}

/** http2-wrapper's ProxyOptions plus the request options it forwards (see connectThroughProxy). */
interface ProxyOptionsPassedThrough {
  url: URL;
  headers: Record<string, string>;
  raw: boolean;
  signal: AbortSignal;
  createConnection: (options: ClientRequestArgs, callback: unknown) => net.Socket;
}

function proxyFailure(error: unknown, context: Context, proxy: URL, shownProxy: string): Error {
  if (context.callerSignal?.aborted === true) {
    return new RequestAbortedError('Connecting to the gateway was aborted', { cause: error });
  }
  const variable = context.target.protocol === 'https:' ? 'HTTPS_PROXY' : 'HTTP_PROXY';
  const statusCode = statusCodeOf(error);
  if (statusCode === 407) return proxyAuthenticationRequired(shownProxy, proxy.username !== '' || proxy.password !== '', variable, error);
  if (statusCode !== undefined) {
    return new ProxyError(
      `Proxy ${shownProxy} refused CONNECT to the gateway ${context.authority} with status ${statusCode}${statusMeaning(statusCode)}`,
      { proxy: shownProxy, statusCode, cause: error },
    );
  }
  if (context.signal.aborted) {
    return new ProxyError(
      `Proxy ${shownProxy} did not establish a tunnel to the gateway ${context.authority} within ${context.timeoutMs} ms`,
      { proxy: shownProxy, cause: error },
    );
  }
  return new ProxyError(`Could not use proxy ${shownProxy} (from ${variable}): ${messageOf(error)}`, {
    proxy: shownProxy,
    cause: error,
  });
}

function statusMeaning(statusCode: number): string {
  if (statusCode === 403) return ' (Forbidden: its rules do not allow this destination or port)';
  if (statusCode === 502 || statusCode === 503 || statusCode === 504) return ' (the proxy could not reach the gateway)';
  return '';
}

/** http2-wrapper's UnexpectedStatusCodeError carries the proxy's status as `statusCode`. */
function statusCodeOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('statusCode' in error)) return undefined;
  const { statusCode } = error;
  return typeof statusCode === 'number' ? statusCode : undefined;
}

/** Resolves once the socket can carry HTTP/2: connected, and for TLS handshaken with ALPN h2. */
function waitUntilReady(socket: net.Socket, context: Context, proxy: URL | undefined): Promise<void> {
  const encrypted = socket instanceof tls.TLSSocket;
  const via = proxy === undefined ? '' : ` through proxy ${displayProxy(proxy)}`;
  return new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      socket.off('error', onError);
      socket.off(encrypted ? 'secureConnect' : 'connect', onReady);
      context.signal.removeEventListener('abort', onAbort);
    };
    const fail = (error: Error): void => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onError = (error: Error): void => {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      let hint = '';
      if (code === 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL') {
        hint = ' (the server does not speak HTTP/2: it refused ALPN "h2"; is the URL pointing at the gateway?)';
      } else if (encrypted && proxy !== undefined && /CERT|SIGNATURE|ISSUER/.test(code)) {
        hint = ' (if the proxy intercepts TLS, trust its CA with the custom CA option)';
      }
      fail(
        new GatewayConnectionError(
          `Could not connect to the gateway ${context.authority}${via}: ${messageOf(error)}${hint}`,
          { cause: error },
        ),
      );
    };
    const onAbort = (): void => {
      if (context.callerSignal?.aborted === true) {
        fail(new RequestAbortedError('Connecting to the gateway was aborted'));
      } else {
        fail(new GatewayConnectionError(`Connecting to the gateway ${context.authority}${via} timed out after ${context.timeoutMs} ms`));
      }
    };
    const onReady = (): void => {
      if (encrypted) {
        const negotiated = (socket as tls.TLSSocket).alpnProtocol;
        if (negotiated !== 'h2') {
          fail(
            new GatewayConnectionError(
              `The gateway ${context.authority}${via} did not negotiate HTTP/2: TLS ALPN selected ` +
                `${negotiated === false || negotiated === null ? 'no protocol' : `"${negotiated}"`} instead of "h2" ` +
                '(is the URL pointing at the gateway, or is a TLS-intercepting proxy or load balancer downgrading to HTTP/1.1?)',
            ),
          );
          return;
        }
      }
      cleanup();
      resolve();
    };
    if (context.signal.aborted) {
      onAbort();
      return;
    }
    // A tunnel socket from the proxy path is already connected and, for h2c, ready.
    if (!encrypted && !socket.connecting) {
      resolve();
      return;
    }
    socket.once('error', onError);
    socket.once(encrypted ? 'secureConnect' : 'connect', onReady);
    context.signal.addEventListener('abort', onAbort, { once: true });
  });
}
