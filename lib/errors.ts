/**
 * Every failure the library reports is a `VcsAgentError` subclass with a stable `code`.
 * Messages never contain secrets (pool keys, tokens, Authorization values); the
 * original error, when there is one, is kept as `cause`.
 */
export class VcsAgentError extends Error {
  /** Stable, documented identifier (see docs/errors.md). */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }
}

/** An option passed to the library (or a CLI flag / variable) is missing or malformed. */
export class InvalidOptionError extends VcsAgentError {
  /** The option, flag or field at fault, e.g. `parallelism`. */
  readonly option: string;
  constructor(option: string, message: string, options?: { cause?: unknown }) {
    super('VCS_INVALID_OPTION', message, options);
    this.option = option;
  }
}

/** The pool configuration token is not base64 JSON with `host`, `key` and `pool_ulid`. */
export class InvalidTokenError extends VcsAgentError {
  /** The token field at fault (`host`, `key`, `pool_ulid`) or `token` for the whole. */
  readonly field: string;
  constructor(field: string, message: string) {
    super('VCS_INVALID_TOKEN', message);
    this.field = field;
  }
}

/** The gateway refused the agent's credentials (unknown pool or wrong key). */
export class AuthenticationError extends VcsAgentError {
  constructor(message: string, readonly reason: 'unknown_pool' | 'bad_key' | 'malformed' | 'pool_deleted' = 'bad_key') {
    super('VCS_AUTH_FAILED', message);
  }
}

/** The agent could not reach or lost the connection to the gateway. */
export class GatewayConnectionError extends VcsAgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('VCS_GATEWAY_UNREACHABLE', message, options);
  }
}

/** A `private://` URL or front-door path names no pool the gateway knows. */
export class PoolNotFoundError extends VcsAgentError {
  constructor(readonly pool: string) {
    super('VCS_POOL_NOT_FOUND', `Pool "${pool}" does not exist`);
  }
}

/** A pool with that name already exists. */
export class PoolExistsError extends VcsAgentError {
  constructor(readonly pool: string) {
    super('VCS_POOL_EXISTS', `A pool named "${pool}" already exists`);
  }
}

/** The pool exists but no agent is connected to serve it. */
export class NoAgentError extends VcsAgentError {
  constructor(readonly pool: string) {
    super('VCS_NO_AGENT', `No agent is connected to pool "${pool}"`);
  }
}

/** Every stream of the pool stayed busy for the whole queue timeout, or the queue is full. */
export class PoolBusyError extends VcsAgentError {
  constructor(
    readonly pool: string,
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super('VCS_POOL_BUSY', message);
  }
}

/** A request URL is not `private://<pool>/<path>` (or the front-door form). */
export class InvalidRequestUrlError extends VcsAgentError {
  constructor(message: string) {
    super('VCS_INVALID_URL', message);
  }
}

/** The tunnel stream carrying a request ended before the response was complete. */
export class TunnelStreamError extends VcsAgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('VCS_STREAM_RESET', message, options);
  }
}

/** The caller aborted the request. */
export class RequestAbortedError extends VcsAgentError {
  constructor(message = 'The request was aborted', options?: { cause?: unknown }) {
    super('VCS_ABORTED', message, options);
  }
}

/** A peer sent bytes that do not follow docs/protocol.md. */
export class ProtocolError extends VcsAgentError {
  constructor(message: string) {
    super('VCS_PROTOCOL_ERROR', message);
  }
}

/** The VCS could not be reached or failed mid-response. */
export class UpstreamError extends VcsAgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('VCS_UPSTREAM_FAILED', message, options);
  }
}

/** The pool store could not be read or written. */
export class PoolStoreError extends VcsAgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('VCS_STORE_FAILED', message, options);
  }
}

/** The component was closed; no new work is accepted. */
export class ClosedError extends VcsAgentError {
  constructor(what: string) {
    super('VCS_CLOSED', `${what} is closed`);
  }
}

/** A caller took longer than the front door's `headersTimeoutMs` to send its request headers. */
export class HeadersTimeoutError extends VcsAgentError {
  constructor(readonly timeoutMs: number) {
    super('VCS_HEADERS_TIMEOUT', `The request headers did not arrive within ${timeoutMs} ms (headersTimeoutMs)`);
  }
}

/** A request body stayed silent longer than `bodyIdleTimeoutMs` while the gateway was reading it. */
export class BodyIdleTimeoutError extends VcsAgentError {
  constructor(readonly timeoutMs: number) {
    super('VCS_BODY_IDLE_TIMEOUT', `No request body byte arrived for ${timeoutMs} ms (bodyIdleTimeoutMs)`);
  }
}

/** A whole request (headers and body) took longer than the front door's `requestTimeoutMs` to arrive. */
export class RequestTimeoutError extends VcsAgentError {
  constructor(readonly timeoutMs: number) {
    super('VCS_REQUEST_TIMEOUT', `The whole request did not arrive within ${timeoutMs} ms (requestTimeoutMs)`);
  }
}

/**
 * The shared pool store (Redis) cannot be reached now; a retry may succeed. The gateway
 * fails closed: agents it cannot check are refused and unknown pools answered 503, while
 * the connections it holds keep serving.
 */
export class PoolStoreUnavailableError extends VcsAgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('VCS_STORE_UNAVAILABLE', message, options);
  }
}

/**
 * A VCS response does not fit one message of the Spacelift protocol (gRPC's maximum message
 * size, 4 MiB by default): that protocol carries a body whole in one message.
 */
export class ResponseTooLargeError extends VcsAgentError {
  constructor(readonly limitBytes: number) {
    super('VCS_RESPONSE_TOO_LARGE', `The response is larger than the Spacelift protocol's message limit of ${limitBytes} bytes (a body travels whole in one gRPC message)`);
  }
}

/**
 * A request body is larger than the tunnel can carry: Spacelift's protocol sends a body whole
 * in one gRPC message, so a body (with its head) over the message limit never reaches the agent.
 */
export class BodyTooLargeError extends VcsAgentError {
  constructor(readonly limitBytes: number) {
    super('VCS_BODY_TOO_LARGE', `The request does not fit in one ${limitBytes}-byte message of the Spacelift agent protocol`);
  }
}

/** A request header cannot travel to the agent as it is: Spacelift's protocol has one value per name and Set-Cookie cannot be joined. */
export class HeaderNotRepresentableError extends VcsAgentError {
  constructor(readonly names: readonly string[]) {
    super('VCS_HEADER_NOT_REPRESENTABLE', `Repeated header ${names.map((name) => `"${name.slice(0, 40)}"`).join(', ')} cannot be sent to a Spacelift agent (one value per name)`);
  }
}

/**
 * The replica a request was forwarded to failed (it died, froze or its link broke) after
 * the request may have reached an agent, or in the middle of the response: it is not sent
 * again, since the VCS may have acted on it. `replicaId` names the peer.
 */
export class PeerFailedError extends VcsAgentError {
  constructor(
    readonly replicaId: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('VCS_PEER_FAILED', message, options);
  }
}

/** A request on a replica's peer listener without the right peer token (`--peer-token`). */
export class PeerUnauthorizedError extends VcsAgentError {
  constructor(message = 'A valid peer token is required on the peer listener') {
    super('VCS_PEER_UNAUTHORIZED', message);
  }
}

/**
 * A request would take a second hop between replicas (it arrived forwarded and was marked
 * forwarded again), or carries the replicas' own `vcs-peer-*` headers from outside: refused,
 * never passed on.
 */
export class ForwardLoopError extends VcsAgentError {
  constructor(message: string) {
    super('VCS_FORWARD_LOOP', message);
  }
}
