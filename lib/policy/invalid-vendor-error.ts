import { VcsAgentError } from '../errors.js';

/** A vendor definition (built-in, `defineVendor()` input, `--vendor-module` or a rules file) is malformed. */
export class InvalidVendorError extends VcsAgentError {
  /** The field at fault, such as `rules[3].path` or `params.project`. */
  readonly field: string;
  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super('VCS_INVALID_VENDOR', message, options);
    this.field = field;
  }
}
