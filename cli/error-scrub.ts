import { escapeLogValue, redactPathForLog } from '../lib/policy/log-sanitize.js';

/** Error codes that describe the operator's configuration, not a bug: never reported. */
const NOT_REPORTED_CODES: ReadonlySet<string> = new Set([
  'VCS_INVALID_OPTION',
  'VCS_INVALID_TOKEN',
  'VCS_AUTH_FAILED',
  'VCS_PROXY_AUTH_REQUIRED',
]);

/** Whether an error is a configuration or credential problem, which is never reported. */
export function isOperatorError(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && NOT_REPORTED_CODES.has(code)) return true;
  return (error as { name?: unknown }).name === 'ConfigError';
}

/*
 * Credential-looking fragments a message might carry even though the library never puts
 * them there on purpose: Authorization values, bearer tokens, token query parameters,
 * user-info in URLs.
 */
const BEARER = /\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi;
const KEY_VALUE = /\b([\w-]*(?:token|secret|passw|key|auth|credential|signature)[\w-]*)(["']?\s*[:=]\s*["']?)[^\s"'&,;]+/gi;

/** Removes secrets from free text: the given exact strings, then credential-looking fragments. */
export function scrubText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('[REDACTED]');
  }
  out = out.replace(BEARER, '$1 [REDACTED]').replace(URL_USERINFO, '$1[REDACTED]@').replace(KEY_VALUE, '$1$2[REDACTED]');
  return escapeLogValue(redactPathForLog(out)).slice(0, 2000);
}

