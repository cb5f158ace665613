/*
 * Limits of the gateway's agent listener against a peer that abuses HTTP/2 itself, before
 * or after it authenticated (docs/security.md § "What an agent-side peer may do to the
 * gateway"). Node's http2 and nghttp2 already refuse the worst (CVE-2023-44487 rapid reset
 * accounting in nghttp2 ≥ 1.57, the CONTINUATION cap of CVE-2024-27316's family in
 * nghttp2 ≥ 1.61, ACK-flood detection on the outbound queue); what they leave open is
 * closed here: tighter per-session counters, a deadline for authenticating, and a bound on
 * how many streams a session may open, so an offender is disconnected rather than merely
 * sent a GOAWAY it is free to ignore while keeping the socket.
 */
import type { ServerHttp2Session } from 'node:http2';
import type { Logger } from '../logger.js';
import { MAX_PARALLELISM } from '../protocol/http2-settings.js';
import { destroySession } from '../protocol/session-socket.js';

/**
 * Options for `http2.createServer()` / `createSecureServer()`. Node's defaults are in the
 * comments; a legitimate agent sends well-formed frames, one SETTINGS frame with ≤ 8
 * entries, about a dozen headers on its connect stream and at most one PING at a time.
 */
export const HTTP2_SERVER_LIMITS = Object.freeze({
  /** Malformed frames tolerated per session before it is destroyed (Node: 1000). */
  maxSessionInvalidFrames: 100,
  /** Streams refused (over SETTINGS_MAX_CONCURRENT_STREAMS) per session before it is destroyed (Node: 100). */
  maxSessionRejectedStreams: 50,
  /** Entries per SETTINGS frame (Node: 32; RFC 9113 defines 6 settings, extensions a few more). */
  maxSettings: 16,
  /** Header pairs per header block, pseudo-headers included (Node: 128); over it the stream is reset. */
  maxHeaderListPairs: 64,
  /** PINGs sent by the gateway and not yet acknowledged (Node: 10); the keepalive needs one. */
  maxOutstandingPings: 4,
});

/** How long a connection may stay unauthenticated: an agent opens its connect stream at once. */
export const UNAUTHENTICATED_SESSION_TIMEOUT_MS = 10_000;

/** Streams a connection may open before it authenticated: the connect stream, with slack for a retry. */
export const MAX_UNAUTHENTICATED_STREAMS = 4;

/**
 * Stream opens per session, as a token bucket: a burst of two full sets of tunnel streams
 * (MAX_PARALLELISM each, plus the connect stream) and a refill that replaces streams reset
 * by aborted exchanges far faster than real aborts happen. A peer opening and resetting
 * streams in a loop (CVE-2023-44487) exceeds it within a fraction of a second.
 */
export const STREAM_OPEN_BURST = 2 * (MAX_PARALLELISM + 1);
export const STREAM_OPENS_PER_SECOND = 200;

/*
 * Bytes a connection may send before it authenticated. An agent's preface, SETTINGS and
 * connect-stream headers fit in a few KiB, and MAX_HEADER_LIST_SIZE (256 KiB) bounds what a
 * header block may decode to, so 1 MiB is generous. It catches header blocks nghttp2
 * refuses without a 'stream' event (an HPACK bomb is reset with ENHANCE_YOUR_CALM, and
 * Node 22 does not count those toward maxSessionRejectedStreams as Node 20 does).
 */
export const MAX_UNAUTHENTICATED_BYTES = 1024 * 1024;
/** How often the pre-authentication byte budget is checked (the socket has no per-read event we may hook). */
const UNAUTHENTICATED_BYTES_CHECK_MS = 20;

/** Why the guard closed a session. */
export type SessionGuardReason = 'authentication_timeout' | 'unauthenticated_streams' | 'unauthenticated_bytes' | 'stream_rate';

/**
 * Watches one agent session: destroys it when it has not authenticated within
 * `UNAUTHENTICATED_SESSION_TIMEOUT_MS`, opens more than `MAX_UNAUTHENTICATED_STREAMS` or sends
 * more than `MAX_UNAUTHENTICATED_BYTES` before authenticating, or opens streams faster than the bucket allows. `isAuthenticated` tells
 * whether the gateway accepted its connect stream.
 */
export function guardSession(session: ServerHttp2Session, isAuthenticated: () => boolean, logger: Logger): void {
  const close = (reason: SessionGuardReason): void => {
    if (session.destroyed) return;
    const socket = session.socket;
    logger.warn('agent connection closed: HTTP/2 limits exceeded', {
      reason,
      remoteAddress: `${socket?.remoteAddress ?? '?'}:${socket?.remotePort ?? '?'}`,
    });
    destroySession(session);
  };
  const timer = setTimeout(() => {
    if (!isAuthenticated()) close('authentication_timeout');
  }, UNAUTHENTICATED_SESSION_TIMEOUT_MS);
  timer.unref();
  // Reading the socket proxy's counters is allowed; manipulating the socket is not (Node
  // throws ERR_HTTP2_NO_SOCKET_MANIPULATION). A socket without them goes unchecked here.
  const counters = session.socket as unknown as { readonly bytesRead?: number } | undefined;
  const budget = setInterval(() => {
    if (isAuthenticated() || session.destroyed) clearInterval(budget);
    else if ((counters?.bytesRead ?? 0) > MAX_UNAUTHENTICATED_BYTES) close('unauthenticated_bytes');
  }, UNAUTHENTICATED_BYTES_CHECK_MS);
  budget.unref();
  let unauthenticatedStreams = 0;
  let tokens = STREAM_OPEN_BURST;
  let refilledAt = performance.now();
  session.on('stream', () => {
    if (!isAuthenticated() && ++unauthenticatedStreams > MAX_UNAUTHENTICATED_STREAMS) return close('unauthenticated_streams');
    const now = performance.now();
    tokens = Math.min(STREAM_OPEN_BURST, tokens + ((now - refilledAt) / 1000) * STREAM_OPENS_PER_SECOND);
    refilledAt = now;
    if (--tokens < 0) close('stream_rate');
  });
  session.once('close', () => {
    clearTimeout(timer);
    clearInterval(budget);
  });
}
