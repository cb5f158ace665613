import { connect as http2Connect, type ClientHttp2Session, type SecureClientSessionOptions } from 'node:http2';
import { GatewayConnectionError, VcsAgentError } from '../errors.js';
import { openWindows } from '../protocol/flow-window.js';
import { bindClientSessionSocket } from '../protocol/session-socket.js';
import { MAX_SESSION_MEMORY_MB, localSettings } from '../protocol/http2-settings.js';
import { tlsForSocket, type TunnelClientOptions } from './tunnel-client-options.js';

/**
 * Opens the HTTP/2 session to the gateway: directly, or over a socket we dial ourselves
 * (proxy CONNECT, ALPN check, tracing wrapper). Resolves once the session is connected.
 */
export async function dialGateway(url: URL, options: TunnelClientOptions, timeoutMs: number): Promise<ClientHttp2Session> {
  const sessionOptions: SecureClientSessionOptions = {
    settings: localSettings,
    maxSessionMemory: MAX_SESSION_MEMORY_MB,
    ...(options.tls?.ca === undefined ? {} : { ca: options.tls.ca }),
    ...(options.tls?.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: options.tls.rejectUnauthorized }),
    ...(options.tls?.servername === undefined ? {} : { servername: options.tls.servername }),
  };
  const { connect, wrapSocket, proxy } = options;
  if (connect !== undefined || wrapSocket !== undefined || proxy !== undefined) {
    // Loaded only when needed: the proxy stack (http2-wrapper, proxy agents) costs ~12 MiB
    // of RSS that a directly connected agent should not carry.
    const connectGatewaySocket = connect === undefined ? (await import('../proxy/gateway-socket.js')).connectGatewaySocket : undefined;
    let socket =
      connect !== undefined || connectGatewaySocket === undefined
        ? await (connect as NonNullable<typeof connect>)(url)
        : await connectGatewaySocket(url, {
            ...(proxy === undefined ? {} : { proxy }),
            timeoutMs,
            ...(options.tls === undefined ? {} : { tls: tlsForSocket(options.tls) }),
          });
    if (wrapSocket !== undefined) socket = wrapSocket(socket);
    const provided = socket;
    sessionOptions.createConnection = () => provided;
  }
  return await new Promise<ClientHttp2Session>((resolve, reject) => {
    const session = http2Connect(url, sessionOptions);
    const timer = setTimeout(() => onError(new GatewayConnectionError(`No HTTP/2 connection to ${url.origin} within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    const onError = (error: Error): void => {
      clearTimeout(timer);
      session.destroy();
      reject(error);
    };
    session.once('error', onError);
    // Kept for destroySession(): Node keeps a destroyed session's socket open while a write is stuck on it.
    bindClientSessionSocket(session);
    session.once('connect', () => {
      clearTimeout(timer);
      session.off('error', onError);
      openWindows(session);
      resolve(session);
    });
  });
}

/** A dial failure as the error the client reports. */
export function asConnectionError(error: unknown, gateway: URL): VcsAgentError {
  if (error instanceof VcsAgentError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new GatewayConnectionError(`Cannot connect to the gateway ${gateway.origin}: ${message}`, { cause: error });
}
