/*
 * Receive windows that follow the bandwidth-delay product, measured the way gRPC measures it
 * (grpc-go internal/transport/bdp_estimator.go): while data arrives, one HTTP/2 PING at a time
 * measures a round trip and counts the bytes that arrived during it. When that count reaches
 * half the window, the window is what limits the transfer, and it grows to twice the
 * bandwidth-delay product (eight times on links with a real round trip, below), up to a bound.
 *
 * The delay in that product is the smallest round trip seen lately, not the sample's own (as
 * BBR separates the path's propagation delay from queueing). A round trip stretched by data
 * queued in the peers' own buffers is not more path to fill: on loopback, pings queued behind
 * bulk data took milliseconds, and gRPC's rule then grew the windows there too, which
 * reintroduced the full-duplex deadlock. Node stops reading a socket while one of its writes
 * is pending, so two peers that may each have more in flight than the socket buffers hold can
 * both block in a write with neither reading (32/64 MiB windows deadlocked 4×64 MiB echoed
 * both ways; spec/end-to-end/full-duplex.spec.ts). With the minimum RTT, a link whose base
 * windows already cover its BDP never grows them.
 *
 * As a second guard, a sample that shows bulk data leaving as well as arriving puts the
 * windows back to their base sizes: windows grow for one-way bulk (a clone, an archive, an
 * upload) on links with a real round trip.
 */

/** Bounds of an estimator: the base windows (never less) and the largest window it grants. */
export interface BdpBounds {
  /** Base per-stream window (SETTINGS_INITIAL_WINDOW_SIZE). */
  readonly streamWindow: number;
  /** Base connection window. */
  readonly connectionWindow: number;
  /** Largest per-stream and connection window the estimator grants. */
  readonly maxWindow: number;
}

/** The windows to apply after a sample. */
export interface WindowSizes {
  readonly streamWindow: number;
  readonly connectionWindow: number;
}

/*
 * Window-limited at half the window, not gRPC's 2/3: nghttp2 returns credit only once half a
 * window has been consumed (nghttp2_should_send_window_update), so a sender the window holds
 * back has between half and all of it in flight; at 2/3 growth often stalled on a 40 ms link.
 * The minimum-RTT product, not this threshold, is what stops growth.
 */
const WINDOW_LIMITED_SHARE = 0.5;

/** How many round trips the minimum is taken over (a path that got longer is seen within these). */
const RTT_HISTORY = 16;

/** Bulk both ways: what was sent during the RTT is at least this share of what arrived. */
const DUPLEX_SHARE = 0.25;

/*
 * On links with a real round trip (a minimum RTT of at least REAL_LINK_RTT_MS) a window-limited
 * sample grows the window to SLOW_START_BDPS times the BDP, the way TCP's slow start doubles its
 * window every round trip rather than creeping towards the path's capacity. On loopback and LANs
 * twice the BDP alone decides, as gRPC's rule does.
 *
 * Why more than twice: the receiver holds credit back. nghttp2 returns credit only once half a
 * window has been consumed, and queues one WINDOW_UPDATE at a time (session_update_consumed_size
 * skips while one is queued), so after a burst up to half a window can stay unreturned for a
 * whole round trip, and a transfer can settle with half its window in flight and the other half
 * withheld. Measured through a 40 ms link, plain node:http2 moved exactly half its window per
 * round trip whenever the sender's write sizes were not multiples of 16 KiB (the DATA frame
 * size), and so did the tunnel, whose body frames add a 5-byte header to each chunk
 * (docs/performance.md § Run 12): twice the BDP then equals the window, and growth stopped.
 * Run 12's fix, twice the BDP plus the half window, grew 1.5× per sample (a sample taking 50-65
 * ms at 40 ms RTT): 1 MiB took nine samples, 0.56 s, to reach the 32 MiB bound, and a 32 MiB
 * download spent most of its time below the rate it ended at. At 8 BDPs (4× per sample while half
 * the window arrives) it takes three; with BENCH_WAN_MIB=32, alternating runs of both builds:
 * GET 62-67 → 77-87 MiB/s, upload 61-67 → 77-80 (docs/performance.md § Run 16).
 *
 * It is the BDP, the minimum-RTT product, that is multiplied, not the window: a round trip
 * stretched by queueing (a small BDP) does not grow it, and growth stops at the first sample
 * under half the window. The cost is overshoot: up to 8 BDPs of credit, within the bound, that a
 * caller who stops reading may leave buffered at the receiver.
 *
 * 10 ms, not less: under the bench's load the smallest of 16 round trips on loopback reached
 * 4.9 ms (pings queued behind bulk data), and at 2 ms run 12's allowance grew loopback windows
 * to 8 MiB.
 */
