/**
 * Decides once, before any rule is consulted, whether a request target is unambiguous.
 * Anything that two parsers could read differently is rejected, never repaired: the agent
 * forwards exactly the bytes it checked.
 */

/*
 * 8 KiB is the default request-line limit of nginx (`large_client_header_buffers`) and of
 * Tomcat (Bitbucket Data Center); no API call of a supported vendor comes near it.
 */
export const MAX_TARGET_LENGTH = 8192;
/** No supported API nests deeper than ~12 segments; 64 leaves room for deep file paths. */
export const MAX_PATH_SEGMENTS = 64;

/** A request target that passed every check of {@link checkCanonicalTarget}. */
export interface CanonicalTarget {
  /** The path, exactly as received (no query). */
  readonly path: string;
  /** The query without its leading `?`, exactly as received; `''` when there is none. */
  readonly query: string;
  /** The path's segments, raw (still percent-encoded), without the leading empty one. */
  readonly segments: readonly string[];
  /** The same segments percent-decoded (UTF-8). */
  readonly decodedSegments: readonly string[];
}

/** Result of {@link checkCanonicalTarget}: the parsed target, or why it was rejected. */
export type CanonicalTargetResult =
  | { readonly ok: true; readonly target: CanonicalTarget }
  | { readonly ok: false; readonly reason: string };

// Character classes per RFC 3986 §3.3 (pchar) and §3.4 (query), minus what we refuse on
// purpose: `;` (Tomcat and other servlet containers treat it as a path-parameter delimiter).
const PATH_CHAR = new Uint8Array(128);
const QUERY_CHAR = new Uint8Array(128);
{
  const mark = (table: Uint8Array, chars: string): void => {
    for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] = 1;
  };
  const common = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&\'()*+,=:@%';
  mark(PATH_CHAR, common + '/');
  mark(QUERY_CHAR, common + '/?');
}

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[65 + i] = 10 + i;
  HEX[97 + i] = 10 + i;
}

// `fatal` makes the decoder throw on invalid sequences, which includes overlong encodings
// (e.g. %C0%AE for '.') and UTF-16 surrogates (WHATWG Encoding §4.1, UTF-8 decoder).
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// Decoded characters no segment may contain: controls (C0, DEL, C1), format characters
// (zero-width, bidi overrides), line/paragraph separators, any whitespace other than the
// ASCII space, and the backslash that Windows servers (Azure DevOps Server on IIS) treat as `/`.
const BAD_DECODED = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\\;]|[^\S ]/u;
const NON_ASCII = /[^\x00-\x7f]/;
// Characters whose compatibility form (NFKC) is a path delimiter or dot, e.g. U+FF0E
// FULLWIDTH FULL STOP; some servers normalise before routing.
const DELIMITERS = /[./\\]/g;
const countDelimiters = (s: string): number => s.match(DELIMITERS)?.length ?? 0;

const reject = (reason: string): CanonicalTargetResult => ({ ok: false, reason });

function describeChar(code: number): string {
  if (code < 0x20 || code === 0x7f) return `control character 0x${code.toString(16).padStart(2, '0')}`;
  if (code === 0x20) return 'a space';
  if (code > 0x7f) return 'a non-ASCII character (must be percent-encoded)';
  return `'${String.fromCharCode(code)}'`;
}

function checkDecodedPart(part: string, where: string): string | undefined {
  if (part === '') return `${where} contains an empty segment (encoded '/')`;
  if (part === '.' || part === '..') return `${where} contains a dot segment`;
  if (part.charCodeAt(0) === 0x20 || part.charCodeAt(part.length - 1) === 0x20) {
    return `${where} has leading or trailing whitespace`;
  }
  if (BAD_DECODED.test(part)) return `${where} contains a control, whitespace, backslash or ';' character once decoded`;
  if (NON_ASCII.test(part)) {
    const folded = part.normalize('NFKC');
    if (folded !== part && countDelimiters(folded) !== countDelimiters(part)) {
      return `${where} contains a character that normalises to '.', '/' or '\\'`;
    }
  }
  return undefined;
}

/**
 * Percent-decodes one raw segment (already checked for valid `%XX` triplets) as strict UTF-8.
 * Returns `undefined` for invalid or overlong UTF-8.
 */
