/** Process exit codes of both command lines (docs/configuration.md § Exit codes). */
export const ExitCode = {
  /** Stopped cleanly (including after draining on SIGTERM/SIGINT). */
  Ok: 0,
  /** A runtime failure: the gateway or the VCS failed in a way retrying did not fix. */
  Failure: 1,
  /** Bad configuration: a flag, variable or file has a wrong value. Nothing was started. */
  Config: 2,
  /** The gateway refused the pool credentials, or the proxy answered 407, at start-up. */
  AuthRefused: 3,
} as const;

/*
 * Not in the table above: a second SIGINT/SIGTERM during a drain exits at once with the
 * shell convention 128 + signal number (130 for SIGINT, 143 for SIGTERM).
 */
