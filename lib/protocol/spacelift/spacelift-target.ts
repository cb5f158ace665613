import { InvalidOptionError, InvalidTokenError } from '../../errors.js';

/** Where a Spacelift-protocol agent dials: the token's `host` read as a gRPC target. */
export interface SpaceliftTarget {
  /** `host:port` for grpc-js (IPv6 literals bracketed). */
  readonly address: string;
  readonly hostname: string;
  readonly port: number;
  /** TLS (1.2 or later) unless dialled insecure. */
  readonly secure: boolean;
  /** The same place as a URL, for logs and metrics (`https://host:port`). */
  readonly url: URL;
}

/*
 * Spacelift's Go agent hands the token's host straight to grpc.NewClient, so its tokens
 * carry a gRPC target (`host:port`, or `host` for 443) and TLS is implied unless the agent
 * runs with --dial-insecure. Our own tokens carry a URL, whose scheme already says whether
 * TLS is used. Both forms are read here; a URL whose scheme contradicts --dial-insecure
 * is refused rather than guessed at.
 */
export function parseSpaceliftTarget(host: string, dialInsecure: boolean): SpaceliftTarget {
  const text = host.trim();
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
  let url: URL;
  try {
    url = new URL(hasScheme ? text : `tcp://${text}`);
  } catch {
    throw new InvalidTokenError('host', 'The pool token field "host" is neither host:port nor a URL');
  }
  if (url.username !== '' || url.password !== '') throw new InvalidTokenError('host', 'The pool token field "host" must not contain credentials');
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    throw new InvalidTokenError('host', 'The pool token field "host" must name only a host and port for the Spacelift protocol (no path or query)');
  }
  let secure: boolean;
  if (!hasScheme) secure = !dialInsecure;
  else if (url.protocol === 'https:') {
    if (dialInsecure) throw new InvalidOptionError('spacelift.dialInsecure', 'The pool token names an https:// gateway, which contradicts dialling it insecure (--dial-insecure)');
    secure = true;
  } else if (url.protocol === 'http:') secure = false;
  else throw new InvalidTokenError('host', `The pool token field "host" has scheme ${url.protocol}: expected host:port, https:// or http://`);
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  const hostname = url.hostname;
  const display = new URL(`${secure ? 'https' : 'http'}://${hostname}:${port}`);
  return { address: `${hostname}:${port}`, hostname: hostname.replace(/^\[|\]$/g, ''), port, secure, url: display };
}
