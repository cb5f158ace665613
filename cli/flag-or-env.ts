import { readFile } from 'node:fs/promises';
import { ConfigError } from './config-error.js';

/** A value from its flag, else from its variable (empty counts as unset), with the name to blame. */
export function fromFlagOrEnv(argv: Record<string, unknown>, env: NodeJS.ProcessEnv, flag: string, variable: string): { value: string; option: string } | undefined {
  const value = argv[flag];
  if (value !== undefined) return { value: String(value), option: `--${flag}` };
  const fromEnv = env[variable];
  return fromEnv === undefined || fromEnv === '' ? undefined : { value: fromEnv, option: variable };
}

/** A PEM file's bytes; a file that cannot be read is a ConfigError naming `option` and the path. */
export async function readPemFile(file: string, option: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new ConfigError(`Cannot read ${option} ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}
