/*
 * The benchmark's WAN link: a userspace TCP relay that holds every chunk for RTT/2 in each
 * direction before passing it on. There is no netem on these machines; this is the same
 * emulation the numbers came from. It reads as fast as data comes and buffers
 * without limit, so TCP between the peers and the relay never pushes back: only
 * application-level flow control (HTTP/2 windows) sees the round trip.
 *
 * Usage: delay-relay.ts <target port> <rtt ms>. Prints its own port on stdout once listening.
 */
import { connect, createServer, type Socket } from 'node:net';

const target = Number(process.argv[2]);
const rttMs = Number(process.argv[3]);
if (!Number.isInteger(target) || target <= 0 || !(rttMs >= 0)) {
  process.stderr.write('usage: delay-relay.ts <target port> <rtt ms>\n');
  process.exit(2);
}
const oneWayMs = rttMs / 2;

/** Forwards `from` to `to`, each chunk RTT/2 later, in order (timers of one duration fire in order). */
function delayed(from: Socket, to: Socket): void {
  from.on('data', (chunk: Buffer) => {
    setTimeout(() => {
      if (!to.destroyed) to.write(chunk);
    }, oneWayMs);
  });
  // end() after the last delayed chunk, and it flushes what is still queued; only an error tears down.
  from.on('end', () => setTimeout(() => to.end(), oneWayMs));
  from.on('error', () => to.destroy());
}

const server = createServer((client) => {
  client.setNoDelay(true);
  const upstream = connect({ host: '127.0.0.1', port: target }, () => upstream.setNoDelay(true));
  delayed(client, upstream);
  delayed(upstream, client);
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address !== null && typeof address === 'object') process.stdout.write(`${address.port}\n`);
});
