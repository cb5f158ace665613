import * as net from 'node:net';

/** One backend of {@link startTcpBalancer}. */
export interface BalancerBackend {
  host: string;
  port: number;
}

/** A running round-robin TCP balancer. */
export interface TcpBalancer {
  port: number;
  /** Replaces the backend list (new connections only; open ones stay where they are). */
  setBackends(backends: readonly BalancerBackend[]): void;
  /** Connections accepted so far, per backend `host:port`. */
  readonly accepted: ReadonlyMap<string, number>;
  /**
   * Destroys the open connections to one backend, both sides, without a word at the HTTP/2
   * level (no GOAWAY): what a replica that crashed or a cut network path looks like.
   */
  cut(backend: BalancerBackend): void;
  /** Destroys every open connection (both sides) and stops listening. */
  close(): Promise<void>;
}

/*
 * A load balancer as a cloud L4 one behaves for these specs: round-robin over backends, a
 * backend that refuses the connection is skipped (tried in turn, each once), and a client
 * whose every backend refuses is closed. Bytes are piped as they are; no buffering.
 */
export async function startTcpBalancer(initial: readonly BalancerBackend[]): Promise<TcpBalancer> {
  let backends = [...initial];
  let next = 0;
  const accepted = new Map<string, number>();
  const sockets = new Set<net.Socket>();
  /** Open client and upstream sockets, per backend `host:port`. */
  const pairs = new Map<string, Set<net.Socket>>();
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };

  const server = net.createServer((client) => {
    track(client);
    client.pause();
    client.on('error', () => client.destroy());
    const order = backends.map((_, i) => backends[(next + i) % backends.length] as BalancerBackend);
    next = backends.length === 0 ? 0 : (next + 1) % backends.length;
    const attempt = (index: number): void => {
      const backend = order[index];
      if (backend === undefined || client.destroyed) {
        client.destroy();
        return;
      }
      const upstream = net.connect(backend.port, backend.host);
      track(upstream);
      let connected = false;
      upstream.once('error', () => {
        // Refused before connecting: the next backend. After: the client goes too.
        if (!connected) attempt(index + 1);
        else client.destroy();
      });
      upstream.once('connect', () => {
        connected = true;
        const key = `${backend.host}:${backend.port}`;
        accepted.set(key, (accepted.get(key) ?? 0) + 1);
        const open = pairs.get(key) ?? new Set<net.Socket>();
        pairs.set(key, open);
        for (const socket of [client, upstream]) {
          open.add(socket);
          socket.once('close', () => open.delete(socket));
        }
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    setBackends(list) {
      backends = [...list];
      next = 0;
    },
    accepted,
    cut(backend) {
      for (const socket of pairs.get(`${backend.host}:${backend.port}`) ?? []) socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
