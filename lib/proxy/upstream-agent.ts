import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { InvalidOptionError } from '../errors.js';
import { verificationOf, type ProxyTlsOptions } from './gateway-socket.js';
import { messageOf, proxyAuthenticationRequired, ProxyError } from './proxy-errors.js';
import { displayProxy, proxyAuthorization, withoutCredentials } from './proxy-url.js';

/** Options of {@link createUpstreamAgent}. */
export interface CreateUpstreamAgentOptions {
  /** HTTP proxy (from {@link resolveProxy}); direct connections when absent. */
  proxy?: URL;
  /** Concurrent connections to the VCS (per host:port), a positive integer. */
  maxSockets: number;
  /** Reuse connections between requests (default true). */
  keepAlive?: boolean;
  /** TLS settings for the VCS; `ca` and `rejectUnauthorized` also apply to an `https:` proxy. */
  tls?: ProxyTlsOptions;
}

/** What {@link createUpstreamAgent} returns. */
export interface UpstreamAgent {
  /** Pass as `agent` to `http.request` (for `http:` targets) or `https.request` (`https:`). */
  agent: http.Agent;
  /** The proxy in use, without credentials, or undefined for direct connections. */
  proxy: URL | undefined;
  /**
   * True when requests go to an HTTP proxy in absolute form (`http:` target through
   * `HTTP_PROXY`): then a 407, or a 403/502/503 carrying the proxy's headers, may come
   * from the proxy rather than the VCS. With CONNECT tunnels (`https:` targets) proxy
   * failures are raised as request errors instead (`ProxyError`, `ProxyAuthenticationError`).
   */
  absoluteForm: boolean;
}

/**
 * The `http.Agent` for forwarding requests to the VCS at `target`.
 *
 * Without a proxy: a keep-alive `http.Agent` / `https.Agent`. An `https:` target through a
 * proxy: every connection is a CONNECT tunnel (https-proxy-agent) with TLS to the VCS
 * inside it; a non-200 answer to CONNECT makes the request fail with `ProxyError` or, for
 * 407, `ProxyAuthenticationError`, instead of handing the proxy's answer back as if the
 * VCS had sent it. An `http:` target through a proxy: requests are sent to the proxy in
 * absolute form (http-proxy-agent). Proxy credentials are sent as `Proxy-Authorization`
 * to the proxy only, and are not kept in the returned `proxy` or in the agents' own URLs.
 *
 * @throws InvalidOptionError for a non-http(s) target or proxy, or a bad `maxSockets`.
 */
export function createUpstreamAgent(target: URL, options: CreateUpstreamAgentOptions): UpstreamAgent {
  if (target.protocol !== 'https:' && target.protocol !== 'http:') {
    throw new InvalidOptionError('target', `The VCS URL must be http:// or https://; got a ${target.protocol} URL`);
  }
  if (!Number.isInteger(options.maxSockets) || options.maxSockets < 1) {
    throw new InvalidOptionError('maxSockets', `maxSockets must be a positive integer; got ${options.maxSockets}`);
  }
  const { proxy } = options;
  if (proxy !== undefined && proxy.protocol !== 'http:' && proxy.protocol !== 'https:') {
    throw new InvalidOptionError('proxy', `The proxy must be an http:// or https:// URL; got a ${proxy.protocol} URL`);
  }
  const common = { keepAlive: options.keepAlive ?? true, maxSockets: options.maxSockets };
  const tlsSettings = options.tls ?? {};
  const verification = verificationOf(tlsSettings);
  const targetTls = { ...verification, ...(tlsSettings.servername === undefined ? {} : { servername: tlsSettings.servername }) };

  if (proxy === undefined) {
    const agent = target.protocol === 'https:' ? new https.Agent({ ...common, ...targetTls }) : new http.Agent(common);
    return { agent, proxy: undefined, absoluteForm: false };
  }

  const authorization = proxyAuthorization(proxy);
  // Credentials go in a header given to the agent, not in its URL: both agents log their
  // URL through `debug` (DEBUG=https-proxy-agent) and emit it in their 'proxy' event.
  const proxyOptions = {
    ...common,
    ...(proxy.protocol === 'https:' ? verification : {}),
    headers: authorization === undefined ? {} : { 'Proxy-Authorization': authorization },
  };
  const bareProxy = withoutCredentials(proxy);
  if (target.protocol === 'http:') {
    return { agent: new HttpProxyAgent(bareProxy, proxyOptions), proxy: bareProxy, absoluteForm: true };
  }
  const agent = new TunnelAgent(bareProxy, proxyOptions, {
    targetTls,
    shownProxy: displayProxy(proxy),
    credentialsSent: authorization !== undefined,
  });
  return { agent, proxy: bareProxy, absoluteForm: false };
}


