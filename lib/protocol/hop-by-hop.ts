/*
 * Connection-specific headers (RFC 9110 §7.6.1, RFC 9113 §8.2.2) that never cross a hop:
 * they describe one connection, not the message. HTTP/2 forbids them outright.
 */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/*
 * The lengths of the names above: a header whose name has another length is none of them,
 * which spares lower-casing (a new string for every mixed-case name) on every request's
 * every header. Runs twice per proxied request, once on each relay.
 */
const HOP_BY_HOP_LENGTHS: ReadonlySet<number> = new Set([...HOP_BY_HOP_HEADERS].map((name) => name.length));
const CONNECTION_LENGTH = 'connection'.length;

/** Copies flat raw header pairs, leaving out hop-by-hop headers and any named in `Connection`. */
export function stripHopByHop(rawHeaders: readonly string[], extra?: ReadonlySet<string>): string[] {
  let connectionNamed: Set<string> | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === CONNECTION_LENGTH && name.toLowerCase() === 'connection') {
      connectionNamed ??= new Set();
      for (const token of (rawHeaders[i + 1] as string).split(',')) connectionNamed.add(token.trim().toLowerCase());
    }
  }
  const everyName = connectionNamed !== undefined || extra !== undefined;
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (everyName || HOP_BY_HOP_LENGTHS.has(name.length)) {
      const lower = name.toLowerCase();
      if (HOP_BY_HOP_HEADERS.has(lower) || connectionNamed?.has(lower) || extra?.has(lower)) continue;
    }
    out.push(name, rawHeaders[i + 1] as string);
  }
  return out;
}
