import { InvalidOptionError } from '../../errors.js';
import { positiveInteger } from '../../util/positive-integer.js';
import { isPem, tlsLoadFailure } from '../../util/tls-material.js';

/**
 * TLS between replicas (docs/scaling.md § Peer TLS): every replica presents `cert` and
 * checks the other side's against `ca`, both ways (mutual TLS), so the certificate must allow
 * server and client authentication. PEM text or Buffers.
 */
export interface PeerTlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
  /** The CA(s) peer certificates must chain to; the system's CAs are not trusted here. */
  ca: string | Buffer | Array<string | Buffer>;
  /**
   * The name peer certificates are checked against (and sent as SNI), for a certificate
   * shared by every replica (`vcs-gateway-peer`), since peers are reached at pod IPs. Default:
   * the host of each peer's URL.
   */
  servername?: string;
}

/** Peer forwarding between replicas (`GatewayClusterOptions.peer`, docs/scaling.md § Forwarding). */
export interface PeerOptions {
  /**
   * The secret every replica of the service shares (at least 16 characters): sent with each
   * forwarded request, compared in constant time, never logged.
   */
  token: string;
  /**
   * Where other replicas reach this replica's peer listener, `http://HOST:PORT` (in
   * Kubernetes the pod IP). Default: the address `Gateway.listenPeers()` bound, unless that
   * is an unspecified address (`0.0.0.0`, `::`), which then needs this.
   */
  url?: string;
  /** TLS on the peer listener and to every peer; URLs are then `https://HOST:PORT`. Default: cleartext. */
  tls?: PeerTlsOptions;
  /** Bound on reaching a peer: TCP connect, TLS and its first HTTP/2 SETTINGS (default 1 000 ms). */
  connectTimeoutMs?: number;
  /** How often the session to each peer is PINGed (default 1 000 ms). */
  pingIntervalMs?: number;
  /** A PING unanswered this long closes the session and fails its requests (default 2 000 ms). */
  pingTimeoutMs?: number;
  /** The option names to blame in errors (the CLI passes its flags). */
  tokenOption?: string;
  urlOption?: string;
}

/** Checks a peer token; the message names `option` and never repeats the value. */
export function checkPeerToken(token: unknown, option = 'peer.token'): string {
  if (typeof token !== 'string' || token.length < 16) throw new InvalidOptionError(option, `Invalid ${option}: expected a peer token of at least 16 characters`);
  if (/[^\x21-\x7e]/.test(token)) throw new InvalidOptionError(option, `Invalid ${option}: expected printable ASCII without spaces`);
  return token;
}

/**
 * Parses a peer URL: `http://HOST:PORT`, or `https://HOST:PORT` when the replicas speak TLS
 * (`tls`), nothing else (no credentials, path or query). The message never repeats the
 * value: it might hold credentials.
 */
export function parsePeerUrl(value: string, option = 'peer.url', tls = false): string {
  const scheme = tls ? 'https' : 'http';
  let url: URL;
  try {
    url = new URL(value);
  } catch (error) {
    throw new InvalidOptionError(option, `Invalid ${option}: expected ${scheme}://HOST:PORT`, { cause: error });
  }
  const bare = url.username === '' && url.password === '' && (url.pathname === '/' || url.pathname === '') && url.search === '' && url.hash === '';
  if (url.protocol !== `${scheme}:` || url.hostname === '' || url.port === '' || !bare) {
    const what = tls ? 'TLS between replicas (peer TLS is on)' : 'cleartext HTTP/2 between replicas (https needs peer TLS)';
    throw new InvalidOptionError(option, `Invalid ${option}: expected ${scheme}://HOST:PORT (${what}, no path or credentials)`);
  }
  return `${scheme}://${url.host}`;
}

/** One check per field of the peer TLS options, each naming it; never repeats a key. */
export function checkPeerTls(tls: PeerTlsOptions): PeerTlsOptions {
  if (tls === null || typeof tls !== 'object') throw new InvalidOptionError('peer.tls', 'Invalid peer.tls: expected { cert, key, ca, servername? }');
  for (const name of ['cert', 'key'] as const) {
    if (!isPem(tls[name])) throw new InvalidOptionError(`peer.tls.${name}`, `Invalid peer.tls.${name}: expected PEM text or a Buffer`);
  }
  const cas = Array.isArray(tls.ca) ? tls.ca : [tls.ca];
  if (cas.length === 0 || !cas.every(isPem)) throw new InvalidOptionError('peer.tls.ca', 'Invalid peer.tls.ca: expected the CA certificate(s) peers chain to, PEM text or Buffers');
  if (tls.servername !== undefined && (typeof tls.servername !== 'string' || !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(tls.servername))) {
    throw new InvalidOptionError('peer.tls.servername', 'Invalid peer.tls.servername: expected a DNS name (letters, digits, dots and hyphens)');
  }
  // Parsed now, not at the first peer connection: a key that does not match its certificate,
  // or text that is not PEM, is refused while the caller can still be told which option.
  const failure = tlsLoadFailure(tls);
  if (failure !== undefined) throw new InvalidOptionError('peer.tls', `Invalid peer.tls: the certificate, key and CA do not load together (${failure})`);
  return { cert: tls.cert, key: tls.key, ca: tls.ca, ...(tls.servername === undefined ? {} : { servername: tls.servername }) };
}


/** The checked options, with the defaults filled in later by the forwarder. */
export interface CheckedPeerOptions {
  token: string;
  url: string | undefined;
  tls: PeerTlsOptions | undefined;
  connectTimeoutMs?: number;
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
}

/** One check per option, each naming it. */
export function checkPeerOptions(peer: PeerOptions): CheckedPeerOptions {
  if (peer === null || typeof peer !== 'object') throw new InvalidOptionError('peer', 'Invalid peer: expected { token, url? }');
  const tls = peer.tls === undefined ? undefined : checkPeerTls(peer.tls);
  const out: CheckedPeerOptions = { token: checkPeerToken(peer.token, peer.tokenOption), url: peer.url === undefined ? undefined : parsePeerUrl(peer.url, peer.urlOption, tls !== undefined), tls };
  for (const name of ['connectTimeoutMs', 'pingIntervalMs', 'pingTimeoutMs'] as const) {
    if (peer[name] !== undefined) out[name] = positiveInteger(peer[name], 0, `peer.${name}`);
  }
  return out;
}

/** The URL a listener bound at `address` is reached at; undefined for an unspecified address. */
export function peerUrlOf(address: { address: string; family: string; port: number }, tls = false): string | undefined {
  if (address.address === '0.0.0.0' || address.address === '::') return undefined;
  return `${tls ? 'https' : 'http'}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
}
