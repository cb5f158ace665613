import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { tlsReason, type PeerTlsOptions } from '../lib/gateway/cluster/peer-options.js';
import { ConfigError } from './config-error.js';

/** A value from its flag, else from its variable, with the name to blame. */
function fromFlagOrEnv(argv: Record<string, unknown>, env: NodeJS.ProcessEnv, flag: string, variable: string): { value: string; option: string } | undefined {
  const value = argv[flag] as string | undefined;
  if (value !== undefined) return { value, option: `--${flag}` };
  const fromEnv = env[variable];
  return fromEnv === undefined || fromEnv === '' ? undefined : { value: fromEnv, option: variable };
}

async function readPem(from: { value: string; option: string }): Promise<Buffer> {
  try {
    return await readFile(from.value);
  } catch (error) {
    throw new ConfigError(`Cannot read ${from.option} ${from.value}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/**
 * Peer TLS from `--peer-tls-cert`, `--peer-tls-key`, `--peer-tls-ca` (PEM files) and
 * `--peer-tls-servername`, or their `VCS_GATEWAY_PEER_TLS_*` variables: the three files
 * together or none (cleartext). `what` is returned with the option that turned it on, for the
 * caller's own checks; undefined when off. Each mistake names the flag or variable.
 */
export async function peerTlsFrom(argv: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<{ tls: PeerTlsOptions; option: string } | undefined> {
  const cert = fromFlagOrEnv(argv, env, 'peer-tls-cert', 'VCS_GATEWAY_PEER_TLS_CERT');
  const key = fromFlagOrEnv(argv, env, 'peer-tls-key', 'VCS_GATEWAY_PEER_TLS_KEY');
  const ca = fromFlagOrEnv(argv, env, 'peer-tls-ca', 'VCS_GATEWAY_PEER_TLS_CA');
  const servername = fromFlagOrEnv(argv, env, 'peer-tls-servername', 'VCS_GATEWAY_PEER_TLS_SERVERNAME');
  const given = [cert, key, ca].filter((part) => part !== undefined);
  if (given.length === 0) {
    if (servername !== undefined) throw new ConfigError(`${servername.option} needs peer TLS: give --peer-tls-cert, --peer-tls-key and --peer-tls-ca`);
    return undefined;
  }
  if (cert === undefined || key === undefined || ca === undefined) {
    const missing = [cert === undefined ? '--peer-tls-cert' : '', key === undefined ? '--peer-tls-key' : '', ca === undefined ? '--peer-tls-ca' : ''].filter((name) => name !== '');
    throw new ConfigError(`Peer TLS needs --peer-tls-cert, --peer-tls-key and --peer-tls-ca together (or their VCS_GATEWAY_PEER_TLS_* variables): missing ${missing.join(', ')}`);
  }
  if (servername !== undefined && !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(servername.value)) {
    throw new ConfigError(`Invalid ${servername.option}: expected a DNS name (letters, digits, dots and hyphens)`);
  }
  const tls: PeerTlsOptions = { cert: await readPem(cert), key: await readPem(key), ca: await readPem(ca), ...(servername === undefined ? {} : { servername: servername.value }) };
  try {
    createSecureContext({ cert: tls.cert, key: tls.key, ca: tls.ca });
  } catch (error) {
    throw new ConfigError(`Invalid peer TLS (${cert.option}, ${key.option}, ${ca.option}): they do not load together (${tlsReason(error)})`);
  }
  return { tls, option: cert.option };
}
