import { ConfigError } from './config-error.js';

/** Parses HOST:PORT (IPv6 as [::1]:PORT); the message names the option. */
export function parseHostPort(value: string, option: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[3]);
  if (match === null || port > 65535) throw new ConfigError(`Invalid ${option} "${value.slice(0, 80)}": expected HOST:PORT, e.g. 127.0.0.1:8080`);
  return { host: (match[1] ?? match[2]) as string, port };
}

/** Why a listener could not bind, in words, by errno code. */
const BIND_FAILURES: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the address is in use',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'the address is not on this machine',
};

/**
 * Runs `start` (a listener's listen()); a bind failure becomes a ConfigError naming `option`
 * and the address, so the command exits 2 with one line instead of an unexpected failure.
 */
export async function listenFor<T>(option: string, at: { host: string; port: number }, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === undefined ? undefined : BIND_FAILURES[code];
    if (reason === undefined) throw error;
    throw new ConfigError(`Cannot listen on ${option} ${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}: ${reason} (${code})`);
  }
}
