/*
 * The benchmark's VCS: one process, answering GitLab-shaped paths.
 *   GET  …/archive?size=N  → N bytes, streamed from one reused 64 KiB buffer
 *   POST anything          → consumes the body, answers with its length (the bench posts
 *                            to …/git-upload-pack)
 *   GET  anything else     → a small JSON document (like "get a project")
 * Prints its port on stdout once listening.
 */
import { createServer } from 'node:http';

const CHUNK = Buffer.alloc(64 * 1024, 'x');
const SMALL = Buffer.from(JSON.stringify({ id: 42, name: 'repo', path_with_namespace: 'bench/repo', default_branch: 'main', visibility: 'private' }));

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  if (req.method === 'GET' && url.includes('/archive')) {
    let left = Number(new URL(url, 'http://x').searchParams.get('size') ?? '0');
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': left });
    const pump = (): void => {
      while (left > 0) {
        const piece = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
        left -= piece.length;
        if (!res.write(piece)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
    return;
  }
  if (req.method === 'POST') {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    req.on('end', () => {
      const body = JSON.stringify({ bytes });
      res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    return;
  }
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': SMALL.length });
  res.end(SMALL);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : 0}\n`);
});
process.on('SIGTERM', () => process.exit(0));
