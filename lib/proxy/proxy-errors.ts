import { VcsAgentError } from '../errors.js';

/**
 * The HTTP proxy could not be used: it was unreachable, timed out, or answered the
 * CONNECT request with a status other than 200 (e.g. 403 because its rules deny the
 * destination, 502/503 because it could not reach it).
 */
export class ProxyError extends VcsAgentError {
  /** The proxy as `http://host:port` (never with credentials). */
  readonly proxy: string;
  /** The proxy's answer to CONNECT, when it answered. */
  readonly statusCode: number | undefined;

  constructor(message: string, details: { proxy: string; statusCode?: number; cause?: unknown }) {
    super('VCS_PROXY_FAILED', message, { cause: details.cause });
    this.proxy = details.proxy;
    this.statusCode = details.statusCode;
  }
}

/**
 * The HTTP proxy answered 407 Proxy Authentication Required: it needs credentials and
 * none were given, or it rejected the ones in the proxy URL.
 */
export class ProxyAuthenticationError extends VcsAgentError {
  /** The proxy as `http://host:port` (never with credentials). */
  readonly proxy: string;
  /** Always 407. */
  readonly statusCode = 407;
  /** Whether the proxy URL carried credentials (i.e. they were rejected, not missing). */
  readonly credentialsSent: boolean;

  constructor(message: string, details: { proxy: string; credentialsSent: boolean; cause?: unknown }) {
    super('VCS_PROXY_AUTH_REQUIRED', message, { cause: details.cause });
    this.proxy = details.proxy;
    this.credentialsSent = details.credentialsSent;
  }
}

/**
 * The error for a proxy that answered CONNECT with 407: what to do about it depends on whether
 * the URL in `variable` carried credentials (rejected) or not (missing). Never names them.
 */
export function proxyAuthenticationRequired(shownProxy: string, credentialsSent: boolean, variable: 'HTTPS_PROXY' | 'HTTP_PROXY', cause?: unknown): ProxyAuthenticationError {
  const advice = credentialsSent
    ? `it rejected the user name and password given in ${variable}`
    : `it requires a user name and password; give them in ${variable} as http://user:password@host:port`;
  return new ProxyAuthenticationError(`Proxy ${shownProxy} answered 407 Proxy Authentication Required: ${advice}`, { proxy: shownProxy, credentialsSent, cause });
}

/** An error's message prefixed with its errno code (e.g. `ECONNREFUSED`), for wrapping messages. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code !== undefined && !error.message.includes(code) ? `${code} ${error.message}` : error.message;
  }
  return String(error);
}
