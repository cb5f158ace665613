import { InvalidOptionError } from '../errors.js';

/** Reconnect delays: exponential with full jitter, capped, reset after a healthy period. */
export interface BackoffOptions {
  /** First delay ceiling (default 500 ms). */
  initialDelayMs?: number;
  /** Largest delay for network failures (default 30 000 ms). */
  maxDelayMs?: number;
  /** Largest delay after the gateway refused the credentials (default 300 000 ms). */
  maxAuthDelayMs?: number;
  /** A connection that lived this long resets the sequence (default 60 000 ms). */
  healthyAfterMs?: number;
  /** Random source in [0, 1), replaceable in tests. */
  random?: () => number;
}

/*
 * Full jitter (delay = random(0, min(cap, base·2^n))) spreads a whole fleet of agents
 * across the window after a gateway restart instead of synchronising their retries —
 * the reconnect storm a fixed 5 s redial produces.
 */
export class Backoff {
  private attempt = 0;
  private connectedAt = 0;
  private readonly initial: number;
  private readonly max: number;
  private readonly maxAuth: number;
  private readonly healthyAfter: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.initial = check(options.initialDelayMs, 500, 'reconnect.initialDelayMs');
    this.max = check(options.maxDelayMs, 30_000, 'reconnect.maxDelayMs');
    this.maxAuth = check(options.maxAuthDelayMs, 300_000, 'reconnect.maxAuthDelayMs');
    this.healthyAfter = check(options.healthyAfterMs, 60_000, 'reconnect.healthyAfterMs');
    this.random = options.random ?? Math.random;
  }

  /** Records a successful connection. */
  succeeded(): void {
    this.connectedAt = Date.now();
  }

  /** A delay in [0, initial delay): spreads redials that have a shared cause (GOAWAY). */
  jitter(): number {
    return Math.floor(this.random() * this.initial);
  }

  /** The delay before the next attempt. */
  next(authFailure = false): number {
    if (this.connectedAt !== 0 && Date.now() - this.connectedAt >= this.healthyAfter) this.attempt = 0;
    this.connectedAt = 0;
    const cap = authFailure ? this.maxAuth : this.max;
    const ceiling = Math.min(cap, this.initial * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.floor(this.random() * ceiling);
  }
}

function check(value: number | undefined, fallback: number, option: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new InvalidOptionError(option, `Invalid ${option}: expected a positive number of milliseconds`);
  return value;
}
