/**
 * The logging surface the library writes to. A winston logger satisfies it as is;
 * so does `console`-free test doubles. The library never logs anywhere else.
 */
export interface Logger {
  error(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
}

const noop = (): void => {};

/** A logger that drops everything: the default when none is injected. */
export const silentLogger: Logger = Object.freeze({ error: noop, warn: noop, info: noop, debug: noop });

/** A logger that adds `fields` to every line (e.g. which gateway connection it concerns). */
export function loggerWithFields(logger: Logger, fields: Readonly<Record<string, unknown>>): Logger {
  return {
    error: (message, extra) => logger.error(message, { ...fields, ...extra }),
    warn: (message, extra) => logger.warn(message, { ...fields, ...extra }),
    info: (message, extra) => logger.info(message, { ...fields, ...extra }),
    debug: (message, extra) => logger.debug(message, { ...fields, ...extra }),
  };
}