const REAL_LINK_RTT_MS = 10;
const SLOW_START_BDPS = 8;

export class BdpEstimator {
  private window: number;
  private rttMs = 0;
  private samples = 0;
  /** The latest round trips, for the minimum (the path's delay without queueing). */
  private readonly recentRtts: number[] = [];
  /*
   * The smallest round trip measured while the link was quiet (quietSample): the path's delay
   * with nothing queued at all. Every sample is taken while data arrives, so on a busy machine
   * all sixteen recent ones can be queueing: loopback pings behind bulk data took 10-30 ms while
   * both peers were descheduled, which read as a real link, grew the windows 8 BDPs at a time to
   * the 32 MiB bound, and deadlocked the full-duplex echo (spec/end-to-end/full-duplex.spec.ts
   * stalled in 3 of 6 runs, until the gateway's keepalive closed the connection 40 s later).
   */
  private quietRttMs = Number.POSITIVE_INFINITY;

  constructor(readonly bounds: BdpBounds) {
    if (!(bounds.streamWindow > 0 && bounds.connectionWindow >= bounds.streamWindow && bounds.maxWindow >= bounds.connectionWindow)) {
      throw new RangeError('BDP bounds must satisfy 0 < streamWindow <= connectionWindow <= maxWindow');
    }
    this.window = bounds.streamWindow;
  }

  /** The windows in force now. */
  get sizes(): WindowSizes {
    return { streamWindow: this.window, connectionWindow: Math.max(this.bounds.connectionWindow, this.window) };
  }

  /** Smoothed round trip in ms (0 before the first sample). */
  get rtt(): number {
    return this.rttMs;
  }

  /** A PING round trip measured while no data was flowing: the path's delay, a bound on every sample's. */
  quietSample(rttMs: number): void {
    if (rttMs >= 0) this.quietRttMs = Math.min(this.quietRttMs, Math.max(rttMs, 0.01));
  }

  /**
   * One PING round trip of `rttMs` during which `received` bytes arrived and `sent` bytes
   * left. Returns the new windows when they change, else undefined.
   */
  sample(received: number, sent: number, rttMs: number): WindowSizes | undefined {
    const rtt = Math.max(rttMs, 0.01);
    // Average the first ten, then an exponential moving average (alpha 0.1, like gRPC).
    this.samples++;
    this.rttMs = this.samples <= 10 ? this.rttMs + (rtt - this.rttMs) / this.samples : this.rttMs * 0.9 + rtt * 0.1;
    this.recentRtts.push(rtt);
    if (this.recentRtts.length > RTT_HISTORY) this.recentRtts.shift();
    const floor = this.bounds.streamWindow / 4;
    if (received >= floor && sent >= floor && sent >= received * DUPLEX_SHARE) return this.reset();
    if (received < this.window * WINDOW_LIMITED_SHARE) return undefined;
    const minRtt = Math.min(this.quietRttMs, ...this.recentRtts);
    const bdp = (received / rtt) * minRtt;
    const next = Math.min(this.bounds.maxWindow, Math.ceil((minRtt >= REAL_LINK_RTT_MS ? SLOW_START_BDPS : 2) * bdp));
    if (next <= this.window) return undefined;
    this.window = next;
    return this.sizes;
  }

  /** Back to the base windows (full duplex, or the link went quiet); undefined when already there. */
  reset(): WindowSizes | undefined {
    if (this.window === this.bounds.streamWindow) return undefined;
    this.window = this.bounds.streamWindow;
    return this.sizes;
  }
}
