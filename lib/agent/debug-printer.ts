import { escapeLogValue, looksLikeToken, redactPathForLog, redactSecretsInText } from '../policy/log-sanitize.js';
import { InvalidOptionError } from '../errors.js';
import type { ExchangeDebugEvent } from './agent-stream.js';

/** Printed instead of a secret value. */
export const DEBUG_REDACTED = '[REDACTED]';

/** Options of {@link createDebugPrinter}. */
export interface DebugPrinterOptions {
  /** Receives one line at a time, without newline. */
  write: (line: string) => void;
  /** Bytes of each body (request and response, per exchange) that are printed; the rest is counted (default 4096). */
  maxBodyBytes?: number;
}

/** Headers whose whole value is a credential. */
const SECRET_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'private-token',
  'job-token',
  'cookie',
  'set-cookie',
  'www-authenticate',
  'proxy-authenticate',
]);

// Deny by default: any header whose name merely contains one of these is hidden. A false
// positive costs a debugging detail; a false negative leaks a credential.
const SECRET_HEADER_PARTS = /token|secret|key|passw|auth|credential|session|signature|cookie/i;

/*
 * Bodies are printed, so credentials inside them are masked too: JSON string members and
 * form/query pairs whose name looks secret. Best effort by design (bodies are arbitrary);
 * the printer's purpose is debugging, and it is off by default.
 */
const SECRET_NAME = /token|secret|passw|key|auth|credential|session|signature/i;
// A JSON member whose key may be written with escapes (`"\u0074oken"`), and its value: a
// string (also when the excerpt ends inside it), an array or object (up to its first closing
// bracket or the end of the excerpt), or a bare value.
const JSON_MEMBER = /("((?:[^"\\]|\\.){0,256})"\s*:\s*)("(?:[^"\\]|\\.)*(?:"|\\?$)|\[[^\]]*(?:\]|$)|\{[^}]*(?:\}|$)|[^\s,}\]"]+)/g;
// A form or query pair; the name is compared percent-decoded (`%74oken=` is `token=`).
const FORM_PAIR = /((?:^|[&?;\s])([^&=;\s]{1,256})=)[^&;\s]*/g;

function jsonKeyIsSecret(escaped: string): boolean {
  let key = escaped;
  try {
    key = JSON.parse(`"${escaped}"`) as string;
  } catch {
    return true; // cut inside an escape: hide rather than guess
  }
  return SECRET_NAME.test(key);
}

function formNameIsSecret(raw: string): boolean {
  try {
    return SECRET_NAME.test(decodeURIComponent(raw.replace(/\+/g, ' ')));
  } catch {
    return true;
  }
}

/* A complete JSON body: walked with its keys decoded, secret members and token-shaped values masked. */
function maskFormPairs(text: string): string {
  return text.replace(FORM_PAIR, (pair: string, head: string, name: string) => (formNameIsSecret(name) ? `${head}${DEBUG_REDACTED}` : pair));
}

function redactJsonValue(value: unknown): unknown {
  // A string may itself hold a query or form (`"url": "/x?private_token=…"`).
  if (typeof value === 'string') return looksLikeToken(value) ? DEBUG_REDACTED : maskFormPairs(value);
  if (Array.isArray(value)) return value.map(redactJsonValue);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, member] of Object.entries(value)) out[key] = SECRET_NAME.test(key) ? DEBUG_REDACTED : redactJsonValue(member);
    return out;
  }
  return value;
}

/** Whether the value of header `name` is hidden by `--debug-print-all`. */
export function isDebugSecretHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return SECRET_HEADERS.has(lower) || SECRET_HEADER_PARTS.test(lower);
}

/**
 * Masks credentials in a body excerpt: members and form pairs with secret-looking names
 * (JSON keys compared unescaped, form names percent-decoded; whole arrays and objects under
 * such a key), and token-shaped values under any name (`glpat-…`, `ghp_…`, JWTs, `Bearer …`).
 * A complete JSON body is printed re-serialised, compact.
 */
export function redactBodyText(text: string): string {
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return redactSecretsInText(JSON.stringify(redactJsonValue(JSON.parse(trimmed))));
    } catch {
      // Cut by the excerpt limit, or not JSON: fall back to matching members in the text.
    }
  }
  return redactSecretsInText(maskFormPairs(text.replace(JSON_MEMBER, (member: string, head: string, key: string) => (jsonKeyIsSecret(key) ? `${head}"${DEBUG_REDACTED}"` : member))));
}

/** A URL for printing: no user-info, secret query values masked, controls escaped. */
function printableUrl(url: string): string {
  let shown = url;
  try {
    const parsed = new URL(url);
    if (parsed.username !== '' || parsed.password !== '') {
      parsed.username = '';
      parsed.password = '';
      shown = parsed.href;
    }
  } catch {
    // Not absolute: print as a path.
  }
  return escapeLogValue(redactPathForLog(shown));
}

