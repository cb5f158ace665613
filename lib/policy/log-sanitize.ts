/*
 * Helpers that make request-derived values safe to put in a log line: no forged lines,
 * no terminal escapes, no credentials.
 */

// C0/C1 controls, DEL, line/paragraph separators and bidi controls (Trojan Source,
// CVE-2021-42574) — everything that can break a line or change how a terminal renders it.
const NEEDS_ESCAPE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\\]/;
const ESCAPE_ALL = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\\]/g;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\' };

function escapeOne(ch: string): string {
  const named = NAMED[ch];
  if (named !== undefined) return named;
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * Escapes control characters (C0, DEL, C1), line/paragraph separators and bidi controls as
 * `\n`, `\xHH` or `\uHHHH`, and doubles backslashes so the escaping cannot be forged.
 * Other text is returned unchanged (the common case allocates nothing).
 */
export function escapeLogValue(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  return s.replace(ESCAPE_ALL, escapeOne);
}

/** Query parameter names whose values are credentials or signatures (compared lower-case). */
export const SECRET_QUERY_PARAMS: ReadonlySet<string> = new Set([
  'private_token',
  'access_token',
  'job_token',
  'token',
  'refresh_token',
  'id_token',
  'sig',
  'signature',
  'x-amz-signature',
  'x-amz-credential',
  'x-amz-security-token',
  'key',
  'api_key',
  'apikey',
  'api-key',
  'password',
  'passwd',
  'secret',
  'client_secret',
  'code',
  'auth',
  'authorization',
  'jwt',
  'session',
  'sessionid',
  'jsessionid',
]);

// Anything that merely looks like a credential is redacted too: a false positive costs a
// log detail, a false negative leaks a token.
const SECRET_LIKE = /token|secret|passw|signature|credential|api[-_]?key|auth/i;

/** Longest path we log; longer ones are cut and marked, so one request cannot flood a log. */
export const MAX_LOGGED_PATH = 2048;

function isSecretName(rawName: string): boolean {
  let name = rawName;
  if (name.includes('%') || name.includes('+')) {
    try {
      name = decodeURIComponent(name.replace(/\+/g, ' '));
    } catch {
      return true; // undecodable name: redact rather than guess
    }
  }
  const lower = name.trim().toLowerCase();
  return SECRET_QUERY_PARAMS.has(lower) || SECRET_LIKE.test(lower);
}

/**
 * Returns `path` (a request target, query included) with the value of every secret query
 * parameter (`private_token`, `access_token`, `token`, `sig`, … and any name containing
 * "token", "secret", "auth", …) replaced by `[REDACTED]`, including parameters after `;`
 * or `#`, and cut to {@link MAX_LOGGED_PATH} characters. It does not escape control
 * characters: pass the result through {@link escapeLogValue}.
 */
export function redactPathForLog(path: string): string {
  let target = path.length > MAX_LOGGED_PATH ? `${path.slice(0, MAX_LOGGED_PATH)}…[truncated]` : path;
  const start = target.search(/[?#;]/);
  if (start === -1) return target;
  // Split on every parameter delimiter while keeping them, so values stay in place.
  const head = target.slice(0, start);
  const tail = target.slice(start);
  const parts = tail.split(/([?#;&])/);
  for (let i = 2; i < parts.length; i += 2) {
    const pair = parts[i] as string;
    const eq = pair.indexOf('=');
    if (eq === -1) continue;
    if (isSecretName(pair.slice(0, eq))) parts[i] = `${pair.slice(0, eq)}=[REDACTED]`;
  }
  target = head + parts.join('');
  // Credentials inside a value (`?url=https://user:pass@host/`, plain or percent-encoded).
  return target.replace(USERINFO_IN_URL, '$1[REDACTED]$2');
}

/** `scheme://user:pass@` (also `%3A%2F%2F…%40`) anywhere in a string: the user-info part. */
const USERINFO_IN_URL = /(:\/\/|%3A%2F%2F)[^/?#@\s]*?(@|%40)/gi;

/**
 * Masks what looks like a credential inside free text (header values, body excerpts):
 * URL user-info, secret query values of any URL in it, and `Bearer …`/`Basic …`/`token …`
 * values. Best effort by design: for text the agent does not interpret.
 */
export function redactSecretsInText(text: string): string {
  return text
    .replace(URL_IN_TEXT, (url) => redactPathForLog(url))
    .replace(USERINFO_IN_URL, '$1[REDACTED]$2')
    .replace(SCHEME_CREDENTIAL, '$1 [REDACTED]')
    .replace(TOKEN_SHAPES, '[REDACTED]');
}

/*
 * Values that are credentials by their shape, whatever name they appear under: GitLab tokens
 * (`glpat-`, and the other `gl…-` prefixes: deploy, runner, CI job, feed, OAuth…), GitHub
 * (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`), Bitbucket Data Center HTTP access
 * tokens (`BBDC-…`, and the older bare 44-character base64 form, mixing digits and both cases), Azure DevOps PATs (52
 * characters of lower-case base32, or the 84-character form with `AZDO` at offset 76) and JWTs
 * (three base64url parts, the first two JSON objects: `eyJ…`).
 */
export const TOKEN_SHAPES =
  /\bgl[a-z]{2,7}-[A-Za-z0-9_-]{20,}|\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{22,}|\bBBDC-[A-Za-z0-9+/=_-]{20,}|(?<![A-Za-z0-9+/_-])(?=[A-Za-z0-9+/]{0,43}[0-9])(?=[A-Za-z0-9+/]{0,43}[A-Z])(?=[A-Za-z0-9+/]{0,43}[a-z])[A-Za-z0-9+/]{43}[A-Za-z0-9+/=](?![A-Za-z0-9+/=_-])|(?<![A-Za-z0-9])(?:[a-z2-7]{52}|[A-Za-z0-9]{76}AZDO[A-Za-z0-9]{4})(?![A-Za-z0-9])|\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;

/** Whether `value` contains something shaped like a credential (see {@link TOKEN_SHAPES}). */
export function looksLikeToken(value: string): boolean {
  TOKEN_SHAPES.lastIndex = 0;
  const found = TOKEN_SHAPES.test(value);
  TOKEN_SHAPES.lastIndex = 0;
  return found;
}

const URL_IN_TEXT = /[a-z][a-z0-9+.-]*:\/\/[^\s<>"'`]+/gi;
const SCHEME_CREDENTIAL = /\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{6,}/gi;
