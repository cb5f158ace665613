import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Skip message (and CI failure message) when git is missing. */
export const GIT_MISSING = 'git not installed: apt-get install -y git';

export const GIT = '/usr/bin/git';

/**
 * Whether the test should be skipped for lack of git (with the reason); `undefined` when git is
 * installed or under CI=true, where the spec then fails on the missing binary instead.
 */
export function gitMissingReason(): string | undefined {
  if (existsSync(GIT) || process.env.CI === 'true') return undefined;
  return GIT_MISSING;
}

/** Options of {@link gitHttpBackend}. */
export interface GitHttpBackendOptions {
  /** GIT_PROJECT_ROOT: the request path is resolved under it. */
  readonly projectRoot: string;
  /** Require HTTP Basic credentials (answers 401 with WWW-Authenticate until they match). */
  readonly basicAuth?: { readonly user: string; readonly password: string };
  /** Let pushes through (http.receivepack), so a refused push is the agent's doing. */
  readonly allowPush?: boolean;
}

/** Live view of the CGI processes, for assertions. */
export interface GitHttpBackendState {
  /** http-backend processes still running. */
  running: number;
  /** Response body bytes written, per request path (no query). */
  readonly bytesOut: Map<string, number>;
  /** Requests that reached http-backend: `METHOD path?query`. */
  readonly requests: string[];
  /**
   * When set, responses to POST git-upload-pack stop reading the CGI output after this many
   * body bytes until {@link release} is called: a transfer that is deterministically mid-way.
   */
  stallAfterBytes: number | undefined;
  /** Resumes stalled responses. */
  release(): void;
}

/**
 * A request handler serving git smart HTTP by running `git http-backend` as a CGI
 * (RFC 3875) per request, streaming both bodies. The CGI is killed when the client goes
 * away before the response finished.
 */
export function gitHttpBackend(options: GitHttpBackendOptions): { handler: (req: IncomingMessage, res: ServerResponse) => void; state: GitHttpBackendState } {
  const waiting = new Set<() => void>();
  const state: GitHttpBackendState = {
    running: 0,
    bytesOut: new Map(),
    requests: [],
    stallAfterBytes: undefined,
    release() {
      state.stallAfterBytes = undefined;
      for (const resume of waiting) resume();
      waiting.clear();
    },
  };
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const query = q === -1 ? '' : url.slice(q + 1);
    state.requests.push(`${req.method ?? ''} ${url}`);
    if (options.basicAuth !== undefined) {
      const expected = `Basic ${Buffer.from(`${options.basicAuth.user}:${options.basicAuth.password}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        req.resume();
        res.writeHead(401, { 'www-authenticate': 'Basic realm="git"', 'content-length': '0' });
        res.end();
        return;
      }
    }
    let pathInfo: string;
    try {
      pathInfo = decodeURIComponent(path);
    } catch {
      req.resume();
      res.writeHead(400, { 'content-length': '0' }).end();
      return;
    }
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: options.projectRoot,
      GIT_HTTP_EXPORT_ALL: '1',
      GIT_CONFIG_NOSYSTEM: '1',
      HOME: options.projectRoot,
      REQUEST_METHOD: req.method ?? 'GET',
      PATH_INFO: pathInfo,
      QUERY_STRING: query,
      REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
      ...(options.basicAuth === undefined ? {} : { REMOTE_USER: options.basicAuth.user }),
      ...(req.headers['content-type'] === undefined ? {} : { CONTENT_TYPE: req.headers['content-type'] }),
      ...(req.headers['content-length'] === undefined ? {} : { CONTENT_LENGTH: req.headers['content-length'] }),
      ...(req.headers['content-encoding'] === undefined ? {} : { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] }),
      ...(req.headers['git-protocol'] === undefined ? {} : { GIT_PROTOCOL: String(req.headers['git-protocol']) }),
    };
    const args = ['-c', 'uploadpack.allowFilter=true', ...(options.allowPush ? ['-c', 'http.receivepack=true'] : []), 'http-backend'];
    const child: ChildProcess = spawn(GIT, args, { env, stdio: ['pipe', 'pipe', 'ignore'] });
    state.running++;
    // 'exit', not 'close': a stalled (paused) stdout never ends, so 'close' may never come.
    child.once('exit', () => state.running--);
    child.once('error', () => {
      if (!res.headersSent) res.writeHead(500).end();
    });
    child.stdin?.on('error', () => undefined);
    req.pipe(child.stdin!);
    res.once('close', () => {
      if (res.writableFinished) return;
      child.kill('SIGKILL');
      // Closing our end of the pipe also ends upload-pack, http-backend's own child (EPIPE).
      child.stdout?.destroy();
    });

    const stdout = child.stdout!;
    let head = Buffer.alloc(0);
    let headerDone = false;
    let sent = 0;
    const stallable = req.method === 'POST' && path.endsWith('/git-upload-pack');
    const write = (chunk: Buffer): void => {
      sent += chunk.length;
      state.bytesOut.set(path, (state.bytesOut.get(path) ?? 0) + chunk.length);
      if (!res.write(chunk)) {
        stdout.pause();
        res.once('drain', () => stdout.resume());
      }
      if (stallable && state.stallAfterBytes !== undefined && sent >= state.stallAfterBytes) {
        stdout.pause();
        waiting.add(() => stdout.resume());
      }
    };
    stdout.on('data', (chunk: Buffer) => {
      if (headerDone) return write(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      const endLf = head.indexOf('\n\n');
      const split = end !== -1 && (endLf === -1 || end < endLf) ? { at: end, length: 4 } : endLf !== -1 ? { at: endLf, length: 2 } : undefined;
      if (split === undefined) return;
      headerDone = true;
      let status = 200;
      const headers: string[] = [];
      for (const line of head.subarray(0, split.at).toString('latin1').split(/\r?\n/)) {
        const colon = line.indexOf(':');
        if (colon === -1) continue;
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
        else headers.push(name, value);
      }
      res.writeHead(status, headers);
      const rest = head.subarray(split.at + split.length);
      if (rest.length > 0) write(rest);
    });
    stdout.on('end', () => {
      if (!headerDone) res.writeHead(502).end();
      else res.end();
    });
  };
  return { handler, state };
}
