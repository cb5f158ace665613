/*
 * Receive windows that follow the bandwidth-delay product, as gRPC sizes them (grpc-go
 * internal/transport/bdp_estimator.go): while data arrives, one HTTP/2 PING at a time
 * measures a round trip and counts the bytes that arrived during it. That count is what the
 * link delivered in one RTT; when it reaches 2/3 of the window, the window is what limits
 * the transfer, and it doubles to twice the sample, as long as the measured bandwidth still
 * rises (a growing RTT from queueing, "bufferbloat", does not count as more bandwidth).
 *
 * Full duplex is the exception. Node stops reading a socket while one of its writes is
 * pending, so two peers that may each have more in flight than the socket buffers hold can
 * both block in a write with neither reading: 32/64 MiB windows deadlocked 4×64 MiB echoed
 * both ways (docs/performance.md). A sample that shows bulk data leaving as well as
 * arriving therefore puts the window back to its base size, whose worst case the full-duplex
 * spec proves, and windows only grow for one-way bulk (a clone, an archive, an upload).
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

/** Bulk both ways: what was sent during the RTT is at least this share of what arrived. */
const DUPLEX_SHARE = 0.25;

export class BdpEstimator {
  private window: number;
  private bandwidthMax = 0;
  private rttMs = 0;
  private samples = 0;

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

  /**
   * One PING round trip of `rttMs` during which `received` bytes arrived and `sent` bytes
   * left. Returns the new windows when they change, else undefined.
   */
  sample(received: number, sent: number, rttMs: number): WindowSizes | undefined {
    const rtt = Math.max(rttMs, 0.01);
    // Average the first ten, then an exponential moving average (alpha 0.1, like gRPC).
    this.samples++;
    this.rttMs = this.samples <= 10 ? this.rttMs + (rtt - this.rttMs) / this.samples : this.rttMs * 0.9 + rtt * 0.1;
    const floor = this.bounds.streamWindow / 4;
    if (received >= floor && sent >= floor && sent >= received * DUPLEX_SHARE) return this.reset();
    if (received < (this.window * 2) / 3) return undefined;
    const bandwidth = received / this.rttMs;
    if (bandwidth <= this.bandwidthMax) return undefined;
    this.bandwidthMax = bandwidth;
    const next = Math.min(this.bounds.maxWindow, Math.max(this.window, Math.ceil(2 * received)));
    if (next <= this.window) return undefined;
    this.window = next;
    return this.sizes;
  }

  /** Back to the base windows (full duplex, or the link went quiet); undefined when already there. */
  reset(): WindowSizes | undefined {
    this.bandwidthMax = 0;
    if (this.window === this.bounds.streamWindow) return undefined;
    this.window = this.bounds.streamWindow;
    return this.sizes;
  }
}
