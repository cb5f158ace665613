import type { Http2Session } from 'node:http2';
import { BdpEstimator, type BdpBounds, type WindowSizes } from './bdp-estimator.js';
import { CONNECTION_WINDOW_SIZE, MAX_WINDOW_SIZE, STREAM_WINDOW_SIZE } from './http2-settings.js';

const BOUNDS: BdpBounds = { streamWindow: STREAM_WINDOW_SIZE, connectionWindow: CONNECTION_WINDOW_SIZE, maxWindow: MAX_WINDOW_SIZE };

/** How often the session's byte counters are looked at to start a measurement. */
const POLL_MS = 25;
/*
 * How often once the link has been quiet for QUIET_POLL_AFTER_MS. Every poll is a timer callback
 * and a native byte-counter read: at 25 ms, a gateway holding 1,000 idle agent connections spent
 * ~12 % of a core on nothing else (bench/scale.ts). The price is that a transfer starting on a
 * quiet link is measured up to 250 ms later; until then the base windows carry it (1 MiB per
 * stream per round trip: 25 MiB/s at 40 ms).
 */
const QUIET_POLL_MS = 250;
const QUIET_POLL_AFTER_MS = 1_000;
/** A link quiet for this long goes back to the base windows (the next transfer measures again). */
const IDLE_RESET_MS = 5_000;
/*
 * Less than this arriving between two polls is control traffic, not a transfer: PINGs and their
 * ACKs (17 bytes), WINDOW_UPDATEs (13), the control stream's keepalive pings. Measuring on it
 * tells nothing (a sample grows a window only once half a window arrives in one round trip), and
 * it fed itself: the ACK of one measurement PING started the next, so every idle session on both
 * sides pinged every poll, ~40 PINGs a second each (bench/scale.ts found it at 1,000 connections).
 */
const ACTIVITY_BYTES = 4096;

/*
 * A chunk at least this large on one of the session's streams means a transfer has begun: a
 * quiet session's poll is woken at once (wakeWindows) instead of at its next 250 ms tick, which
 * over a WAN link cost the start of every transfer its window growth (a 256 MiB download at
 * 40 ms RTT fell from 145-150 to 111-129 MiB/s, an upload from 101-131 to 71 MiB/s).
 */
export const WAKE_BYTES = 16 * 1024;

/** How to wake each sized session's poll (see WAKE_BYTES). */
const wakers = new WeakMap<Http2Session, () => void>();

/** A stream of `session` received a chunk of WAKE_BYTES or more: measure now if the link was quiet. */
export function wakeWindows(session: Http2Session | undefined): void {
  if (session !== undefined) wakers.get(session)?.();
}

interface ByteCounters {
  readonly bytesRead?: number;
  readonly bytesWritten?: number;
}

/**
 * Opens the session's receive windows once it is connected (both roles) and keeps them sized
 * to the measured bandwidth-delay product (bdp-estimator.ts). The connection window is only
 * settable after 'connect' (nodejs/node#38427); stream windows change through SETTINGS,
 * which RFC 9113 §6.9.2 applies to open streams as well.
 */
export function openWindows(session: Http2Session): void {
  if (!apply(session, { streamWindow: STREAM_WINDOW_SIZE, connectionWindow: CONNECTION_WINDOW_SIZE }, false)) return;
  // Reading the counters through the session's socket proxy is allowed (only manipulation
  // throws, ERR_HTTP2_NO_SOCKET_MANIPULATION); a socket without them gets fixed windows.
  const socket = session.socket as unknown as ByteCounters | undefined;
  if (typeof socket?.bytesRead !== 'number' || typeof socket.bytesWritten !== 'number') return;
  const estimator = new BdpEstimator(BOUNDS);
  // The path's delay with nothing queued (BdpEstimator.quietSample): measured now, while the
  // session has only just connected, and again whenever the link goes quiet after a transfer.
  const quietPing = (): void => {
    try {
      session.ping((error, durationMs) => {
        if (error === null) estimator.quietSample(durationMs);
      });
    } catch {
      // Too many outstanding pings, or closing: the next quiet spell measures again.
    }
  };
  quietPing();
  let lastRead = socket.bytesRead;
  let quietMs = 0;
  let pinging = false;
  let every = POLL_MS;
  const poll = (): void => {
    if (session.destroyed || session.closed) return clearInterval(timer);
    const read = socket.bytesRead as number;
    const arrived = read - lastRead;
    lastRead = read;
    if (arrived < ACTIVITY_BYTES) {
      quietMs += every;
      // Once quiet for long enough the windows go back to their base (a no-op when already there).
      if (quietMs >= IDLE_RESET_MS) {
        const sizes = estimator.reset();
        if (sizes !== undefined) apply(session, sizes, true);
      }
      if (quietMs >= QUIET_POLL_AFTER_MS && every !== QUIET_POLL_MS) {
        pace(QUIET_POLL_MS);
        quietPing();
      }
      return;
    }
    quietMs = 0;
    pace(POLL_MS);
    if (pinging) return;
    pinging = true;
    const read0 = read;
    const written0 = socket.bytesWritten as number;
    try {
      session.ping((error, durationMs) => {
        pinging = false;
        if (error !== null || session.destroyed) return;
        const sizes = estimator.sample((socket.bytesRead as number) - read0, (socket.bytesWritten as number) - written0, durationMs);
        if (sizes !== undefined) apply(session, sizes, true);
      });
    } catch {
      pinging = false; // too many outstanding pings, or closing: try on the next poll
    }
  };
  let timer = setInterval(poll, every);
  timer.unref();
  const pace = (ms: number): void => {
    if (ms === every) return;
    every = ms;
    clearInterval(timer);
    timer = setInterval(poll, ms);
    timer.unref();
  };
  wakers.set(session, () => {
    if (every === POLL_MS || session.destroyed) return;
    pace(POLL_MS);
    poll();
  });
  session.once('close', () => clearInterval(timer));
}

function apply(session: Http2Session, sizes: WindowSizes, streams: boolean): boolean {
  try {
    session.setLocalWindowSize(sizes.connectionWindow);
    if (streams) session.settings({ initialWindowSize: sizes.streamWindow });
    return true;
  } catch {
    // The session died while connecting, or is closing: its 'close' follows.
    return false;
  }
}
