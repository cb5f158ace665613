/*
 * Spawns the real `vcs-agent` command line (node --import tsx cli/vcs-agent.ts) against an
 * in-process gateway and a local VCS, all on 127.0.0.1 with port 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gateway } from '../../lib/gateway/gateway.js';
import { MemoryPoolStore } from '../../lib/pools/memory-pool-store.js';
import { createPool } from '../../lib/pools/pool-service.js';
import { decodePoolToken } from '../../lib/protocol/token.js';
import { MemoryLogger } from '../helpers/memory-logger.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const AGENT_CLI = join(REPO_ROOT, 'cli', 'vcs-agent.ts');
export const GATEWAY_CLI = join(REPO_ROOT, 'cli', 'vcs-gateway.ts');

/** Environment for a spawned agent: nothing inherited but PATH/HOME, so the host's proxy or GODEBUG cannot leak in. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', NODE_NO_WARNINGS: '1' };
  return { ...env, ...extra };
}

export interface SpawnedAgent {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** JSON log lines printed so far (stdout), parsed; non-JSON lines skipped. */
  logs(): Array<Record<string, unknown>>;
  /** Resolves once a log line matches; rejects after `timeoutMs` or if the process exits first. */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number, what?: string): Promise<Record<string, unknown>>;
  /** Resolves once stderr matches. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with all stdout once it matches `pattern`, rejects after `timeoutMs`. */
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (or 128+signal), rejects after `timeoutMs`. */
  exited(timeoutMs?: number): Promise<number>;
  kill(signal?: NodeJS.Signals): void;
}

/** Runs the CLI; `env` is the whole environment (see {@link cleanEnv}). */
export function spawnAgent(args: readonly string[], env: Record<string, string>, nodeArgs: readonly string[] = []): SpawnedAgent {
  const child = spawn(process.execPath, ['--import', 'tsx', ...nodeArgs, AGENT_CLI, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  let exitCode: number | undefined;
  const exit = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => {
      exitCode = code ?? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : 2);
      resolve(exitCode);
    });
  });
  const logs = (): Array<Record<string, unknown>> => {
    const lines: Array<Record<string, unknown>> = [];
    for (const line of out.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // A partial line: the rest arrives with the next chunk.
      }
    }
    return lines;
  };
  const poll = <T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      const tick = (): void => {
        const found = check();
        if (found !== undefined) return resolve(found);
        if (exitCode !== undefined) return reject(new Error(`agent exited (${exitCode}) before ${what}\nstdout:\n${out}\nstderr:\n${err}`));
        if (Date.now() > deadline) return reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}\nstdout:\n${out}\nstderr:\n${err}`));
        setTimeout(tick, 10);
      };
      tick();
    });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    logs,
    waitForLog: (predicate, timeoutMs = 15_000, what = 'a log line') => poll(() => logs().find(predicate), timeoutMs, what),
    waitForStderr: (pattern, timeoutMs = 15_000) => poll(() => (pattern.test(err) ? err : undefined), timeoutMs, `stderr matching ${pattern}`),
    waitForStdout: (pattern, timeoutMs = 15_000) => poll(() => (pattern.test(out) ? out : undefined), timeoutMs, `stdout matching ${pattern}`),
    exited: (timeoutMs = 15_000) =>
      Promise.race([
        exit,
        new Promise<number>((_, reject) => {
          const timer = setTimeout(() => reject(new Error(`agent did not exit within ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err}`)), timeoutMs);
          exit.then(() => clearTimeout(timer), () => clearTimeout(timer));
        }),
      ]),
    kill: (signal = 'SIGTERM') => {
      if (exitCode === undefined) child.kill(signal);
    },
  };
}

export interface GatewayFixture {
  gateway: Gateway;
  gatewayLogger: MemoryLogger;
  store: MemoryPoolStore;
  token: string;
  key: string;
  pool: string;
  gatewayUrl: string;
  port: number;
  /** `private://<pool><path>`, body collected. */
  request(path: string, init?: { method?: string; headers?: Record<string, string> }): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

