import { ConfigError } from './config-error.js';

/** Parses HOST:PORT (IPv6 as [::1]:PORT); the message names the option. */
export function parseHostPort(value: string, option: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[3]);
  if (match === null || port > 65535) throw new ConfigError(`Invalid ${option} "${value.slice(0, 80)}": expected HOST:PORT, e.g. 127.0.0.1:8080`);
  return { host: (match[1] ?? match[2]) as string, port };
}
