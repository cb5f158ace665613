import type { Agent as HttpAgent } from 'node:http';
import { Agent as HttpAgentClass } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Duplex } from 'node:stream';
import { InvalidOptionError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { RequestPolicy } from '../policy/request-policy.js';
import { buildOutboundHeaders } from '../policy/outbound-headers.js';
import { MAX_PARALLELISM } from '../protocol/http2-settings.js';
import { validateMetadata } from '../protocol/metadata.js';
import { decodePoolToken, type PoolToken } from '../protocol/token.js';
import type { AgentStreamContext, ExchangeDebugEvent } from './agent-stream.js';
import type { BackoffOptions } from './backoff.js';

/** Options of a `TunnelClient`. */
export interface TunnelClientOptions {
  /** The pool configuration token (base64 JSON), or its decoded form. */
  token: string | PoolToken;
  /** Base URL of the VCS, e.g. `https://gitlab.internal` (a path prefix is kept). */
  target: string | URL;
  /** Decides per request; see `createVendorPolicy`. There is no allow-all default. */
  policy: RequestPolicy;
  /** Streams kept open to the gateway; each carries one request at a time (default 4, max 256). */
  parallelism?: number;
  /** Vendor name reported to the gateway (default: `policy.name`). */
  vendor?: string;
  /** Tags shown per connection on the gateway (at most 32; keys ≤ 64, values ≤ 256 chars). */
  metadata?: Readonly<Record<string, string>>;
  /** Stable id of this agent instance (default: a random UUID). */
  agentId?: string;
  logger?: Logger;
  /** TLS options for the gateway connection (custom CA, for example). */
  tls?: { ca?: string | Buffer | Array<string | Buffer>; rejectUnauthorized?: boolean; servername?: string };
  /**
   * Supplies the socket to the gateway (a CONNECT tunnel through a proxy, a traced socket).
   * For https gateways it must be a TLS socket that negotiated ALPN `h2`.
   */
  connect?: (gateway: URL) => Promise<Duplex>;
  /** Wraps the socket before HTTP/2 uses it (GODEBUG tracing); called only when set. */
  wrapSocket?: (socket: Duplex) => Duplex;
  /** HTTP CONNECT proxy for the gateway connection (resolved from HTTPS_PROXY/NO_PROXY by the caller). */
  proxy?: URL;
  /** How long dialling the gateway (TCP, proxy CONNECT, TLS) may take (default 30 000 ms). */
  connectTimeoutMs?: number;
  /**
   * Liveness checks on an idle connection: an HTTP/2 PING and an application-level ping on
   * the connect stream every `intervalMs` (default 20 000); no answer to either within
   * `timeoutMs` (default 10 000) means the connection is half-open, and it is redialled.
   */
  keepalive?: { intervalMs?: number; timeoutMs?: number };
  /** Agent for requests to the VCS (proxying, custom CA). Default: keep-alive, `parallelism` sockets. */
  upstreamAgent?: HttpAgent;
  /** How long the VCS may stay silent before a request fails (default 300 000 ms). */
  upstreamTimeoutMs?: number;
  /**
   * Optional body caps in bytes. There is none by default: bodies stream with flow control
   * and are never held whole. Over the request cap the caller gets 413 (`VCS_BODY_TOO_LARGE`);
   * over the response cap the stream is reset, so the caller sees an error.
   */
  maxBodyBytes?: { request?: number; response?: number };
  /** Builds the header list sent to the VCS (default: `buildOutboundHeaders`, an allowlist with Host from the target). */
  outboundHeaders?: (rawHeaders: readonly string[], target: URL) => string[];
  /** Reconnect backoff (exponential with full jitter). */
  reconnect?: BackoffOptions;
  /**
   * Receives every request and response (heads and body chunks) for `--debug-print-all`.
   * Values are unredacted: the consumer must redact. Costs nothing when unset.
   */
  onDebug?: (event: ExchangeDebugEvent) => void;
}

/** The options of a `TunnelClient`, checked and with their defaults. */
export interface TunnelClientConfig {
  readonly token: PoolToken;
  readonly gatewayUrl: URL;
  readonly policy: RequestPolicy;
  readonly parallelism: number;
  readonly vendor: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly agentId: string;
  readonly logger: Logger;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Whether the client made the upstream agent (and so destroys it on close). */
  readonly ownsUpstreamAgent: boolean;
  /** What every tunnel stream needs, apart from the callbacks of the connection that owns it. */
  readonly streamContext: Omit<AgentStreamContext, 'onRecord' | 'onStreamClosed' | 'onExchangeDone' | 'onStreamReady'>;
}

/** Checks the options; an `InvalidOptionError` names the first bad one. */
export function resolveTunnelClientOptions(options: TunnelClientOptions, randomId: () => string): TunnelClientConfig {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'TunnelClient options must be an object');
  const token = typeof options.token === 'string' ? decodePoolToken(options.token) : decodePoolToken(Buffer.from(JSON.stringify(options.token)).toString('base64'));
  const target = parseTarget(options.target);
  if (options.policy === undefined || typeof options.policy.evaluate !== 'function') {
    throw new InvalidOptionError('policy', 'A request policy is required (policy): the agent never allows everything by default');
  }
  const parallelism = options.parallelism ?? 4;
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > MAX_PARALLELISM) {
    throw new InvalidOptionError('parallelism', `Invalid parallelism ${String(options.parallelism)}: expected an integer from 1 to ${MAX_PARALLELISM}`);
  }
  const metadata = validateMetadata(options.metadata ?? {});
  const keepaliveIntervalMs = positiveMs(options.keepalive?.intervalMs, 20_000, 'keepalive.intervalMs');
  const keepaliveTimeoutMs = positiveMs(options.keepalive?.timeoutMs, 10_000, 'keepalive.timeoutMs');
  const connectTimeoutMs = positiveMs(options.connectTimeoutMs, 30_000, 'connectTimeoutMs');
  const upstreamTimeoutMs = options.upstreamTimeoutMs ?? 300_000;
  if (!Number.isInteger(upstreamTimeoutMs) || upstreamTimeoutMs <= 0) {
    throw new InvalidOptionError('upstreamTimeoutMs', 'Invalid upstreamTimeoutMs: expected a positive integer of milliseconds');
  }
  const upstreamAgent =
    options.upstreamAgent ??
    (target.protocol === 'https:'
      ? new HttpsAgent({ keepAlive: true, maxSockets: parallelism, maxFreeSockets: parallelism })
      : new HttpAgentClass({ keepAlive: true, maxSockets: parallelism, maxFreeSockets: parallelism }));
  const buildHeaders = options.outboundHeaders ?? buildOutboundHeaders;
  return {
    token,
    gatewayUrl: new URL(token.host),
    policy: options.policy,
    parallelism,
    vendor: options.vendor ?? options.policy.name,
    metadata,
    agentId: options.agentId ?? randomId(),
    logger: options.logger ?? silentLogger,
    keepaliveIntervalMs,
    keepaliveTimeoutMs,
    connectTimeoutMs,
    ownsUpstreamAgent: options.upstreamAgent === undefined,
    streamContext: {
      policy: options.policy,
      target,
      basePath: target.pathname.replace(/\/+$/, ''),
      upstreamAgent,
      upstreamTimeoutMs,
      maxRequestBodyBytes: cap(options.maxBodyBytes?.request, 'maxBodyBytes.request'),
      maxResponseBodyBytes: cap(options.maxBodyBytes?.response, 'maxBodyBytes.response'),
      outboundHeaders: (raw) => buildHeaders(raw, target),
      onDebug: options.onDebug,
    },
  };
}

