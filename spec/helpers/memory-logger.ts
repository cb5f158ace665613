import type { Logger } from '../../lib/logger.js';

export interface LogEntry extends Record<string, unknown> {
  level: string;
  message: string;
}

/** A logger that keeps every entry, for assertions (including "no secret in any log"). */
export class MemoryLogger implements Logger {
  readonly entries: LogEntry[] = [];
  error(message: string, fields?: Record<string, unknown>): void {
    this.entries.push({ ...fields, level: 'error', message });
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.entries.push({ ...fields, level: 'warn', message });
  }
  info(message: string, fields?: Record<string, unknown>): void {
    this.entries.push({ ...fields, level: 'info', message });
  }
  debug(message: string, fields?: Record<string, unknown>): void {
    this.entries.push({ ...fields, level: 'debug', message });
  }
  /** Everything logged, as one string: for "this secret never appears" checks. */
  text(): string {
    return this.entries.map((entry) => JSON.stringify(entry)).join('\n');
  }
}
