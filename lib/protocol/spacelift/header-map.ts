/*
 * Spacelift's protocol carries headers as proto3 `map<string, string>`: one value per
 * name. RFC 9110 §5.3 lets a recipient combine repeated fields into one comma-separated
 * line *except* where the field is not a list, and Set-Cookie (RFC 6265 §3) is the
 * standing exception. So: list-valued repeats are joined with ", " (the documented
 * reduction), and names that cannot be joined are reported so that the caller can refuse
 * the message with a typed error instead of dropping values silently.
 */
const CANNOT_JOIN = new Set(['set-cookie']);

export interface HeaderMapResult {
  /** Lower-cased name → value (repeats joined with ", "). */
  readonly map: Record<string, string>;
  /** Names that appeared more than once and cannot be joined (e.g. `set-cookie`). */
  readonly unjoinable: readonly string[];
}

/** Raw `[name, value, name, value, …]` headers to Spacelift's single-valued map. */
export function rawHeadersToMap(raw: readonly string[]): HeaderMapResult {
  const map: Record<string, string> = Object.create(null) as Record<string, string>;
  const unjoinable: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const value = raw[i + 1] as string;
    const existing = map[name];
    if (existing === undefined) {
      map[name] = value;
    } else if (CANNOT_JOIN.has(name)) {
      if (!unjoinable.includes(name)) unjoinable.push(name);
    } else {
      map[name] = `${existing}, ${value}`;
    }
  }
  return { map, unjoinable };
}

/** Spacelift's header map back to raw `[name, value, …]` (names lower-cased, order as received). */
export function mapToRawHeaders(map: Readonly<Record<string, string>>): string[] {
  const raw: string[] = [];
  for (const name of Object.keys(map)) raw.push(name.toLowerCase(), map[name] as string);
  return raw;
}
