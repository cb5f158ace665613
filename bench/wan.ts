/*
 * WAN mode of `npm run bench`: one plain TCP connection through the delaying relay
 * (bench/delay-relay.ts) is the ceiling for the agent ↔ gateway leg at that RTT; the tunnel
 * runs with the same relay between its agent and the gateway.
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';

const MiB = 1024 * 1024;

/** A TCP source and sink: a client that sends 'D' gets `size` bytes; one that sends 'U' + bytes gets one byte back at the end. */
export async function startTcpEndpoint(size: number): Promise<{ server: Server; port: number }> {
  const chunk = Buffer.alloc(64 * 1024, 'w');
  const server = createServer((socket) => {
    let mode = '';
    let received = 0;
    socket.on('data', (data: Buffer) => {
      if (mode === '') {
        mode = String.fromCharCode(data[0] as number);
        received += data.length - 1;
        if (mode === 'D') {
          let left = size;
          const pump = (): void => {
            while (left > 0) {
              const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
              left -= piece.length;
              if (!socket.write(piece)) return void socket.once('drain', pump);
            }
            socket.end();
          };
          pump();
        }
      } else received += data.length;
      if (mode === 'U' && received >= size) socket.end('k');
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

/** MiB/s of one plain TCP connection to `port` moving `size` bytes down ('D') or up ('U'). */
export async function plainTcp(port: number, size: number, direction: 'D' | 'U'): Promise<number> {
  const started = performance.now();
  const socket = connect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  await once(socket, 'connect');
  let received = 0;
  socket.on('data', (data: Buffer) => {
    received += data.length;
  });
  const ended = once(socket, 'end');
  socket.write(direction);
  if (direction === 'U') {
    const chunk = Buffer.alloc(64 * 1024, 'u');
    let left = size;
    while (left > 0) {
      const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
      left -= piece.length;
      if (!socket.write(piece)) await once(socket, 'drain');
    }
  }
  await ended;
  socket.destroy();
  const expected = direction === 'D' ? size : 1;
  if (received !== expected) throw new Error(`plain TCP ${direction}: ${received} of ${expected} bytes`);
  return size / MiB / ((performance.now() - started) / 1000);
}