function decodeSegment(raw: string): string | undefined {
  if (raw.indexOf('%') === -1) return raw;
  const bytes = new Uint8Array(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25) {
      bytes[n++] = (HEX[raw.charCodeAt(i + 1)] as number) * 16 + (HEX[raw.charCodeAt(i + 2)] as number);
      i += 2;
    } else {
      bytes[n++] = c;
    }
  }
  try {
    return UTF8.decode(bytes.subarray(0, n));
  } catch {
    return undefined;
  }
}

/**
 * Checks that `target` is an unambiguous origin-form request target (RFC 9112 §3.2.1) and
 * splits it. Rejected, each with a reason: anything not starting with exactly one `/`
 * (absolute URLs, `//host`, `@host`, `*`), a first segment containing `:` or `@`, targets
 * over {@link MAX_TARGET_LENGTH} characters or {@link MAX_PATH_SEGMENTS} segments, `#`, `\`,
 * `;`, spaces, control characters and NUL (raw or encoded), raw non-ASCII bytes, invalid
 * percent-encoding, double encoding (`%25` in the path), invalid or overlong UTF-8, empty
 * segments (`//`, trailing `/`, encoded `%2F%2F`), dot segments (`.`, `..`, `%2e%2E`, and
 * inside encoded sub-paths such as `a%2F..%2Fb`), whitespace at the edge of a segment, and
 * characters that normalise to `.`, `/` or `\`.
 *
 * Never throws.
 */
export function checkCanonicalTarget(target: string): CanonicalTargetResult {
  if (typeof target !== 'string' || target.length === 0) return reject('request target is empty');
  if (target.length > MAX_TARGET_LENGTH) return reject(`request target is longer than ${MAX_TARGET_LENGTH} characters`);
  if (target.charCodeAt(0) !== 0x2f) return reject('request target is not in origin form (must start with "/")');
  if (target.charCodeAt(1) === 0x2f) return reject('request target starts with "//" (network-path reference)');

  let queryStart = -1;
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    const inQuery = queryStart !== -1;
    if (c === 0x3f && !inQuery) {
      queryStart = i;
      continue;
    }
    if (c === 0x23) return reject("request target contains '#' (fragment)");
    if (c === 0x5c) return reject('request target contains a backslash');
    if (c === 0x3b) return reject("request target contains ';'");
    if (c >= 0x80 || (inQuery ? QUERY_CHAR[c] : PATH_CHAR[c]) !== 1) {
      return reject(`request ${inQuery ? 'query' : 'path'} contains ${describeChar(c)}`);
    }
    if (c === 0x25) {
      const h1 = target.charCodeAt(i + 1);
      const h2 = target.charCodeAt(i + 2);
      if (!(h1 < 128 && HEX[h1] !== -1 && h2 < 128 && HEX[h2] !== -1)) {
        return reject('request target contains invalid percent-encoding');
      }
      const byte = (HEX[h1] as number) * 16 + (HEX[h2] as number);
      if (byte < 0x20 || byte === 0x7f) return reject('request target contains an encoded control character');
      if (!inQuery && byte === 0x25) return reject('request path contains double percent-encoding (%25)');
      i += 2;
    }
  }

  const path = queryStart === -1 ? target : target.slice(0, queryStart);
  const query = queryStart === -1 ? '' : target.slice(queryStart + 1);
  if (path.length === 1) return { ok: true, target: { path, query, segments: [], decodedSegments: [] } };

  const segments = path.slice(1).split('/');
  if (segments.length > MAX_PATH_SEGMENTS) return reject(`request path has more than ${MAX_PATH_SEGMENTS} segments`);
  const decodedSegments: string[] = new Array<string>(segments.length);
  for (let s = 0; s < segments.length; s++) {
    const raw = segments[s] as string;
    if (raw === '') return reject('request path contains an empty segment');
    if (s === 0 && (raw.includes(':') || raw.includes('@'))) {
      return reject("request path's first segment contains ':' or '@' (could be read as a scheme or authority)");
    }
    const decoded = decodeSegment(raw);
    if (decoded === undefined) return reject('request path contains invalid or overlong UTF-8 in percent-encoding');
    decodedSegments[s] = decoded;
    // A decoded segment may hold encoded slashes (GitLab namespaces and file paths);
    // the VCS splits on them, so each part must be as clean as a real segment.
    if (decoded === raw) {
      const problem = checkDecodedPart(raw, 'request path');
      if (problem !== undefined) return reject(problem);
    } else {
      for (const part of decoded.split('/')) {
        const problem = checkDecodedPart(part, 'request path');
        if (problem !== undefined) return reject(problem);
      }
    }
  }
  return { ok: true, target: { path, query, segments, decodedSegments } };
}
