import { createSecureServer, createServer, type Http2SecureServer, type Http2Server } from 'node:http2';
import { InvalidOptionError } from '../errors.js';
import { MAX_SESSION_MEMORY_MB, gatewaySettings } from '../protocol/http2-settings.js';
import { bindServerSessionSockets } from '../protocol/session-socket.js';
import { isPem, tlsLoadFailure } from '../util/tls-material.js';
import { HTTP2_SERVER_LIMITS } from './http2-server-limits.js';

/** The agent listener's certificate and private key (PEM). */
export interface AgentListenerTls {
  cert: string | Buffer;
  key: string | Buffer;
}

/** The HTTP/2 server agents dial: cleartext h2 without `tls`, TLS (h2 only, no HTTP/1.1) with it. */
export function createAgentServer(tls: AgentListenerTls | undefined): Http2Server | Http2SecureServer {
  const options = { ...HTTP2_SERVER_LIMITS, settings: gatewaySettings, maxSessionMemory: MAX_SESSION_MEMORY_MB };
  const server = tls === undefined ? createServer(options) : createSecureServer({ ...options, cert: tls.cert, key: tls.key, allowHTTP1: false });
  // Each session's socket, so that destroySession() can close one a stalled peer holds open.
  bindServerSessionSockets(server, tls === undefined ? 'connection' : 'secureConnection');
  return server;
}

/**
 * Checks renewed material before it replaces the served one: a certificate that does not
 * match its key would otherwise fail every new handshake, where refusing the renewal keeps
 * the listener serving the previous pair.
 */
export function checkRenewedTls(tls: AgentListenerTls): AgentListenerTls {
  if (tls === null || typeof tls !== 'object' || !isPem(tls.cert) || !isPem(tls.key)) {
    throw new InvalidOptionError('tls', 'Invalid tls: expected { cert, key }, PEM text or Buffers');
  }
  const failure = tlsLoadFailure(tls);
  if (failure !== undefined) throw new InvalidOptionError('tls', `Invalid tls: the certificate and key do not load together (${failure})`);
  return { cert: tls.cert, key: tls.key };
}