function cap(value: number | undefined, option: string): number {
  if (value === undefined) return Infinity;
  if (!Number.isInteger(value) || value <= 0) throw new InvalidOptionError(option, `Invalid ${option}: expected a positive whole number of bytes`);
  return value;
}

function positiveMs(value: number | undefined, fallback: number, option: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new InvalidOptionError(option, `Invalid ${option}: expected a positive number of milliseconds`);
  return value;
}

export function tlsForSocket(tls: NonNullable<TunnelClientOptions['tls']>): { ca?: string | Buffer; rejectUnauthorized?: boolean; servername?: string } {
  const out: { ca?: string | Buffer; rejectUnauthorized?: boolean; servername?: string } = {};
  if (tls.ca !== undefined) out.ca = Array.isArray(tls.ca) ? tls.ca.map((item) => item.toString()).join('\n') : tls.ca;
  if (tls.rejectUnauthorized !== undefined) out.rejectUnauthorized = tls.rejectUnauthorized;
  if (tls.servername !== undefined) out.servername = tls.servername;
  return out;
}

function parseTarget(target: string | URL): URL {
  let url: URL;
  try {
    url = typeof target === 'string' ? new URL(target) : new URL(target.href);
  } catch {
    throw new InvalidOptionError('target', `Invalid target base endpoint "${String(target).slice(0, 100)}": expected an http:// or https:// URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidOptionError('target', `Invalid target base endpoint: scheme ${url.protocol} is not http: or https:`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new InvalidOptionError('target', 'Invalid target base endpoint: credentials do not belong in the URL (the platform sends its own)');
  }
  if (url.search !== '' || url.hash !== '') {
    throw new InvalidOptionError('target', 'Invalid target base endpoint: expected no query or fragment');
  }
  return url;
}
