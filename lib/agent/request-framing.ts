import { repeatedSingletonHeader } from '../policy/vendor-policy.js';

/** Why a request's framing cannot be forwarded as is. */
export interface FramingProblem {
  readonly status: 400 | 411;
  readonly reason: string;
}

/*
 * Node's HTTP client chunks a body that has no Content-Length only for these methods; for
 * GET, DELETE, OPTIONS… it would write the body bytes unframed, and the VCS would read them
 * as the next request on the connection (request smuggling past the allowlist).
 */
const CHUNKED_BY_DEFAULT: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH']);
const DECIMAL = /^[0-9]{1,15}$/;

/**
 * Checks that the request's body and its framing headers agree, so the bytes the agent
 * writes to the VCS parse as exactly one request. Ambiguity is rejected, never repaired
 * (RFC 9112 §6.3: several or non-decimal Content-Length values are an error).
 */
export function checkRequestFraming(method: string, hasBody: boolean, rawHeaders: readonly string[]): FramingProblem | undefined {
  // Whatever policy the agent runs: a header that two readers could take two values of
  // (first-wins, last-wins) is never forwarded.
  const repeated = repeatedSingletonHeader(rawHeaders);
  if (repeated !== undefined) return { status: 400, reason: `The request repeats the header "${repeated}", which may appear only once` };
  let length: string | undefined;
  let lengths = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    if (name === 'content-length') {
      lengths++;
      length = (rawHeaders[i + 1] as string).trim();
    } else if (name === 'transfer-encoding') {
      return { status: 400, reason: 'Transfer-Encoding is a hop-by-hop header and cannot be forwarded' };
    }
  }
  if (lengths > 1) return { status: 400, reason: 'The request has more than one Content-Length' };
  if (length !== undefined && !DECIMAL.test(length)) return { status: 400, reason: 'Content-Length is not a decimal number' };
  if (!hasBody) {
    if (length !== undefined && Number(length) !== 0) return { status: 400, reason: 'Content-Length announces a body the request does not have' };
    return undefined;
  }
  if (length === undefined && !CHUNKED_BY_DEFAULT.has(method)) {
    return { status: 411, reason: `A ${method} request with a body needs a Content-Length` };
  }
  return undefined;
}
