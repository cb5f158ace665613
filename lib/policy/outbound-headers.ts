import { HOP_BY_HOP_HEADERS } from '../protocol/hop-by-hop.js';

/**
 * Request headers the agent forwards to the VCS (lower-case). Everything else is dropped:
 * the set is built from what is needed, not by deleting what is known to be dangerous.
 * Deliberately absent: Host (set from the target), Forwarded / X-Forwarded-* / X-Real-IP
 * (would let the caller spoof its origin), X-HTTP-Method-Override and friends (would turn an
 * allowed GET into a DELETE on Rails/Grape and ASP.NET), GitLab `Sudo` (impersonation), Cookie
 * (session riding), and every hop-by-hop header.
 */
export const FORWARDED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  'accept',
  'accept-encoding',
  'accept-language',
  'authorization',
  'cache-control',
  'content-encoding',
  'content-length',
  'content-type',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-unmodified-since',
  'pragma',
  'range',
  'user-agent',
  'x-request-id',
  // Git smart HTTP protocol v2 negotiation (gitprotocol-http; docs/git.md).
  'git-protocol',
  // GitLab personal/project/CI tokens.
  'private-token',
  'job-token',
  // GitHub REST versioning (https://docs.github.com/rest/about-the-rest-api/api-versions).
  'x-github-api-version',
  // Bitbucket Data Center XSRF opt-out required on some POSTs.
  'x-atlassian-token',
  // azure-devops-node-api session/auth negotiation headers.
  'x-tfs-fedauthredirect',
  'x-tfs-session',
  'x-vss-forcemsapassthrough',
]);

// RFC 9110 §5.6.2 token characters; RFC 9110 §5.5 field values: visible ASCII, space, tab and
// obs-text (0x80-0xFF). Anything else (other controls, code points above 0xFF) Node refuses
// to send, which would fail the request inside the agent; such a header is dropped instead.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * Builds the header list for the request to the VCS from the caller's raw header pairs
 * `[name, value, name, value, …]`: keeps only {@link FORWARDED_REQUEST_HEADERS} (names
 * lower-cased, repeated headers kept in order), drops hop-by-hop headers and any header named
 * in `Connection` (RFC 9110 §7.6.1), drops malformed names and values, and puts
 * `host: <target.host>` first. Returns flat raw pairs.
 */
export function buildOutboundHeaders(rawHeaders: readonly string[], target: URL): string[] {
  let connectionNamed: Set<string> | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (String(rawHeaders[i]).toLowerCase() === 'connection') {
      connectionNamed ??= new Set();
      for (const token of String(rawHeaders[i + 1]).split(',')) connectionNamed.add(token.trim().toLowerCase());
    }
  }
  const out: string[] = ['host', target.host];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = String(rawHeaders[i]);
    const value = String(rawHeaders[i + 1]);
    const lower = name.toLowerCase();
    if (!FORWARDED_REQUEST_HEADERS.has(lower)) continue;
    if (HOP_BY_HOP_HEADERS.has(lower) || connectionNamed?.has(lower)) continue;
    if (!TOKEN.test(name) || BAD_VALUE.test(value)) continue;
    out.push(lower, value);
  }
  return out;
}
