import { PoolBusyError, type VcsAgentError } from '../errors.js';

/*
 * One table from error code to what an HTTP answer carries: status, JSON body and, for
 * failures a later retry can fix, `Retry-After` (RFC 9110 §10.2.3). The front door, the
 * gateway's refusals on the connect stream and the agent's own answers all build their
 * error responses here, so a code means the same status everywhere (docs/errors.md).
 */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  VCS_INVALID_URL: 400,
  VCS_INVALID_OPTION: 400,
  VCS_BAD_FRAMING: 400,
  VCS_HEADER_NOT_REPRESENTABLE: 400,
  VCS_AUTH_FAILED: 401,
  VCS_PEER_UNAUTHORIZED: 401,
  VCS_DENIED: 403,
  VCS_REDIRECT_DENIED: 403,
  VCS_POOL_NOT_FOUND: 404,
  VCS_UNAUTHORIZED: 407,
  VCS_HEADERS_TIMEOUT: 408,
  VCS_BODY_IDLE_TIMEOUT: 408,
  VCS_REQUEST_TIMEOUT: 408,
  VCS_BODY_TOO_LARGE: 413,
  VCS_ABORTED: 499,
  VCS_STORE_FAILED: 500,
  VCS_STREAM_RESET: 502,
  VCS_UPSTREAM_FAILED: 502,
  VCS_PROTOCOL_ERROR: 502,
  VCS_TOO_MANY_REDIRECTS: 502,
  VCS_RESPONSE_TOO_LARGE: 502,
  VCS_AGENT_ERROR: 502,
  VCS_PEER_FAILED: 502,
  VCS_NO_AGENT: 503,
  VCS_POOL_BUSY: 503,
  VCS_CLOSED: 503,
  VCS_STORE_UNAVAILABLE: 503,
  // RFC 5842 §7.2: the server detected an infinite loop while processing the request.
  VCS_FORWARD_LOOP: 508,
};

/** Whether `code` is one of ours (it has a row in the table above). */
export function isKnownErrorCode(code: string): boolean {
  return Object.hasOwn(STATUS_BY_CODE, code);
}

/** Codes that mean "not now": the answer carries `Retry-After` (seconds). */
const RETRY_AFTER_BY_CODE: Readonly<Record<string, number>> = {
  VCS_NO_AGENT: 1,
  VCS_POOL_BUSY: 1,
  VCS_CLOSED: 1,
  VCS_STORE_UNAVAILABLE: 1,
};

/** The HTTP status for an error code (502 for a code without an entry: the tunnel failed). */
export function statusForCode(code: string): number {
  return STATUS_BY_CODE[code] ?? 502;
}

/** Seconds a caller should wait before retrying, or undefined when retrying will not help. */
export function retryAfterFor(error: VcsAgentError): number | undefined {
  if (error instanceof PoolBusyError && Number.isInteger(error.retryAfterSeconds) && error.retryAfterSeconds > 0) return error.retryAfterSeconds;
  return RETRY_AFTER_BY_CODE[error.code];
}

/** The JSON error body every component answers with: `{"error": {"code", "message", "reason"?}}`. */
export function errorBody(code: string, message: string, reason?: string): string {
  return JSON.stringify({ error: reason === undefined ? { code, message } : { code, message, reason } });
}

/** A complete error answer: status, headers (`Retry-After` when it applies) and body. */
export interface ErrorAnswer {
  status: number;
  headers: Record<string, string | number>;
  body: string;
}

/**
 * The answer for `error`. `status` overrides the table (the agent's framing checks pick
 * 400 or 411); `header` names the response header that repeats the code for clients that
 * do not parse the body (`vcs-gateway-error` at the front door, `vcs-agent-error` from the agent).
 */
export function errorAnswer(error: VcsAgentError, options: { status?: number; header?: string; reason?: string } = {}): ErrorAnswer {
  const body = errorBody(error.code, error.message, options.reason);
  const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  if (options.header !== undefined) headers[options.header] = error.code;
  const retryAfter = retryAfterFor(error);
  if (retryAfter !== undefined) headers['retry-after'] = retryAfter;
  return { status: options.status ?? statusForCode(error.code), headers, body };
}

/** The agent's own answer (a denial, an unreachable VCS) as response-head header pairs and body. */
export function agentErrorResponse(code: string, message: string): { headers: string[]; body: Buffer } {
  const body = Buffer.from(errorBody(code, message));
  return { headers: ['content-type', 'application/json', 'content-length', String(body.length), 'vcs-agent-error', code], body };
}
