import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { tlsLoadFailure } from '../lib/util/tls-material.js';
import { ConfigError } from './config-error.js';
import { fromFlagOrEnv } from './flag-or-env.js';

/** PEM files of one TLS identity: certificate, key and, for mutual TLS, the CA. */
export interface TlsFiles {
  cert: string;
  key: string;
  ca?: string;
}

/** Their content, as loaded. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

/** What a reload reports: a renewal applied, or files that cannot be used (the previous ones stay). */
export interface TlsReloadEvents {
  reloaded(info: { validTo: string; fingerprint256: string }): void;
  failed(reason: string): void;
}

/*
 * Kubernetes updates a mounted Secret in place within about a minute of its change
 * (cert-manager renews a certificate well before it expires), so once a minute is enough.
 */
const DEFAULT_RELOAD_SECONDS = 60;

/** The reload interval in ms from `flag` or `variable`: 0 (off) or seconds from 0.1; 60 s when neither is given. */
export function reloadIntervalFrom(argv: Record<string, unknown>, env: NodeJS.ProcessEnv, flag: string, variable: string): number {
  const given = fromFlagOrEnv(argv, env, flag, variable);
  const seconds = Number(given?.value ?? DEFAULT_RELOAD_SECONDS);
  if (!Number.isFinite(seconds) || seconds < 0 || (seconds > 0 && seconds < 0.1)) {
    throw new ConfigError(`Invalid ${given?.option ?? `--${flag}`}: expected 0 (off) or a number of seconds from 0.1`);
  }
  return Math.round(seconds * 1000);
}

/**
 * Reads `files` again every `intervalMs` and, when their content changed and they load
 * together, hands the new material to `apply`. Files that fail to read or load (a Secret
 * written file by file: a new certificate beside the old key) are reported once per
 * distinct reason and the previous material stays. Returns a function that stops it.
 */
export function reloadTlsFiles(files: TlsFiles, initial: TlsMaterial, intervalMs: number, apply: (material: TlsMaterial) => void, events: TlsReloadEvents): () => void {
  if (intervalMs === 0) return () => {};
  let current = initial;
  let lastFailure = '';
  let running = false;
  const look = async (): Promise<void> => {
    const [cert, key, ca] = await Promise.all([readFile(files.cert), readFile(files.key), files.ca === undefined ? undefined : readFile(files.ca)]);
    if (cert.equals(current.cert) && key.equals(current.key) && (ca === undefined || current.ca === undefined || ca.equals(current.ca))) return;
    const failure = tlsLoadFailure({ cert, key, ...(ca === undefined ? {} : { ca }) });
    if (failure !== undefined) throw new Error(`they do not load together (${failure})`);
    const next: TlsMaterial = { cert, key, ...(ca === undefined ? {} : { ca }) };
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
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
