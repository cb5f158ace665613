import type { PeerTlsOptions } from '../lib/gateway/cluster/peer-options.js';
import { tlsLoadFailure } from '../lib/util/tls-material.js';
import { ConfigError } from './config-error.js';
import { fromFlagOrEnv, readPemFile } from './flag-or-env.js';
import { reloadIntervalFrom, reloadTlsFiles, type TlsReloadEvents } from './tls-reload.js';

/**
 * Peer TLS from `--peer-tls-cert`, `--peer-tls-key`, `--peer-tls-ca` (PEM files) and
 * `--peer-tls-servername`, or their `VCS_GATEWAY_PEER_TLS_*` variables: the three files
 * together or none (cleartext). `what` is returned with the option that turned it on, for the
 * caller's own checks; undefined when off. Each mistake names the flag or variable.
 */
export async function peerTlsFrom(argv: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<PeerTlsChoice | undefined> {
  const cert = fromFlagOrEnv(argv, env, 'peer-tls-cert', 'VCS_GATEWAY_PEER_TLS_CERT');
  const key = fromFlagOrEnv(argv, env, 'peer-tls-key', 'VCS_GATEWAY_PEER_TLS_KEY');
  const ca = fromFlagOrEnv(argv, env, 'peer-tls-ca', 'VCS_GATEWAY_PEER_TLS_CA');
  const servername = fromFlagOrEnv(argv, env, 'peer-tls-servername', 'VCS_GATEWAY_PEER_TLS_SERVERNAME');
  const given = [cert, key, ca].filter((part) => part !== undefined);
  if (given.length === 0) {
    for (const alone of [servername, fromFlagOrEnv(argv, env, 'peer-tls-reload-interval', 'VCS_GATEWAY_PEER_TLS_RELOAD_INTERVAL')]) {
      if (alone !== undefined) throw new ConfigError(`${alone.option} needs peer TLS: give --peer-tls-cert, --peer-tls-key and --peer-tls-ca`);
    }
    return undefined;
  }
  if (cert === undefined || key === undefined || ca === undefined) {
    const missing = [cert === undefined ? '--peer-tls-cert' : '', key === undefined ? '--peer-tls-key' : '', ca === undefined ? '--peer-tls-ca' : ''].filter((name) => name !== '');
    throw new ConfigError(`Peer TLS needs --peer-tls-cert, --peer-tls-key and --peer-tls-ca together (or their VCS_GATEWAY_PEER_TLS_* variables): missing ${missing.join(', ')}`);
  }
  if (servername !== undefined && !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(servername.value)) {
    throw new ConfigError(`Invalid ${servername.option}: expected a DNS name (letters, digits, dots and hyphens)`);
  }
  const tls: PeerTlsChoice['tls'] = { cert: await readPemFile(cert.value, cert.option), key: await readPemFile(key.value, key.option), ca: await readPemFile(ca.value, ca.option), ...(servername === undefined ? {} : { servername: servername.value }) };
  const failure = tlsLoadFailure(tls);
  if (failure !== undefined) throw new ConfigError(`Invalid peer TLS (${cert.option}, ${key.option}, ${ca.option}): they do not load together (${failure})`);
  return { tls, option: cert.option, files: { cert: cert.value, key: key.value, ca: ca.value }, reloadMs: reloadIntervalFrom(argv, env, 'peer-tls-reload-interval', 'VCS_GATEWAY_PEER_TLS_RELOAD_INTERVAL') };
}

/** Peer TLS as chosen on the command line: the material, the files it came from, how often to look at them again. */
export interface PeerTlsChoice {
  /** As read from the files: Buffers, which the reload compares with what it reads next. */
  tls: PeerTlsOptions & { cert: Buffer; key: Buffer; ca: Buffer };
  option: string;
  files: { cert: string; key: string; ca: string };
  reloadMs: number;
}

/**
 * Reads the peer TLS files again every `choice.reloadMs` and hands a renewal that loads
 * together to `apply` (GatewayCluster.setPeerTls); see reloadTlsFiles. Returns a function that stops it.
 */
export function reloadPeerTls(choice: PeerTlsChoice, apply: (tls: PeerTlsOptions) => void, events: TlsReloadEvents): () => void {
  return reloadTlsFiles(choice.files, choice.tls, choice.reloadMs, (material) => apply({ ...choice.tls, cert: material.cert, key: material.key, ca: material.ca ?? choice.tls.ca }), events);
}
