import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway CA and a server certificate it signed, PEM. */
export interface TlsFixtures {
  /** Server private key. */
  key: string;
  /** Server certificate for localhost, *.test names below, 127.0.0.1 and ::1 (also good for client authentication: peer TLS). */
  cert: string;
  /** The CA certificate to trust (pass as `ca`). */
  ca: string;
}

/** Host names the server certificate is valid for, besides localhost/127.0.0.1/::1 (RFC 6761 .test). */
export const TEST_HOSTNAMES = ['vcs.test', 'gateway.test', 'peer.test'] as const;

const cached = new Map<string, TlsFixtures>();

/**
 * Generates (once per process and `set` name: each set has its own CA) a CA and a server certificate with the `openssl` CLI in a
 * temporary directory, removed right after: nothing secret is checked in, and each run
 * has its own keys. P-256 keys keep generation fast.
 */
export function tlsFixtures(set = 'default'): TlsFixtures {
  const known = cached.get(set);
  if (known !== undefined) return known;
  const dir = mkdtempSync(join(tmpdir(), 'vcs-agent-tls-'));
  try {
    const openssl = (...args: string[]): void => {
      execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
    };
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2'];
    openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=vcs-agent test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    const names = ['DNS:localhost', ...TEST_HOSTNAMES.map((name) => `DNS:${name}`), 'IP:127.0.0.1', 'IP:::1'];
    openssl('req', '-x509', ...ec, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-keyout', 'server.key', '-out', 'server.crt',
      '-subj', '/CN=localhost', '-addext', `subjectAltName=${names.join(',')}`,
      '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'extendedKeyUsage=serverAuth,clientAuth');
    const made = {
      key: readFileSync(join(dir, 'server.key'), 'utf8'),
      cert: readFileSync(join(dir, 'server.crt'), 'utf8'),
      ca: readFileSync(join(dir, 'ca.crt'), 'utf8'),
    };
    cached.set(set, made);
    return made;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
