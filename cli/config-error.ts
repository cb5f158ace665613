/**
 * A user's mistake on the command line or in the environment: printed as one line naming
 * the flag and variable, never with a stack trace, and exits with code 2.
 */
export class ConfigError extends Error {
  readonly code = 'VCS_INVALID_OPTION';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
