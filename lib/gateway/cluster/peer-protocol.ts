import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { NoAgentError, PoolBusyError, PoolNotFoundError, RequestAbortedError, TunnelStreamError, VcsAgentError } from '../../errors.js';
import { retryAfterFor, statusForCode } from '../../protocol/error-response.js';

/*
 * The link between replicas (docs/scaling.md § Forwarding): one HTTP/2 stream per forwarded
 * request, on one cleartext session per peer (Node's own http2, no new dependency). Why not
 * HTTP/1.1 (node:http or undici with a keep-alive pool): every failure rule needs something
 * only HTTP/2 says. REFUSED_STREAM and GOAWAY's last stream id tell exactly which requests the
 * peer never processed (RFC 9113 §8.7), so those are safe to send elsewhere; RST_STREAM cancels
 * one request without dropping the connection the others share; per-stream flow control gives
 * backpressure without head-of-line blocking; PING finds a peer that froze while its kernel
 * still accepts and ACKs; and interim (1xx) headers with fields carry the "handed" signal. The request and response heads travel as the tunnel's own JSON heads
 * (lib/protocol/frame.ts `RequestHead` / `ResponseHead`) in one header each, so raw headers
 * arrive byte for byte (case, order, repeats), as on the agent tunnel, whatever HTTP/2 would
 * make of them as fields. Bodies are the streams' DATA.
 *
 *   origin → peer   :method POST, :path /forward, vcs-peer-token, vcs-peer-from (the one-hop
 *                   marker: the origin replica), vcs-peer-pool, vcs-peer-head (RequestHead)
 *   peer → origin   102 + vcs-peer-handed {connectionId, agentId}: an agent stream took the
 *                   request (sent before the agent sees it); only then does the origin send
 *                   the body, so a request the peer refused never had a byte of its body read
 *                   final: vcs-peer-head (ResponseHead) + DATA + trailer vcs-peer-end, or
 *                   vcs-peer-error {code, message, refused}: the peer's own answer; `refused`
 *                   means it did not hand the request to an agent and another replica may try
 *
 * A response is whole only with its `vcs-peer-end` trailer. END_STREAM alone does not say it:
 * Node's `Http2Stream.close()` ends the writable side (an END_STREAM) before its RST_STREAM
 * goes out, so a response the peer cut short can arrive looking complete.
 */
export const PEER_PATH = '/forward';
/** The headers of the peer link (the trailer `end` closes a whole response: without it, it was cut short). */
export const PEER_HEADER = {
  token: 'vcs-peer-token',
  from: 'vcs-peer-from',
  pool: 'vcs-peer-pool',
  head: 'vcs-peer-head',
  handed: 'vcs-peer-handed',
  error: 'vcs-peer-error',
  bodyIdle: 'vcs-peer-body-idle-ms',
  end: 'vcs-peer-end',
} as const;
/** Names the replicas reserve for themselves: a caller's request carrying one is never forwarded. */
export const PEER_HEADER_PREFIX = 'vcs-peer-';
/** RFC 2518 §10.1 "Processing": the request was accepted and is being worked on (by an agent). */
export const HANDED_STATUS = 102;

/** Codes a peer answers before handing the request to an agent, which another replica may still serve. */
const REFUSED_CODES: ReadonlySet<string> = new Set(['VCS_NO_AGENT', 'VCS_CLOSED', 'VCS_STORE_UNAVAILABLE']);

/** Whether a peer's own failure `code`, before any agent took the request, lets another replica try. */
export function refusedHere(code: string): boolean {
  return REFUSED_CODES.has(code);
}

/** The peer's own answer about a forwarded request. */
export interface PeerErrorBody {
  code: string;
  message: string;
  refused: boolean;
}

/**
 * JSON that is plain ASCII: HTTP/2 field values may not hold DEL or characters past U+00FF
 * (Node refuses them), which raw header values from `Gateway.request()` may.
 */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** One header's single value, or undefined when it is missing or repeated. */
export function single(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** Whether flat raw headers carry a name the replicas reserve (`vcs-peer-*`). */
export function carriesPeerHeader(rawHeaders: readonly string[]): boolean {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] as string).toLowerCase().startsWith(PEER_HEADER_PREFIX)) return true;
  }
  return false;
}

/** The peer token as a digest, compared in constant time whatever the presented length. */
export class PeerToken {
  private readonly digest: Buffer;

  constructor(token: string) {
    this.digest = createHash('sha256').update(token).digest();
  }

  matches(presented: string | undefined): boolean {
    if (presented === undefined) return false;
    return timingSafeEqual(createHash('sha256').update(presented).digest(), this.digest);
  }
}

/** Answers a forwarded request with the peer's own error (never a body from an agent). */
export function answerPeerError(stream: ServerHttp2Stream, error: VcsAgentError, refused: boolean): void {
  if (stream.destroyed || stream.headersSent) return;
  const body: PeerErrorBody = { code: error.code, message: error.message, refused };
  const retryAfter = retryAfterFor(error);
  stream.respond(
    { ':status': statusForCode(error.code), [PEER_HEADER.error]: asciiJson(body), ...(retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) }) },
    { endStream: true },
  );
}

/** Parses a peer's `vcs-peer-error`; undefined when malformed. */
export function parsePeerError(value: string): PeerErrorBody | undefined {
  try {
    const body = JSON.parse(value) as PeerErrorBody;
    if (typeof body?.code === 'string' && typeof body.message === 'string' && /^VCS_[A-Z_]{1,60}$/.test(body.code)) return { code: body.code, message: body.message.slice(0, 1024), refused: body.refused === true };
  } catch {
    // falls through
  }
  return undefined;
}

/** The error a peer reported, as the class the same failure has on a single replica. */
export function peerErrorToError(body: PeerErrorBody, pool: string): VcsAgentError {
  switch (body.code) {
    case 'VCS_POOL_NOT_FOUND':
      return new PoolNotFoundError(pool);
    case 'VCS_NO_AGENT':
      return new NoAgentError(pool);
    case 'VCS_POOL_BUSY':
      return new PoolBusyError(pool, body.message, 1);
    case 'VCS_STREAM_RESET':
      return new TunnelStreamError(body.message);
    case 'VCS_ABORTED':
      return new RequestAbortedError(body.message);
    default:
      return new VcsAgentError(body.code, body.message);
  }
}
