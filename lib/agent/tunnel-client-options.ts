import type { Agent as HttpAgent } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { InvalidOptionError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { RequestPolicy } from '../policy/request-policy.js';
import { buildOutboundHeaders } from '../policy/outbound-headers.js';
import { MAX_PARALLELISM } from '../protocol/http2-settings.js';
import { validateMetadata } from '../protocol/metadata.js';
import { SPACELIFT_DEFAULT_MAX_MESSAGE_BYTES } from '../protocol/spacelift/constants.js';
import { parseSpaceliftTarget, type SpaceliftTarget } from '../protocol/spacelift/spacelift-target.js';
import { decodePoolToken, type PoolToken } from '../protocol/token.js';
import { optionalFunction } from '../util/optional-function.js';
import type { AgentStreamContext, ExchangeDebugEvent } from './agent-stream.js';
import type { BackoffOptions } from './backoff.js';
import { createUpstreamClient } from './upstream-client.js';

/** Most connections one `TunnelClient` keeps to its gateway (`gatewayConnections`). */
export const MAX_GATEWAY_CONNECTIONS = 16;

/** The wire protocol a `TunnelClient` speaks to its gateway. */
export type TunnelProtocol = 'vcs-agent' | 'spacelift';

/** Options of the Spacelift protocol (`protocol: 'spacelift'`). */
export interface SpaceliftProtocolOptions {
  /** Dial a `host:port` token host without TLS (Spacelift's `--dial-insecure`). Default false. */
  dialInsecure?: boolean;
  /** Largest gRPC message sent or received, which caps each whole body (default 4 MiB, gRPC's default). */
  maxMessageBytes?: number;
  /**
   * The protocol has no acceptance message: a gateway may send nothing until it has a
   * request. Calls count as accepted on the gateway's response headers or first message,
   * or once the connection has been up this long without a refusal (default 2 000 ms).
   */
  acceptAfterMs?: number;
}

/** Options of a `TunnelClient`. */
export interface TunnelClientOptions {
  /**
   * Wire protocol: `vcs-agent` (default, docs/protocol.md) or `spacelift`, Spacelift's gRPC
   * `privatevcs.Gateway/Connect`, for gateways that speak only that (docs/spacelift-compatibility.md).
   */
  protocol?: TunnelProtocol;
  /** Settings of the Spacelift protocol; only with `protocol: 'spacelift'`. */
  spacelift?: SpaceliftProtocolOptions;
  /** The pool configuration token (base64 JSON), or its decoded form. */
  token: string | PoolToken;
  /** Base URL of the VCS, e.g. `https://gitlab.internal` (a path prefix is kept). */
  target: string | URL;
  /** Decides per request; see `createVendorPolicy`. There is no allow-all default. */
  policy: RequestPolicy;
  /** Streams kept open on each gateway connection; each carries one request at a time (default 4, max 256). */
  parallelism?: number;
  /**
   * Separate connections to the gateway, each its own TCP dial (so a load balancer may put
   * them on different gateway replicas) with `parallelism` streams and its own reconnect
   * backoff: losing one leaves the others serving (default 2, 1 to 16).
   */
  gatewayConnections?: number;
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
  /**
   * undici `Dispatcher` for requests to the VCS (custom CA, proxy, interceptors). Default: an
   * undici `Agent` keeping up to `parallelism` connections alive per origin. The caller owns it
   * (the client does not close it); keep its `strictContentLength` on (undici's default).
   */
  upstreamDispatcher?: Dispatcher;
  /** `http.Agent` for requests to the VCS over node:http instead of undici (proxy agents). Not with `upstreamDispatcher`. */
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
  /**
   * Called with the size of every body chunk this process streams, in either direction
   * (a small body sent in one piece with its head may not be): a hook for
   * process-level memory tuning (the CLIs run a minor GC every 4 MiB with it,
   * docs/performance.md § Memory). Runs on the hot path: keep it to a counter.
   */
  onBodyChunk?: (bytes: number) => void;
}

/** The Spacelift protocol's settings, checked. */
export interface SpaceliftConfig {
  readonly target: SpaceliftTarget;
  readonly maxMessageBytes: number;
  readonly acceptAfterMs: number;
}

/** The options of a `TunnelClient`, checked and with their defaults. */
export interface TunnelClientConfig {
  readonly token: PoolToken;
  readonly protocol: TunnelProtocol;
  /** Set when `protocol` is `spacelift`. */
  readonly spacelift: SpaceliftConfig | undefined;
  readonly gatewayUrl: URL;
  readonly policy: RequestPolicy;
  readonly parallelism: number;
  readonly gatewayConnections: number;
  readonly vendor: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly agentId: string;
  readonly logger: Logger;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** What every tunnel stream needs, apart from the callbacks of the connection that owns it. */
  readonly streamContext: Omit<AgentStreamContext, 'onRecord' | 'onStreamClosed' | 'onExchangeDone'>;
}

/** Checks the options; an `InvalidOptionError` names the first bad one. */
export function resolveTunnelClientOptions(options: TunnelClientOptions, randomId: () => string): TunnelClientConfig {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'TunnelClient options must be an object');
  const protocol = options.protocol ?? 'vcs-agent';
  if (protocol !== 'vcs-agent' && protocol !== 'spacelift') {
    throw new InvalidOptionError('protocol', `Invalid protocol ${JSON.stringify(String(protocol)).slice(0, 40)}: expected vcs-agent or spacelift`);
  }
  if (options.spacelift !== undefined && protocol !== 'spacelift') {
    throw new InvalidOptionError('spacelift', 'The spacelift options apply only with protocol: spacelift');
  }
  const hostForm = protocol === 'spacelift' ? 'grpc-target' : 'url';
  const token = decodePoolToken(typeof options.token === 'string' ? options.token : Buffer.from(JSON.stringify(options.token)).toString('base64'), { host: hostForm });
  const spacelift = protocol === 'spacelift' ? resolveSpacelift(options, token) : undefined;
  const target = parseTarget(options.target);
  if (options.policy === undefined || typeof options.policy.evaluate !== 'function') {
    throw new InvalidOptionError('policy', 'A request policy is required (policy): the agent never allows everything by default');
  }
  const parallelism = options.parallelism ?? 4;
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > MAX_PARALLELISM) {
    throw new InvalidOptionError('parallelism', `Invalid parallelism ${String(options.parallelism)}: expected an integer from 1 to ${MAX_PARALLELISM}`);
  }
  const gatewayConnections = options.gatewayConnections ?? 2;
  if (!Number.isInteger(gatewayConnections) || gatewayConnections < 1 || gatewayConnections > MAX_GATEWAY_CONNECTIONS) {
    throw new InvalidOptionError('gatewayConnections', `Invalid gatewayConnections ${String(options.gatewayConnections)}: expected an integer from 1 to ${MAX_GATEWAY_CONNECTIONS}`);
  }
  const metadata = validateMetadata(options.metadata ?? {});
  // gRPC servers refuse pings more often than every 5 minutes unless configured otherwise
  // (gRPC A8 client-side keepalive; grpc-go's default enforcement policy answers with
  // GOAWAY too_many_pings), so the Spacelift protocol keeps gRPC's own defaults.
  const keepaliveIntervalMs = positiveMs(options.keepalive?.intervalMs, spacelift === undefined ? 20_000 : 300_000, 'keepalive.intervalMs');
  const keepaliveTimeoutMs = positiveMs(options.keepalive?.timeoutMs, spacelift === undefined ? 10_000 : 20_000, 'keepalive.timeoutMs');
  const connectTimeoutMs = positiveMs(options.connectTimeoutMs, 30_000, 'connectTimeoutMs');
  const upstreamTimeoutMs = options.upstreamTimeoutMs ?? 300_000;
  if (!Number.isInteger(upstreamTimeoutMs) || upstreamTimeoutMs <= 0) {
    throw new InvalidOptionError('upstreamTimeoutMs', 'Invalid upstreamTimeoutMs: expected a positive integer of milliseconds');
  }
  const buildHeaders = options.outboundHeaders ?? buildOutboundHeaders;
  if (spacelift !== undefined && options.connect !== undefined) {
    throw new InvalidOptionError('connect', 'A custom connect() is not supported with protocol: spacelift (grpc-js dials; use proxy or wrapSocket)');
  }
  // Last: the default client holds a connection pool, made only once every option is good.
  // Every stream of every connection may carry a request at once: fewer VCS connections would
  // queue requests the gateway counts as being served.
  const upstream = createUpstreamClient(options, parallelism * gatewayConnections, upstreamTimeoutMs);
  return {
    token,
    protocol,
    spacelift,
    gatewayUrl: spacelift === undefined ? new URL(token.host) : spacelift.target.url,
    policy: options.policy,
    parallelism,
    gatewayConnections,
    vendor: options.vendor ?? options.policy.name,
    metadata,
    agentId: options.agentId ?? randomId(),
    logger: options.logger ?? silentLogger,
    keepaliveIntervalMs,
    keepaliveTimeoutMs,
    connectTimeoutMs,
    streamContext: {
      policy: options.policy,
      target,
      basePath: target.pathname.replace(/\/+$/, ''),
      upstream,
      maxRequestBodyBytes: cap(options.maxBodyBytes?.request, 'maxBodyBytes.request'),
      maxResponseBodyBytes: cap(options.maxBodyBytes?.response, 'maxBodyBytes.response'),
      outboundHeaders: (raw) => buildHeaders(raw, target),
      onDebug: optionalFunction(options.onDebug, 'onDebug'),
      onBodyChunk: optionalFunction(options.onBodyChunk, 'onBodyChunk'),
    },
  };
}

function resolveSpacelift(options: TunnelClientOptions, token: PoolToken): SpaceliftConfig {
  const settings = options.spacelift ?? {};
  if (typeof settings !== 'object' || settings === null) throw new InvalidOptionError('spacelift', 'The spacelift options must be an object');
  const dialInsecure = settings.dialInsecure ?? false;
  if (typeof dialInsecure !== 'boolean') throw new InvalidOptionError('spacelift.dialInsecure', 'Invalid spacelift.dialInsecure: expected true or false');
  const maxMessageBytes = settings.maxMessageBytes ?? SPACELIFT_DEFAULT_MAX_MESSAGE_BYTES;
  // 2^31 - 1: gRPC message lengths are 32-bit signed on every implementation.
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1024 || maxMessageBytes > 2 ** 31 - 1) {
    throw new InvalidOptionError('spacelift.maxMessageBytes', 'Invalid spacelift.maxMessageBytes: expected a whole number of bytes from 1024 to 2147483647');
  }
  return { target: parseSpaceliftTarget(token.host, dialInsecure), maxMessageBytes, acceptAfterMs: positiveMs(settings.acceptAfterMs, 2_000, 'spacelift.acceptAfterMs') };
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