interface BodyCapture {
  chunks: Buffer[];
  kept: number;
  total: number;
}

interface ExchangeState {
  request: BodyCapture;
  response: BodyCapture;
  requestBodyPrinted: boolean;
}

function emptyCapture(): BodyCapture {
  return { chunks: [], kept: 0, total: 0 };
}

/**
 * The consumer of `TunnelClientOptions.onDebug` for `--debug-print-all`: prints each
 * request (line, headers, body), what is sent to the VCS, and the response (status,
 * headers, body), one line at a time, every line prefixed with the exchange id.
 *
 * Secrets never reach `write`: credential headers (Authorization, Private-Token,
 * Job-Token, Cookie, Set-Cookie, Proxy-Authorization, and any header whose name contains
 * token, secret, key, password, auth…) print as `[REDACTED]`; secret query parameters are
 * masked (`redactPathForLog`); secret-looking JSON members and form pairs in bodies are
 * masked; control characters are escaped. At most `maxBodyBytes` of each body are kept
 * in memory and printed, so a large download costs a bounded amount.
 */
export function createDebugPrinter(options: DebugPrinterOptions): (event: ExchangeDebugEvent) => void {
  if (typeof options.write !== 'function') throw new InvalidOptionError('write', 'The debug printer needs a write(line) function');
  const maxBodyBytes = options.maxBodyBytes ?? 4096;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 0) {
    throw new InvalidOptionError('maxBodyBytes', `Invalid maxBodyBytes ${String(options.maxBodyBytes)}: expected a whole number of bytes, 0 or more`);
  }
  const exchanges = new Map<string, ExchangeState>();
  const write = options.write;

  const stateOf = (id: string): ExchangeState => {
    let state = exchanges.get(id);
    if (state === undefined) {
      state = { request: emptyCapture(), response: emptyCapture(), requestBodyPrinted: false };
      exchanges.set(id, state);
    }
    return state;
  };
  const capture = (body: BodyCapture, chunk: Buffer): void => {
    body.total += chunk.length;
    if (body.kept >= maxBodyBytes) return;
    const part = chunk.subarray(0, maxBodyBytes - body.kept);
    // Copy: the chunk's memory belongs to the stream and may be reused.
    body.chunks.push(Buffer.from(part));
    body.kept += part.length;
  };
  const printHeaders = (prefix: string, headers: readonly string[]): void => {
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const name = headers[i] as string;
      const value = headers[i + 1] as string;
      // Every value may carry a URL (Location, Link, Content-Location…): their user-info and
      // secret query values are masked wherever they appear.
      const shown = isDebugSecretHeader(name) ? DEBUG_REDACTED : escapeLogValue(redactSecretsInText(redactPathForLog(value)));
      write(`${prefix} ${escapeLogValue(name)}: ${shown}`);
    }
  };
  const printBody = (prefix: string, what: string, body: BodyCapture): void => {
    if (body.total === 0) return;
    const text = Buffer.concat(body.chunks).toString('utf8');
    const cut = body.total > body.kept ? ` (first ${body.kept} of ${body.total} bytes)` : ` (${body.total} bytes)`;
    write(`${prefix} ${what} body${cut}: ${escapeLogValue(redactBodyText(text))}`);
  };
  const prefixOf = (id: string): string => `[${escapeLogValue(id.slice(0, 64))}]`;

  return (event: ExchangeDebugEvent): void => {
    const prefix = prefixOf(event.id);
    switch (event.type) {
      case 'request': {
        stateOf(event.id);
        write(`${prefix} > ${escapeLogValue(event.method.slice(0, 32))} ${printableUrl(event.path)}`);
        printHeaders(`${prefix} >`, event.headers);
        break;
      }
      case 'upstream-request': {
        write(`${prefix} >> ${escapeLogValue(event.method.slice(0, 32))} ${printableUrl(event.url)}`);
        printHeaders(`${prefix} >>`, event.headers);
        break;
      }
      case 'request-body':
        capture(stateOf(event.id).request, event.chunk);
        break;
      case 'response': {
        const state = stateOf(event.id);
        printBody(`${prefix} >`, 'request', state.request);
        state.requestBodyPrinted = true;
        write(`${prefix} < ${event.status}`);
        printHeaders(`${prefix} <`, event.headers);
        break;
      }
      case 'response-body':
        capture(stateOf(event.id).response, event.chunk);
        break;
      case 'end': {
        const state = exchanges.get(event.id);
        exchanges.delete(event.id);
        if (state !== undefined) {
          if (!state.requestBodyPrinted) printBody(`${prefix} >`, 'request', state.request);
          printBody(`${prefix} <`, 'response', state.response);
        }
        write(`${prefix} end status=${event.status}${event.error === undefined ? '' : ` error=${escapeLogValue(event.error.slice(0, 500))}`}`);
        break;
      }
    }
  };
}
