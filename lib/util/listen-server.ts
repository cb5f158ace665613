import type { AddressInfo, Server } from 'node:net';

/**
 * Starts `server` on HOST:PORT (default 127.0.0.1 and any free port) and resolves with the
 * bound address; rejects with the listen error (EADDRINUSE, EACCES) instead of emitting it.
 */
export function listenServer(server: Server, options: { host?: string; port?: number } = {}): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}
