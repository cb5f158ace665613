import { InvalidOptionError } from '../../errors.js';
import { positiveInteger } from '../../util/positive-integer.js';

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
  /** Bound on reaching a peer: TCP connect and its first HTTP/2 SETTINGS (default 1 000 ms). */
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
 * Parses a peer URL: `http://HOST:PORT`, nothing else (no credentials, path, query or TLS for
 * now). The message never repeats the value: it might hold credentials.
 */
export function parsePeerUrl(value: string, option = 'peer.url'): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch (error) {
    throw new InvalidOptionError(option, `Invalid ${option}: expected http://HOST:PORT`, { cause: error });
  }
  const bare = url.username === '' && url.password === '' && (url.pathname === '/' || url.pathname === '') && url.search === '' && url.hash === '';
  if (url.protocol !== 'http:' || url.hostname === '' || url.port === '' || !bare) {
    throw new InvalidOptionError(option, `Invalid ${option}: expected http://HOST:PORT (cleartext HTTP/2 between replicas, no path or credentials)`);
  }
  return `http://${url.host}`;
}

/** The checked options, with the defaults filled in later by the forwarder. */
export interface CheckedPeerOptions {
  token: string;
  url: string | undefined;
  connectTimeoutMs?: number;
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
}

/** One check per option, each naming it. */
export function checkPeerOptions(peer: PeerOptions): CheckedPeerOptions {
  if (peer === null || typeof peer !== 'object') throw new InvalidOptionError('peer', 'Invalid peer: expected { token, url? }');
  const out: CheckedPeerOptions = { token: checkPeerToken(peer.token, peer.tokenOption), url: peer.url === undefined ? undefined : parsePeerUrl(peer.url, peer.urlOption) };
  for (const name of ['connectTimeoutMs', 'pingIntervalMs', 'pingTimeoutMs'] as const) {
    if (peer[name] !== undefined) out[name] = positiveInteger(peer[name], 0, `peer.${name}`);
  }
  return out;
}

/** The URL a listener bound at `address` is reached at; undefined for an unspecified address. */
export function peerUrlOf(address: { address: string; family: string; port: number }): string | undefined {
  if (address.address === '0.0.0.0' || address.address === '::') return undefined;
  return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
}
