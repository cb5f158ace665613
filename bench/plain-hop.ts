/*
 * The benchmark's calibration path: the smallest relay Node can be. One process, node:http
 * in and node:http out over a keep-alive agent, body piped both ways, no policy, no logging,
 * no framing. The tunnel has two relays on its path (gateway and agent) where this has one,
 * so on any given run this bounds what a Node relay can reach on the machine; perf-facts
 * measured ~23 k req/s for the same hop on a quieter day.
 *
 * Usage: plain-hop.ts <vcs port>. Prints its own port on stdout once listening.
 */
import { Agent, createServer, request } from 'node:http';

const target = Number(process.argv[2]);
if (!Number.isInteger(target) || target <= 0) {
  process.stderr.write('usage: plain-hop.ts <vcs port>\n');
  process.exit(2);
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

const server = createServer((req, res) => {
  const upstream = request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers, agent }, (response) => {
    res.writeHead(response.statusCode ?? 502, response.headers);
    response.pipe(res);
  });
  upstream.on('error', (error) => {
    process.stderr.write(`plain-hop: upstream failed: ${error.message}\n`);
    res.destroy();
  });
  req.pipe(upstream);
});

// Like the front door (65 s): the bench leaves its keep-alive sockets idle for longer than
// Node's 5 s default between phases, and a socket closed under a reused request hangs up.
server.keepAliveTimeout = 65_000;

// SIGINT exits normally, so a --cpu-prof profile is written (bench/profile.ts).
process.on('SIGINT', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address !== null && typeof address === 'object') process.stdout.write(`${address.port}\n`);
});
