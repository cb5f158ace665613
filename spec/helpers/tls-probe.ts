import { X509Certificate } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { connect } from 'node:tls';
import type { TlsFixtures } from './tls-fixtures.js';

/**
 * Opens a TLS connection to `port` (ALPN h2, as agents do) trusting only `ca` and reports the
 * certificate the listener presented, or the handshake's error code.
 */
export function presentedCertificate(port: number, ca: string): Promise<{ fingerprint256: string } | { error: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ALPNProtocols: ['h2'], ca }, () => {
      const fingerprint256 = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      resolve({ fingerprint256 });
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    socket.setTimeout(5000, () => socket.destroy(new Error('TLS handshake timed out')));
  });
}

/** The SHA-256 fingerprint of a fixture's certificate, as `getPeerCertificate()` spells it. */
export function fingerprintOf(material: TlsFixtures): string {
  return new X509Certificate(material.cert).fingerprint256;
}

/** Replaces a file in one step, as a Secret volume update does per file (a renewal spec's writer). */
export async function writeAtomically(path: string, content: string): Promise<void> {
  await writeFile(`${path}.new`, content);
  await rename(`${path}.new`, path);
}
