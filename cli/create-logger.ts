import winston from 'winston';
import type { Logger } from '../lib/logger.js';
import { LineBatchTransport } from './line-batch-transport.js';

const MESSAGE = Symbol.for('message');

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Escapes control characters so a logged value can never forge or split a log line. */
function escapeControl(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const pretty = winston.format.printf((info) => {
  const { level, message, timestamp, ...fields } = info as Record<string, unknown> & { level: string; message: unknown; timestamp?: string };
  const extra = Object.entries(fields)
    .filter(([key]) => typeof key === 'string')
    .map(([key, value]) => `${key}=${escapeControl(typeof value === 'string' ? value : JSON.stringify(value))}`)
    .join(' ');
  return `${timestamp ?? ''} ${level.padEnd(5)} ${escapeControl(String(message))}${extra === '' ? '' : ` ${extra}`}`;
});

/*
 * JSON lines, timestamp first (the order `at` below builds the object in). Plain
 * JSON.stringify: fields are plain data (the library logs strings, numbers and flat
 * objects), several times cheaper per line than the default format's stable-stringify pass
 * at tens of thousands of lines a second. Symbol keys (winston's own) are not serialised.
 */
const jsonLine = winston.format((info) => {
  (info as Record<symbol, unknown>)[MESSAGE] = JSON.stringify(info);
  return info;
});

const LEVEL_ORDER: Readonly<Record<LogLevel, number>> = { error: 0, warn: 1, info: 2, debug: 3 };

/**
 * The CLI's logger: JSON lines (one object per line; JSON escapes control characters)
 * or a human format, on stdout. The library only ever sees the `Logger` interface.
 */
export function createCliLogger(options: { format: LogFormat; level: LogLevel; stream?: NodeJS.WritableStream }): Logger & { close(): Promise<void> } {
  const transport = new LineBatchTransport(options.stream ?? process.stdout);
  const logger = winston.createLogger({
    level: options.level,
    format: options.format === 'json' ? jsonLine() : pretty,
    transports: [transport],
  });
  // The library may still log while sockets wind down after close(); winston would then
  // throw "write after end" from a stream that is gone. Late lines are dropped instead.
  let closed = false;
  logger.on('error', () => {});
  const threshold = LEVEL_ORDER[options.level];
  const at =
    (level: LogLevel) =>
    (message: string, fields?: Record<string, unknown>): void => {
      // Disabled levels cost a comparison, not a trip through winston's streams.
      if (closed || LEVEL_ORDER[level] > threshold) return;
      // One object, handed to winston's one-argument log(): its other forms scan the message
      // for printf tokens, and a message with one (a request path holding "%d", which any
      // caller can send) made winston drop every field of the line, the request's whole record.
      const info: Record<string, unknown> = { timestamp: new Date().toISOString(), level, message, ...fields };
      // Fields named like the line's own keys must not replace them.
      if (fields !== undefined && ('timestamp' in fields || 'level' in fields || 'message' in fields)) {
        info.timestamp = new Date().toISOString();
        info.level = level;
        info.message = message;
      }
      logger.log(info as winston.LogEntry);
    };
  return {
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    close: () =>
      new Promise<void>((resolve) => {
        if (closed) return resolve();
        closed = true;
        const done = (): void => {
          transport.flush();
          resolve();
        };
        logger.on('finish', done);
        logger.end();
        setTimeout(done, 500).unref();
      }),
  };
}
