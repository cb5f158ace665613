// GODEBUG, read the way Go programs read it, for the one key the agent
// honours: http2debug (0 = off, 1 = verbose, 2 = verbose plus every frame).

import { InvalidOptionError } from '../errors.js';

/** The GODEBUG settings the agent understands. */
export interface GodebugSettings {
  http2debug: 0 | 1 | 2;
}

/**
 * Parses a GODEBUG value: comma-separated `key=value` pairs; unknown keys are
 * ignored (they may be meant for Go programs sharing the environment).
 * `http2debug` must be `0`, `1` or `2`; anything else, a key that is
 * `http2debug` only once blanks are trimmed, or two different values, is
 * rejected rather than guessed at.
 *
 * @throws InvalidOptionError (option `GODEBUG`) on a bad `http2debug`.
 */
export function parseGodebug(value: string | undefined): GodebugSettings {
  let http2debug: 0 | 1 | 2 = 0;
  let seen: string | null = null;
  if (value === undefined) return { http2debug };
  for (const entry of value.split(',')) {
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    const key = eq < 0 ? entry : entry.slice(0, eq);
    if (key.trim() !== 'http2debug') continue;
    if (key !== 'http2debug') {
      throw new InvalidOptionError('GODEBUG', `GODEBUG: "${entry}" has blanks around the key; expected http2debug=0, 1 or 2`);
    }
    if (eq < 0) {
      throw new InvalidOptionError('GODEBUG', 'GODEBUG: http2debug has no value; expected http2debug=0, 1 or 2');
    }
    const v = entry.slice(eq + 1);
    if (v !== '0' && v !== '1' && v !== '2') {
      throw new InvalidOptionError('GODEBUG', `GODEBUG: http2debug=${JSON.stringify(v.length > 16 ? v.slice(0, 16) + "…" : v)} is not valid; expected 0, 1 or 2`);
    }
    if (seen !== null && seen !== v) {
      throw new InvalidOptionError('GODEBUG', `GODEBUG: http2debug is set twice, to ${seen} and ${v}; set it once`);
    }
    seen = v;
    http2debug = Number(v) as 0 | 1 | 2;
  }
  return { http2debug };
}
