import winston from 'winston';
import type { Logger } from '../lib/logger.js';
import { isoTime } from '../lib/util/iso-time.js';
import { LineBatchTransport } from './line-batch-transport.js';

const MESSAGE = Symbol.for('message');

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;

/** Escapes control characters so a logged value can never forge or split a log line. */
function escapeControl(text: string): string {
  // Tested first: almost no value has a control character, and replace() with a callback
  // costs more than the scan (one line per request is on the agent's hot path).
  return CONTROL.test(text) ? text.replace(CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : text;
}

/** What `at` below hands winston: one small object of a fixed shape per line, the caller's fields untouched. */
interface LineInfo {
  level: LogLevel;
  message: string;
  timestamp: string;
  fields: Record<string, unknown> | undefined;
}

const pretty = winston.format.printf((entry) => {
  const { level, message, timestamp, fields } = entry as unknown as LineInfo;
  let line = `${timestamp} ${level.padEnd(5)} ${escapeControl(message)}`;
  if (fields !== undefined) {
    for (const key of Object.keys(fields)) {
      const value: unknown = fields[key];
      line += ` ${key}=${escapeControl(typeof value === 'string' ? value : JSON.stringify(value))}`;
    }
  }
  return line;
});

/*
 * JSON lines, timestamp first. Plain JSON.stringify of the caller's fields, spliced after
 * the line's own keys: fields are plain data (the library logs strings, numbers and flat
 * objects), and this costs one stringify and no copy of the fields per line, against the
 * default format's stable-stringify pass or a spread into a new object (the agent writes
 * one such line per request, tens of thousands a second).
 */
const jsonLine = winston.format((entry) => {
  const { level, message, timestamp, fields } = entry as unknown as LineInfo;
  const head = `{"timestamp":"${timestamp}","level":"${level}","message":${JSON.stringify(message)}`;
  const rest = fields === undefined ? '{}' : JSON.stringify(fields);
  (entry as Record<symbol, unknown>)[MESSAGE] = rest.length > 2 ? `${head},${rest.slice(1)}` : `${head}}`;
  return entry;
});

/** Fields named like the line's own keys would repeat them in the JSON object: they are dropped. */
function withoutOwnKeys(fields: Record<string, unknown>): Record<string, unknown> {
  if (!('timestamp' in fields || 'level' in fields || 'message' in fields)) return fields;
  const { timestamp: _t, level: _l, message: _m, ...rest } = fields;
  return rest;
}

const LEVEL_ORDER: Readonly<Record<LogLevel, number>> = { error: 0, warn: 1, info: 2, debug: 3 };

/**
 * The CLI's logger: JSON lines (one object per line; JSON escapes control characters)
 * or a human format, on stdout. The library only ever sees the `Logger` interface.
 *
 * Built from winston's parts (a logform format and a winston-transport) without a winston
 * Logger in between: a Logger runs every line through two object-mode streams (about 3 KiB
 * of allocations and a few µs per line, with one line per proxied request in each process,
 * docs/performance.md), and its printf-style message handling dropped every field of a line
 * whose message held a token such as "%d", which any caller can put in a request path.
 * Levels are filtered here, so a disabled level costs a comparison.
 */
export interface CliLogger extends Logger {
  /**
   * An info line whose fields are given as the text of one JSON object (a trailing newline is
   * ignored): the gateway's access records, which its access log has serialised already.
   */
  infoJson(message: string, fieldsJson: string): void;
  close(): Promise<void>;
}

export function createCliLogger(options: { format: LogFormat; level: LogLevel; stream?: NodeJS.WritableStream }): CliLogger {
  const transport = new LineBatchTransport(options.stream ?? process.stdout);
  const format = options.format === 'json' ? jsonLine() : pretty;
  // The library may still log while sockets wind down after close(): late lines are dropped.
  let closed = false;
  const threshold = LEVEL_ORDER[options.level];
  const at =
    (level: LogLevel) =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (closed || LEVEL_ORDER[level] > threshold) return;
      const info: LineInfo = { level, message, timestamp: isoTime(), fields: fields === undefined ? undefined : withoutOwnKeys(fields) };
      const line = format.transform(info as unknown as winston.Logform.TransformableInfo);
      if (line !== false) transport.log(line as unknown as Record<string | symbol, unknown>, noop);
    };
  const info = at('info');
  return {
    error: at('error'),
    warn: at('warn'),
    info,
    debug: at('debug'),
    infoJson: (message, fieldsJson) => {
      if (closed || LEVEL_ORDER.info > threshold) return;
      const end = fieldsJson.endsWith('\n') ? fieldsJson.length - 1 : fieldsJson.length;
      if (options.format !== 'json') return info(message, JSON.parse(fieldsJson.slice(0, end)) as Record<string, unknown>);
      // Spliced as jsonLine does, without parsing and serialising the fields again.
      const inner = end > 2 ? `,${fieldsJson.slice(1, end)}` : '}';
      transport.log({ [MESSAGE]: `{"timestamp":"${isoTime()}","level":"info","message":${JSON.stringify(message)}${inner}` } as unknown as Record<string | symbol, unknown>, noop);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      transport.close();
    },
  };
}

function noop(): void {}
