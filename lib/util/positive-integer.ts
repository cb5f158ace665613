import { InvalidOptionError } from '../errors.js';

/** An optional whole-number option: `fallback` when absent, an error naming `option` when not a positive integer. */
export function positiveInteger(value: number | undefined, fallback: number, option: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new InvalidOptionError(option, `Invalid ${option}: expected a positive integer`);
  return value;
}
