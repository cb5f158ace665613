import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { CallCredentials, ChannelCredentials } from '@grpc/grpc-js';
import type { TunnelClientOptions } from '../tunnel-client-options.js';
import { tlsForSocket } from '../tunnel-client-options.js';

/** How the Spacelift channel's socket is secured and wrapped. */
export interface SpaceliftSocketSettings {
  readonly secure: boolean;
  /** Name checked against the gateway's certificate (the token's host). */
  readonly servername: string;
  readonly tls: TunnelClientOptions['tls'];
  /** GODEBUG tracing: sees the bytes of the HTTP/2 connection after TLS. */
  readonly wrapSocket: ((socket: Duplex) => Duplex) | undefined;
}

type SecureConnector = ReturnType<ChannelCredentials['_createSecureConnector']>;

/*
 * grpc-js secures a socket it dialled (directly or through its HTTP CONNECT support)
 * with the connector of its channel credentials. Ours does what `credentials.createSsl`
 * does (TLS 1.2+, ALPN h2, our CA and servername) and then hands the socket to the
 * tracer when GODEBUG asks for it, so that `http2debug` traces this connection exactly as
 * it traces our own protocol's. grpc-js has no other hook that sees the socket.
 */
class SpaceliftChannelCredentials extends ChannelCredentials {
  constructor(private readonly settings: SpaceliftSocketSettings) {
    super();
  }

  _isSecure(): boolean {
    return this.settings.secure;
  }

  _equals(other: ChannelCredentials): boolean {
    return other === this;
  }

  _createSecureConnector(_target: unknown, _options: unknown, callCredentials?: CallCredentials): SecureConnector {
    const credentials = callCredentials ?? CallCredentials.createEmpty();
    return {
      connect: (socket: Socket) => this.connect(socket),
      waitForReady: () => Promise.resolve(),
      getCallCredentials: () => credentials,
      destroy: () => {},
    };
  }

  private async connect(socket: Socket): Promise<{ socket: Socket; secure: boolean }> {
    const { secure, wrapSocket } = this.settings;
    const connected = secure ? await this.secureSocket(socket) : socket;
    // grpc-js reads only stream methods and events of the socket it gets back.
    const wrapped = wrapSocket === undefined ? connected : (wrapSocket(connected) as unknown as Socket);
    return { socket: wrapped, secure };
  }

  private secureSocket(socket: Socket): Promise<TLSSocket> {
    const tls = tlsForSocket(this.settings.tls ?? {});
    return new Promise((resolve, reject) => {
      const secured = tlsConnect({
        socket,
        ALPNProtocols: ['h2'],
        minVersion: 'TLSv1.2',
        servername: tls.servername ?? this.settings.servername,
        ...(tls.ca === undefined ? {} : { ca: tls.ca }),
        ...(tls.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: tls.rejectUnauthorized }),
      });
      secured.once('secureConnect', () => {
        secured.off('error', reject);
        if (secured.alpnProtocol !== 'h2') {
          secured.destroy();
          reject(new Error('The gateway did not negotiate HTTP/2 (ALPN h2) over TLS'));
          return;
        }
        resolve(secured);
      });
      secured.once('error', reject);
    });
  }
}

/** Channel credentials for a Spacelift-protocol connection (TLS unless insecure, optional tracing). */
export function spaceliftChannelCredentials(settings: SpaceliftSocketSettings): ChannelCredentials {
  return new SpaceliftChannelCredentials(settings);
}