/** A gateway with one pool; `host` is the name put in the token (default 127.0.0.1). */
export async function startGateway(
  options: { tls?: { cert: string; key: string }; host?: string; port?: number; keepalive?: { intervalMs: number; timeoutMs: number } } = {},
): Promise<GatewayFixture> {
  const store = new MemoryPoolStore();
  const gatewayLogger = new MemoryLogger();
  const gateway = new Gateway({
    store,
    logger: gatewayLogger,
    queueTimeoutMs: 15_000,
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    ...(options.keepalive === undefined ? {} : { keepalive: options.keepalive }),
  });
  const address = await gateway.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  const scheme = options.tls === undefined ? 'http' : 'https';
  const gatewayUrl = `${scheme}://${options.host ?? '127.0.0.1'}:${address.port}`;
  const pool = 'cli-pool';
  const { token } = await createPool(store, { name: pool, description: 'cli spec pool', gatewayUrl });
  return {
    gateway,
    gatewayLogger,
    store,
    token,
    key: decodePoolToken(token).key,
    pool,
    gatewayUrl,
    port: address.port,
    async request(path, init = {}) {
      const response = await gateway.request(`private://${pool}${path}`, init);
      const chunks: Buffer[] = [];
      for await (const chunk of response.body) chunks.push(chunk as Buffer);
      return { status: response.status, body: Buffer.concat(chunks).toString('utf8') };
    },
    async close() {
      gateway.destroy();
    },
  };
}

export interface VcsFixture {
  url: string;
  server: Server;
  requests: Array<{ method: string; url: string; headers: IncomingMessage['headers'] }>;
  /** Requests whose URL contains `slow` wait until this is called. */
  release(): void;
  close(): Promise<void>;
}

/** A local VCS: answers JSON; URLs containing `slow` are held until `release()`. */
export async function startVcs(handler?: (req: IncomingMessage, res: ServerResponse) => void): Promise<VcsFixture> {
  const requests: VcsFixture['requests'] = [];
  let held: Array<() => void> = [];
  let released = false;
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (handler !== undefined) return handler(req, res);
    req.resume();
    const answer = (): void => {
      const body = JSON.stringify({ ok: true, url: req.url });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if ((req.url ?? '').includes('slow') && !released) held.push(answer);
    else answer();
  });
  const address = await new Promise<AddressInfo>((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address() as AddressInfo)));
  return {
    url: `http://127.0.0.1:${address.port}`,
    server,
    requests,
    release() {
      released = true;
      for (const answer of held) answer();
      held = [];
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Waits (bounded) until the gateway has `count` agents for the pool with `connectionsEach`
 * connections each (default 2, the CLI's default --gateway-connections) that are not draining.
 */
export async function waitForAgents(fixture: GatewayFixture, count: number, timeoutMs = 15_000, connectionsEach = 2): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const perAgent = new Map<string, number>();
    for (const connection of fixture.gateway.connections(fixture.pool)) {
      if (connection.draining || connection.streamsIdle + connection.streamsBusy === 0) continue;
      perAgent.set(connection.agentId, (perAgent.get(connection.agentId) ?? 0) + 1);
    }
    const ready = [...perAgent.values()].filter((connections) => connections >= connectionsEach).length;
    if (ready >= count) return;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${count} agent(s) with ${connectionsEach} connection(s) each; have ${ready}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Runs `vcs-gateway` with `args` (and `env` besides PATH); `onLine` sees each JSON log line and may return a promise to await before the process is stopped. */
export function runGateway(
  args: string[],
  onLine?: (line: Record<string, unknown>) => Promise<unknown> | undefined,
  env: Readonly<Record<string, string>> = {},
): Promise<{ code: number | null; stdout: string; stderr: string; waited: unknown }> {
  const child = spawn(process.execPath, ['--import', 'tsx', GATEWAY_CLI, ...args], { cwd: REPO_ROOT, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let waited: Promise<unknown> = Promise.resolve(undefined);
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const line of chunk.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const task = onLine?.(JSON.parse(line) as Record<string, unknown>);
        if (task !== undefined) {
          waited = task.then(
            (value) => value,
            (error: unknown) => error,
          );
          waited.finally(() => child.kill('SIGTERM'));
        }
      } catch {
        // a partial line
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      waited.then((value) => resolve({ code, stdout, stderr, waited: value }));
    }),
  );
}
