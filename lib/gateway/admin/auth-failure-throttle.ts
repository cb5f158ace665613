/** How many wrong admin tokens one address may present, and over what window. */
export interface AuthFailureThrottleOptions {
  /** Wrong tokens allowed per address per window (default 10). */
  maxFailures: number;
  /** Length of the window in ms (default 60 000). */
  windowMs: number;
}

/*
 * 10 per minute: an operator who mistypes a token or a script with a stale one hits it
 * rarely, while a guesser gets 14 400 tries a day per address instead of the thousands a
 * second the listener could otherwise answer. The token itself (≥ 16 characters) is what
 * makes guessing hopeless; this keeps a guesser from costing CPU and filling the log.
 */
export const DEFAULT_AUTH_FAILURE_THROTTLE: Readonly<AuthFailureThrottleOptions> = Object.freeze({ maxFailures: 10, windowMs: 60_000 });

/** Addresses tracked at most: past it the oldest entry goes, so a spray of addresses cannot grow memory. */
const MAX_TRACKED = 10_000;

interface Window {
  startedAt: number;
  failures: number;
}

/**
 * Counts wrong admin tokens per remote address in fixed windows. Once an address reaches
 * the limit it is refused (without its token being checked) until its window ends.
 */
export class AuthFailureThrottle {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly options: AuthFailureThrottleOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until `address` may try again, or 0 when it may try now. */
  retryAfterSeconds(address: string): number {
    const window = this.current(address);
    if (window === undefined || window.failures < this.options.maxFailures) return 0;
    return Math.max(1, Math.ceil((window.startedAt + this.options.windowMs - this.now()) / 1000));
  }

  /** Records a wrong token; returns true when this failure reached the limit. */
  fail(address: string): boolean {
    let window = this.current(address);
    if (window === undefined) {
      if (this.windows.size >= MAX_TRACKED) this.windows.delete(this.windows.keys().next().value as string);
      window = { startedAt: this.now(), failures: 0 };
      this.windows.set(address, window);
    }
    window.failures++;
    return window.failures === this.options.maxFailures;
  }

  /** A right token: the address starts afresh. */
  succeed(address: string): void {
    this.windows.delete(address);
  }

  private current(address: string): Window | undefined {
    const window = this.windows.get(address);
    if (window !== undefined && this.now() - window.startedAt >= this.options.windowMs) {
      this.windows.delete(address);
      return undefined;
    }
    return window;
  }
}
