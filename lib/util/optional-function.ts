import { InvalidOptionError } from '../errors.js';

/** An optional callback option: undefined when absent, an error naming `option` when not a function. */
export function optionalFunction<T extends (...args: never[]) => unknown>(value: T | undefined, option: string): T | undefined {
  if (value !== undefined && typeof value !== 'function') throw new InvalidOptionError(option, `${option} must be a function`);
  return value;
}
