/*
 * A local "VCS" for the forwarding specs: small answers, checksummed uploads, large
 * generated downloads, slow answers and answers held until the spec releases them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generatedBody } from '../helpers/bodies.js';
import { FRONT_DOOR_TOKEN, type Replica } from './pool-replicas.js';

/** Pseudo-random and of an odd length, so a chunk lost, repeated or moved changes the digest. */
export const BODY_CHUNK = randomBytes(256 * 1024 + 7);

export interface ClusterVcs {
  url: string;
  server: Server;
  /** Paths of requests whose caller went away before the answer was complete. */
  aborted: string[];
  /** Bytes written so far per download path. */
  written: Map<string, number>;
  /** Answers every request held under `name` (GET /allowed/hold/<name>). */
  release(name: string): void;
  /** How many requests are held under `name` now. */
  holding(name: string): number;
  close(): Promise<void>;
}

export async function startClusterVcs(): Promise<ClusterVcs> {
  const aborted: string[] = [];
  const written = new Map<string, number>();
  const held = new Map<string, ServerResponse[]>();
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '';
    const path = url.split('?')[0] as string;
    res.once('close', () => {
      if (!res.writableFinished) aborted.push(path);
    });
    if (path === '/allowed/upload') {
      const hash = createHash('sha256');
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
      });
      req.on('end', () => res.end(JSON.stringify({ bytes, digest: hash.digest('hex') })));
      return;
    }
    req.resume();
    const download = /^\/allowed\/download\/(\d+)$/.exec(path);
    if (download !== null) {
      const body = generatedBody(Number(download[1]), BODY_CHUNK);
      written.set(path, 0);
      body.on('data', (chunk: Buffer) => written.set(path, (written.get(path) ?? 0) + chunk.length));
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': download[1] });
      body.pipe(res);
      return;
    }
    if (path === '/allowed/reset-mid-body') {
      // A chunked body (no length: only its terminator tells it complete), then a TCP reset in the middle.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(BODY_CHUNK, () => setTimeout(() => res.socket?.resetAndDestroy(), 50));
      return;
    }
    const slow = /^\/allowed\/slow\/(\d+)$/.exec(path);
    if (slow !== null) {
      setTimeout(() => res.end(`slow ${slow[1]}`), Number(slow[1]));
      return;
    }
    const hold = /^\/allowed\/hold\/([a-z0-9-]+)$/.exec(path);
    if (hold !== null) {
      const name = hold[1] as string;
      held.set(name, [...(held.get(name) ?? []), res]);
      res.once('close', () => held.set(name, (held.get(name) ?? []).filter((r) => r !== res)));
      return;
    }
    res.end(`vcs saw ${req.method ?? '?'} ${url}`);
  };
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    aborted,
    written,
    release: (name) => {
      for (const res of held.get(name) ?? []) res.end(`released ${name}`);
      held.delete(name);
    },
    holding: (name) => (held.get(name) ?? []).length,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** What a front-door call came back with: a status and code, or the socket error of a connection that broke. */
export interface CallResult {
  status: number;
  code?: string;
  message?: string;
  body: string;
  /** A socket error (ECONNRESET, ECONNREFUSED…): no HTTP answer at all. */
  socketError?: string;
  durationMs: number;
}

/** One request through a replica's front door, bounded by `timeoutMs`; never rejects. */
export function call(replica: Replica | string, path: string, init: { method?: string; body?: Buffer; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<CallResult> {
  const base = typeof replica === 'string' ? replica : replica.frontDoorUrl;
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(
      `${base}${path}`,
      { method: init.method ?? 'GET', headers: { 'proxy-authorization': `Bearer ${FRONT_DOOR_TOKEN}`, ...init.headers }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error: NodeJS.ErrnoException) => resolve({ status: res.statusCode ?? 0, body: '', socketError: error.code ?? error.message, durationMs: performance.now() - started }));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const code = res.headers['vcs-gateway-error'] as string | undefined;
          let message: string | undefined;
          if (code !== undefined) message = (JSON.parse(body) as { error: { message: string } }).error.message;
          resolve({ status: res.statusCode ?? 0, body, durationMs: performance.now() - started, ...(code === undefined ? {} : { code }), ...(message === undefined ? {} : { message }) });
        });
      },
    );
    req.setTimeout(init.timeoutMs ?? 15_000, () => req.destroy(Object.assign(new Error('timed out'), { code: 'SPEC_TIMEOUT' })));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ status: 0, body: '', socketError: error.code ?? error.message, durationMs: performance.now() - started }));
    req.end(init.body);
  });
}
