import { VcsAgentError } from '../../errors.js';

/** An admin API call without a valid admin bearer token (HTTP 401). */
export class AdminUnauthorizedError extends VcsAgentError {
  constructor() {
    super('VCS_ADMIN_UNAUTHORIZED', 'A valid admin bearer token is required (Authorization: Bearer <admin token>)');
  }
}

/** No admin endpoint at that path (HTTP 404), as opposed to an unknown pool (`VCS_POOL_NOT_FOUND`). */
export class AdminRouteNotFoundError extends VcsAgentError {
  constructor(path: string) {
    super('VCS_ADMIN_NOT_FOUND', `No admin endpoint at ${path.slice(0, 200)}`);
  }
}

/** The endpoint exists but not with that method (HTTP 405). */
export class AdminMethodNotAllowedError extends VcsAgentError {
  constructor(
    method: string,
    readonly allowed: readonly string[],
  ) {
    super('VCS_ADMIN_METHOD_NOT_ALLOWED', `Method ${method.slice(0, 20)} is not allowed here: expected ${allowed.join(' or ')}`);
  }
}

/** A request body that is not a JSON object, too large, or not declared as JSON (HTTP 400, 413 or 415). */
export class AdminBodyError extends VcsAgentError {
  constructor(
    readonly status: 400 | 413 | 415,
    message: string,
  ) {
    super('VCS_ADMIN_BAD_BODY', message);
  }
}

/** Too many wrong admin tokens from this address lately (HTTP 429 with `Retry-After`). */
export class AdminRateLimitedError extends VcsAgentError {
  constructor(readonly retryAfterSeconds: number) {
    super('VCS_ADMIN_RATE_LIMITED', `Too many wrong admin tokens from this address: try again in ${retryAfterSeconds} s`);
  }
}
