import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { tlsLoadFailure, type PeerTlsOptions } from '../lib/gateway/cluster/peer-options.js';
import { ConfigError } from './config-error.js';
import { fromFlagOrEnv, readPemFile } from './flag-or-env.js';


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
  const tls: PeerTlsOptions = { cert: await readPemFile(cert.value, cert.option), key: await readPemFile(key.value, key.option), ca: await readPemFile(ca.value, ca.option), ...(servername === undefined ? {} : { servername: servername.value }) };
  const failure = tlsLoadFailure(tls);
  if (failure !== undefined) throw new ConfigError(`Invalid peer TLS (${cert.option}, ${key.option}, ${ca.option}): they do not load together (${failure})`);
  const reload = fromFlagOrEnv(argv, env, 'peer-tls-reload-interval', 'VCS_GATEWAY_PEER_TLS_RELOAD_INTERVAL');
  const seconds = Number(reload?.value ?? DEFAULT_RELOAD_SECONDS);
  if (!Number.isFinite(seconds) || seconds < 0 || (seconds > 0 && seconds < 0.1)) {
    throw new ConfigError(`Invalid ${reload?.option ?? '--peer-tls-reload-interval'}: expected 0 (off) or a number of seconds from 0.1`);
  }
  return { tls, option: cert.option, files: { cert: cert.value, key: key.value, ca: ca.value }, reloadMs: Math.round(seconds * 1000) };
}

/*
 * Kubernetes updates a mounted Secret in place within about a minute of its change
 * (cert-manager renews a certificate well before it expires), so once a minute is enough.
 */
const DEFAULT_RELOAD_SECONDS = 60;

/** Peer TLS as chosen on the command line: the material, the files it came from, how often to look at them again. */
export interface PeerTlsChoice {
  tls: PeerTlsOptions;
  option: string;
  files: { cert: string; key: string; ca: string };
  reloadMs: number;
}

/** What the reload reports: a renewal applied, or files that cannot be used (the previous ones stay). */
export interface PeerTlsReloadEvents {
  reloaded(info: { validTo: string; fingerprint256: string }): void;
  failed(reason: string): void;
}

/**
 * Reads the peer TLS files again every `choice.reloadMs` and, when their content changed and
 * they load together, hands the new material to `apply` (GatewayCluster.setPeerTls). Files
 * that fail to read or load are reported once per distinct reason and the previous material
 * stays. Returns a function that stops it.
 */
export function reloadPeerTls(choice: PeerTlsChoice, apply: (tls: PeerTlsOptions) => void, events: PeerTlsReloadEvents): () => void {
  if (choice.reloadMs === 0) return () => {};
  let current = choice.tls;
  let lastFailure = '';
  let running = false;
  const look = async (): Promise<void> => {
    const [cert, key, ca] = await Promise.all([readFile(choice.files.cert), readFile(choice.files.key), readFile(choice.files.ca)]);
    if ([cert, key, ca].every((part, i) => part.equals([current.cert, current.key, current.ca][i] as Buffer))) return;
    // A Secret written file by file: a new certificate beside the old key fails until the key follows.
    const failure = tlsLoadFailure({ cert, key, ca });
    if (failure !== undefined) throw new Error(`they do not load together (${failure})`);
    const next: PeerTlsOptions = { ...current, cert, key, ca };
    apply(next);
    current = next;
    lastFailure = '';
    const x509 = new X509Certificate(cert);
    events.reloaded({ validTo: x509.validTo, fingerprint256: x509.fingerprint256 });
  };
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    look()
      .catch((error: unknown) => {
        const reason = error instanceof Error ? ((error as NodeJS.ErrnoException).code ?? error.message) : String(error);
        if (reason !== lastFailure) events.failed(reason);
        lastFailure = reason;
      })
      .finally(() => (running = false));
  }, choice.reloadMs);
  timer.unref();
  return () => clearInterval(timer);
}
