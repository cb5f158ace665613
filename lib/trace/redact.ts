// Which header values a trace must never show. The agent's connection to the
// gateway carries the pool key and, inside streams, VCS credentials; the
// tracer prints decoded header fields, so anything that may hold a secret is
// replaced before formatting (docs/tracing.md lists the rules).

/** Printed instead of a secret value. */
export const REDACTED = '[redacted]';

const SECRET_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'private-token',
  'x-vcs-agent-key',
]);

// Deny by default: any header or query parameter whose name merely contains
// one of these is treated as secret.
const SECRET_NAME_PARTS = /token|secret|key|passw|credential/i;
// Query parameters get a wider net: signed URLs and OAuth codes travel there.
const SECRET_QUERY_PARTS = /token|secret|key|passw|credential|auth|sig|session|code/i;

/** Whether the whole value of header `name` (lower-case, as in HTTP/2) is secret. */
export function isSecretHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return SECRET_HEADERS.has(lower) || SECRET_NAME_PARTS.test(lower);
}

/**
 * Returns the value to print for a header field: `null` when the whole value
 * must be hidden, otherwise the value with embedded secrets masked (token
 * query parameters in `:path`, user-info in `:authority`/`host`).
 */
export function redactHeaderValue(name: string, value: string): string | null {
  const lower = name.toLowerCase();
  if (isSecretHeader(lower)) return null;
  if (lower === ':path' || lower === 'location' || lower === 'referer' || lower === 'content-location') {
    return redactQuery(value);
  }
  if (lower === ':authority' || lower === 'host') {
    const at = value.lastIndexOf('@');
    return at < 0 ? value : `${REDACTED}@${value.slice(at + 1)}`;
  }
  return value;
}

/** Masks the value of every query parameter whose name looks secret. */
export function redactQuery(target: string): string {
  const q = target.indexOf('?');
  if (q < 0) return target;
  const hash = target.indexOf('#', q);
  const query = hash < 0 ? target.slice(q + 1) : target.slice(q + 1, hash);
  const masked = query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const rawName = eq < 0 ? pair : pair.slice(0, eq);
      let name = rawName;
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' '));
      } catch {
        // A malformed escape: judge the raw name.
      }
      return eq >= 0 && SECRET_QUERY_PARTS.test(name) ? `${rawName}=${REDACTED}` : pair;
    })
    .join('&');
  return target.slice(0, q + 1) + masked + (hash < 0 ? '' : target.slice(hash));
}
