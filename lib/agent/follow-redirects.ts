import type { PolicyAllow, PolicyDecision } from '../policy/request-policy.js';

/*
 * Redirect statuses a GET may follow unchanged (RFC 9110 §15.4: 303 turns any method into GET,
 * the others keep it; the agent only follows GETs). 300 and 305 are not redirects to follow.
 */
const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/*
 * Sent to the VCS's own download host only while the origin stays the same: as fetch does on
 * a cross-origin redirect (WHATWG Fetch §4.4 "HTTP-redirect fetch"), credentials are not
 * carried to another origin; codeload URLs carry their own token.
 */
const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set(['authorization', 'private-token', 'job-token', 'cookie']);

/** What the agent does with a VCS response to an allowed request. */
export type RedirectAction =
  | { readonly kind: 'follow'; readonly url: URL; readonly decision: PolicyAllow; readonly headers: string[] }
  | { readonly kind: 'refuse'; readonly status: 403 | 502; readonly code: 'VCS_REDIRECT_DENIED' | 'VCS_TOO_MANY_REDIRECTS'; readonly reason: string };

/**
 * Decides whether the agent follows a VCS response (`status`, raw header pairs `rawHeaders`) itself. `undefined` (pass the response to the
 * caller as is) unless the decision asks for it (`redirects`), the request is a GET, the status
 * is a redirect with a parsable Location, and the policy finds the target on the same VCS.
 * `current` is the URL just requested, `vcs` the agent's VCS URL, `hops` how many redirects
 * this request has followed, `headers` the outbound headers of the first request.
 */
export function redirectAction(
  decision: PolicyDecision | undefined,
  method: string,
  status: number,
  rawHeaders: readonly string[],
  current: URL,
  vcs: URL,
  hops: number,
  headers: readonly string[],
): RedirectAction | undefined {
  if (decision === undefined || !decision.allow || decision.redirects === undefined || method !== 'GET') return undefined;
  if (!REDIRECT_STATUSES.has(status)) return undefined;
  const location = firstHeader(rawHeaders, 'location');
  if (location === undefined || location === '') return undefined;
  let url: URL;
  try {
    url = new URL(location, current);
  } catch {
    return undefined;
  }
  url.hash = '';
  const step = decision.redirects.follow(url, vcs);
  if (step === undefined) return undefined;
  if (!step.follow) return { kind: 'refuse', status: 403, code: 'VCS_REDIRECT_DENIED', reason: step.reason };
  if (hops >= decision.redirects.maxHops) {
    return { kind: 'refuse', status: 502, code: 'VCS_TOO_MANY_REDIRECTS', reason: `The VCS redirected more than ${decision.redirects.maxHops} times` };
  }
  const out: string[] = [];
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i] as string;
    if (name === 'host') out.push(name, url.host);
    else if (step.sameOrigin || !CREDENTIAL_HEADERS.has(name)) out.push(name, headers[i + 1] as string);
  }
  return { kind: 'follow', url: step.url, decision: step.decision, headers: out };
}

/** The first value of header `name` (lower-case) in raw pairs; a repeated Location counts once, as in Node. */
function firstHeader(rawHeaders: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const key = rawHeaders[i] as string;
    if (key.length === name.length && key.toLowerCase() === name) return rawHeaders[i + 1];
  }
  return undefined;
}
