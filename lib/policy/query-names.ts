/*
 * How servers read query parameter names is looser than URLSearchParams: Rack 2 drops
 * leading '[' and ']' and a trailing ']' (`[sudo]` and `sudo]` both mean `sudo`) and reads
 * `a[b]` as a nested key; ASP.NET binds names case-insensitively, accepts `prefix[name]` for
 * `prefix.name`, and falls back to the bare name. A check that compares names exactly is
 * bypassed by any of these spellings, so checks compare this normalised form instead.
 */

/** `[Sudo]` → `sudo`, `searchCriteria[repositoryId]` → `searchcriteria.repositoryid`. */
export function normalizeQueryName(name: string): string {
  return name
    .toLowerCase()
    .replace(/^[[\]]+/, '')
    .replace(/\[([^\]]*)\]/g, '.$1')
    .replace(/[[\]]+$/, '')
    .replace(/\.$/, '');
}

/** Every value of the query parameters whose normalised name is one of `names` (given normalised). */
export function queryValues(query: URLSearchParams, names: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const [name, value] of query) if (names.has(normalizeQueryName(name))) out.push(value);
  return out;
}
