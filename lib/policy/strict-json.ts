/*
 * JSON.parse keeps the last of repeated keys, other parsers the first (and some servers merge
 * them): a body with `"query"` twice means one thing to the agent and possibly another to the
 * VCS. Bodies the policy decides on are therefore parsed strictly: valid JSON (JSON.parse
 * decides that) whose objects, at any depth, name each key once after unescaping
 * (`"\u0071uery"` is `"query"`).
 */

/** Result of {@link parseStrictJson}. */
export type StrictJsonResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly reason: string };

/** Parses `text` as JSON, refusing repeated keys in any object. Never throws. */
export function parseStrictJson(text: string): StrictJsonResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'the body is not JSON' };
  }
  const repeated = findRepeatedKey(text);
  return repeated === undefined ? { ok: true, value } : { ok: false, reason: `the JSON body repeats the key "${repeated.slice(0, 40)}"` };
}

/*
 * A scan over text JSON.parse has already accepted, so only the structure matters: a stack
 * with one key set per open object (null for arrays); a string directly after `{` or `,`
 * inside an object is a key.
 */
// Only these characters change the structure; everything between them is skipped in one step.
const STRUCTURAL = /[{}[\],"]/g;

function findRepeatedKey(text: string): string | undefined {
  const stack: Array<Set<string> | null> = [];
  let expectKey = false;
  STRUCTURAL.lastIndex = 0;
  for (let match = STRUCTURAL.exec(text); match !== null; match = STRUCTURAL.exec(text)) {
    const i = match.index;
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
      expectKey = false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack.length > 0 && stack[stack.length - 1] !== null;
    } else {
      // A string: its end is the next quote not escaped by an odd run of backslashes.
      let end = text.indexOf('"', i + 1);
      for (;;) {
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes++;
        if (backslashes % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      if (expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        const keys = stack[stack.length - 1] as Set<string>;
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
      STRUCTURAL.lastIndex = end + 1;
    }
  }
  return undefined;
}
