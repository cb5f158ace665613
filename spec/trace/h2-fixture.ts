// Test-only: real HTTP/2 servers on 127.0.0.1 (cleartext and TLS with a
// throw-away self-signed certificate made by the openssl CLI) and a client
// connected through traceHttp2Socket, as the agent will connect.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { traceHttp2Socket } from '../../lib/trace/http2-trace.js';

export interface TestCert {
  key: Buffer;
  cert: Buffer;
}

let cachedCert: TestCert | null | undefined;

/** A self-signed certificate for 127.0.0.1 / localhost, or null when openssl is missing. */
export function testCert(): TestCert | null {
  if (cachedCert !== undefined) return cachedCert;
  const dir = mkdtempSync(join(tmpdir(), 'vcs-trace-'));
  try {
    const r = spawnSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
        '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: 'pipe', timeout: 20_000 },
    );
    cachedCert = r.status === 0 ? { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) } : null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return cachedCert;
}

/** Rejects when `p` takes longer than `ms`: every wait in these tests is bounded. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export const BIG_BODY_BYTES = 8 * 1024 * 1024;

export interface TestServer {
  port: number;
  secure: boolean;
  close(): Promise<void>;
  /** Resolves with the server side of the next stream whose :path is `path`. */
  nextStream(path: string): Promise<http2.ServerHttp2Stream>;
}

/**
 * Routes: `/echo` answers "p4yl0ad-b0dy" with a set-cookie; `/big` hashes the
 * request body (sent back as x-body-sha256) and answers `bigBody`; `/slow`
 * never answers; `/goaway` answers, then the server sends GOAWAY "bye".
 */
export async function startServer(secure: boolean, bigBody: Buffer, cert: TestCert | null): Promise<TestServer> {
  const server = secure
    ? http2.createSecureServer({ key: cert!.key, cert: cert!.cert })
    : http2.createServer();
  const waiters = new Map<string, Array<(s: http2.ServerHttp2Stream) => void>>();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => {});
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    const path = String(headers[':path']);
    waiters.get(path)?.shift()?.(stream);
    if (path === '/slow') return;
    const hash = createHash('sha256');
    stream.on('data', (c: Buffer) => hash.update(c));
    stream.on('end', () => {
      if (path === '/big') {
        stream.respond({ ':status': 200, 'x-body-sha256': hash.digest('hex') });
        stream.end(bigBody);
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'text/plain', 'set-cookie': 'sid=c00k1e-s3cr3t' });
      stream.end('p4yl0ad-b0dy');
      if (path === '/goaway') {
        const session = stream.session;
        session?.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id, Buffer.from('bye'));
        // Node's server session otherwise stays open after its own GOAWAY.
        stream.on('close', () => session?.close());
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    secure,
    nextStream(path) {
      return new Promise((resolve) => {
        const list = waiters.get(path) ?? [];
        list.push(resolve);
        waiters.set(path, list);
      });
    },
    close() {
      for (const s of sessions) s.destroy();
      return within(new Promise<void>((resolve) => server.close(() => resolve())), 10_000, 'server close');
    },
  };
}

export interface TracedClient {
  client: http2.ClientHttp2Session;
  inner: net.Socket;
  traced: Duplex;
}

/** Connects the way the agent does: own socket, traced, handed to http2.connect. */
export async function connectTraced(server: TestServer, level: 1 | 2, lines: string[], cert: TestCert | null): Promise<TracedClient> {
  const inner: net.Socket = server.secure
    ? tls.connect({ host: '127.0.0.1', port: server.port, ca: cert!.cert, servername: 'localhost', ALPNProtocols: ['h2'] })
    : net.connect(server.port, '127.0.0.1');
  const traced = traceHttp2Socket(inner, { level, write: (l) => lines.push(l), connectionLabel: `127.0.0.1:${server.port}` });
  const client = http2.connect(`${server.secure ? 'https' : 'http'}://127.0.0.1:${server.port}`, {
    createConnection: () => traced,
    settings: { enablePush: false, initialWindowSize: 4194304, maxHeaderListSize: 10485760 },
  });
  client.on('error', () => {});
  await within(new Promise<void>((resolve, reject) => {
    client.once('remoteSettings', () => resolve());
    client.once('error', reject);
  }), 10_000, 'the server SETTINGS');
  return { client, inner, traced };
}

export interface Reply {
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
}

/** One request; resolves with the whole response. */
export function request(
  client: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: Buffer | string,
  onData?: () => void,
): Promise<Reply> {
  return within(
    new Promise<Reply>((resolve, reject) => {
      const req = client.request(headers);
      const chunks: Buffer[] = [];
      let head: http2.IncomingHttpHeaders = {};
      req.on('response', (h) => (head = h));
      req.on('data', (c: Buffer) => {
        chunks.push(c);
        onData?.();
      });
      req.on('end', () => resolve({ headers: head, body: Buffer.concat(chunks) }));
      req.on('error', reject);
      req.end(body);
    }),
    20_000,
    `the response to ${String(headers[':path'])}`,
  );
}

/** Closes the session and waits for the traced socket and the real one to close. */
export async function closeClient(c: TracedClient): Promise<void> {
  const innerClosed = c.inner.destroyed ? Promise.resolve() : new Promise<void>((r) => c.inner.once('close', () => r()));
  // After a GOAWAY the session may already have closed itself.
  if (!c.client.destroyed) {
    const closed = new Promise<void>((resolve) => c.client.once('close', () => resolve()));
    c.client.close();
    await within(closed, 10_000, 'the session to close');
  }
  await within(innerClosed, 10_000, 'the wrapped socket to close');
}

/** Sum of DATA frame lengths per stream in level-2 "wrote"/"read" lines. */
export function dataBytes(lines: string[], verb: 'wrote' | 'read', stream: number): number {
  const re = new RegExp(`^http2: Framer 0x[0-9a-f]+: ${verb} DATA (?:flags=\\S+ )?stream=${stream} len=(\\d+)$`);
  return lines.reduce((sum, l) => sum + Number(re.exec(l)?.[1] ?? 0), 0);
}
