import { ServerCredentials } from '@grpc/grpc-js';
import type { SecureContextOptions } from 'node:tls';

/**
 * TLS server credentials whose certificate and key can be replaced while the server runs.
 * grpc-js watches its credentials and hands new context options to `setSecureContext` on
 * its HTTP/2 server (server.js, the credentials watcher), so new connections get the renewed
 * pair and established ones keep theirs. `createSsl` builds credentials that never change.
 */
export class RenewableServerCredentials extends ServerCredentials {
  constructor(tls: { cert: string | Buffer; key: string | Buffer }) {
    // requestCert false: Spacelift's agents authenticate with the pool key, not a client certificate.
    super({ requestCert: false }, contextOf(tls));
  }

  renew(tls: { cert: string | Buffer; key: string | Buffer }): void {
    this.updateSecureContextOptions(contextOf(tls));
  }

  _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}

function contextOf(tls: { cert: string | Buffer; key: string | Buffer }): SecureContextOptions {
  return { cert: Buffer.from(tls.cert), key: Buffer.from(tls.key) };
}
