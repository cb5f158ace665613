/*
 * A local VCS for fault tests, on 127.0.0.1 port 0. Every body is deterministic and starts
 * with the request id, so a caller can checksum what it got and tell a response served for
 * another request (misrouted) from a damaged one (mismatched). Paths (all under /allowed/):
 *
 *   GET  /allowed/dl/<size>/<id>                   <size> bytes of vcsBody(id, size)
 *   POST /allowed/ul/<id>   (PUT too)              JSON {id, bytes, sha256} of the upload
 *   POST /allowed/ul-slow/<id>                     same, reading one chunk per 20 ms
 *   GET  /allowed/reset/<after>/<id>               declares 1 MiB, sends <after> bytes, TCP reset
 *   GET  /allowed/stall/<after>/<id>               declares 1 MiB, sends <after> bytes, then nothing
 *   GET  /allowed/never/<id>                       never answers
 *   GET  /allowed/trickle/<count>/<bytes>/<ms>/<id> <count> chunks of <bytes> every <ms> ms
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

const FILLER = Buffer.alloc(64 * 1024);
for (let i = 0; i < FILLER.length; i++) FILLER[i] = (i * 31 + 7) % 251;

/** The chunks of the body the fault VCS serves (and callers upload) for `id`. */
export function* vcsBody(id: string, size: number): Generator<Buffer> {
  const prefix = Buffer.from(`${id}\n`);
  let left = size;
  const head = prefix.subarray(0, Math.min(left, prefix.length));
  if (head.length > 0) yield head;
  left -= head.length;
  while (left > 0) {
    const piece = left >= FILLER.length ? FILLER : FILLER.subarray(0, left);
    left -= piece.length;
    yield piece;
  }
}

/** SHA-256 (hex) of `vcsBody(id, size)`. */
export function vcsBodyDigest(id: string, size: number): string {
  const hash = createHash('sha256');
  for (const chunk of vcsBody(id, size)) hash.update(chunk);
  return hash.digest('hex');
}

export interface FaultVcs {
  url: string;
  server: Server;
  /** Requests that reached the VCS, by path. */
  seen: string[];
  /** Requests whose connection went away before the VCS finished its answer. */
  aborted: string[];
  /** Requests being answered right now. */
  readonly open: number;
  /** Makes the next `count` requests (any path) reset their connection at once (for the soak). */
  resetNext(count: number): void;
  /** Makes the next `count` downloads of at least 4 KiB reset their connection halfway through the body (for the soak). */
  cutNext(count: number): void;
  close(): Promise<void>;
}

/** Starts the fault VCS; with `tls`, it is HTTPS with that key and certificate. */
export async function startFaultVcs(options: { tls?: { key: string; cert: string } } = {}): Promise<FaultVcs> {
  const seen: string[] = [];
  const aborted: string[] = [];
  const live = new Set<ServerResponse>();
  let resets = 0;
  let cuts = 0;
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    seen.push(url);
    live.add(res);
    res.once('close', () => {
      live.delete(res);
      if (!res.writableFinished) aborted.push(url);
    });
    if (resets > 0) {
      resets--;
      req.socket.resetAndDestroy();
      return;
    }
    const parts = url.split('?')[0]!.split('/').slice(2);
    const [kind] = parts;
    const id = parts[parts.length - 1] ?? '';
    const num = (i: number): number => Number(parts[i]);
    switch (kind) {
      case 'dl': {
        req.resume();
        const size = num(1);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size, 'x-request-id': id });
        const chunks = vcsBody(id, size);
        if (cuts > 0 && size >= 4096) {
          cuts--;
          res.write(Buffer.concat([...chunks]).subarray(0, size >> 1), () => req.socket.resetAndDestroy());
          return;
        }
        const pump = (): void => {
          for (;;) {
            const next = chunks.next();
            if (next.done) return void res.end();
            if (!res.write(next.value)) return void res.once('drain', pump);
          }
        };
        pump();
        return;
      }
      case 'ul':
      case 'ul-slow': {
        const hash = createHash('sha256');
        let bytes = 0;
        req.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          bytes += chunk.length;
          if (kind === 'ul-slow') {
            req.pause();
            setTimeout(() => req.resume(), 20);
          }
        });
        req.on('end', () => {
          const body = JSON.stringify({ id, bytes, sha256: hash.digest('hex') });
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-request-id': id });
          res.end(body);
        });
        return;
      }
      case 'reset':
      case 'stall': {
        req.resume();
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 1024 * 1024 });
        res.write(Buffer.alloc(num(1), 'x'), () => {
          if (kind === 'reset') req.socket.resetAndDestroy();
        });
        return;
      }
      case 'never':
        req.resume();
        return;
      case 'trickle': {
        req.resume();
        const [count, bytes, interval] = [num(1), num(2), num(3)];
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': count * bytes, 'x-request-id': id });
        let sent = 0;
        const timer = setInterval(() => {
          res.write(Buffer.alloc(bytes, 'a'));
          if (++sent === count) {
            clearInterval(timer);
            res.end();
          }
        }, interval);
        res.once('close', () => clearInterval(timer));
        return;
      }
      default:
        req.resume();
        res.writeHead(404, { 'content-length': 0 });
        res.end();
    }
  };
  const server = options.tls === undefined ? createServer(handler) : createTlsServer({ key: options.tls.key, cert: options.tls.cert }, handler);
  const address = await new Promise<AddressInfo>((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address() as AddressInfo)));
  return {
    url: `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${address.port}`,
    server,
    seen,
    aborted,
    get open() {
      return live.size;
    },
    resetNext(count) {
      resets += count;
    },
    cutNext(count) {
      cuts += count;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