/** What agent-base passes to `connect` (its AgentConnectOpts; agent-base is not a direct dependency). */
type AgentConnectOpts = Parameters<HttpsProxyAgent<string>['connect']>[1];

interface ProxyConnectResponse {
  statusCode: number;
  statusText: string;
}

/**
 * https-proxy-agent answers a refused CONNECT by replaying the proxy's response on a fake
 * socket, so the caller would read e.g. the proxy's 407 page as the VCS's answer. This
 * subclass watches the 'proxyConnect' event (emitted before that replay) and fails the
 * request with a typed error instead. It also adds the target's TLS settings to each
 * connection: the constructor options only apply to the connection to the proxy.
 */
class TunnelAgent extends HttpsProxyAgent<string> {
  readonly #targetTls: ProxyTlsOptions;
  readonly #shownProxy: string;
  readonly #credentialsSent: boolean;

  constructor(
    proxy: URL,
    options: ConstructorParameters<typeof HttpsProxyAgent<string>>[1],
    extra: { targetTls: ProxyTlsOptions; shownProxy: string; credentialsSent: boolean },
  ) {
    super(proxy, options);
    this.#targetTls = extra.targetTls;
    this.#shownProxy = extra.shownProxy;
    this.#credentialsSent = extra.credentialsSent;
  }

  /*
   * agent-base decides TLS-or-not per call from `options.protocol`, else by looking for
   * https in the call stack. https.request does not put `protocol` in the options, and
   * when a response ends the stack has no https frame, so the freed tunnel was filed
   * under an "http" pool name and never reused. This agent only ever serves https targets.
   */
  override isSecureEndpoint(): boolean {
    return true;
  }

  override async connect(req: http.ClientRequest, opts: AgentConnectOpts): Promise<Socket> {
    let response: ProxyConnectResponse | undefined;
    const onProxyConnect = (answer: ProxyConnectResponse): void => {
      response = answer;
    };
    req.once('proxyConnect', onProxyConnect);
    let socket: Socket;
    try {
      socket = await super.connect(req, { ...opts, ...this.#targetTls } as AgentConnectOpts);
    } catch (error) {
      throw new ProxyError(`Could not use proxy ${this.#shownProxy} (from HTTPS_PROXY): ${messageOf(error)}`, {
        proxy: this.#shownProxy,
        cause: error,
      });
    } finally {
      req.off('proxyConnect', onProxyConnect);
    }
    if (response === undefined || response.statusCode === 200) return socket;
    socket.destroy();
    const authority = `${opts.host}:${opts.port}`;
    if (response.statusCode === 407) throw proxyAuthenticationRequired(this.#shownProxy, this.#credentialsSent, 'HTTPS_PROXY');
    throw new ProxyError(
      `Proxy ${this.#shownProxy} refused CONNECT to the VCS ${authority} with status ${response.statusCode} ${response.statusText}`.trimEnd(),
      { proxy: this.#shownProxy, statusCode: response.statusCode },
    );
  }
}
