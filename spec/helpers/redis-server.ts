import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Skip message (and CI failure message) when redis-server is missing. */
export const REDIS_MISSING = 'redis-server not installed: apt-get install -y redis-server';

const REDIS_CANDIDATES = ['/usr/bin/redis-server', '/usr/sbin/redis-server', '/usr/local/bin/redis-server'];
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;
const BIND_ATTEMPTS = 5;

function findRedisServer(): string | undefined {
  return REDIS_CANDIDATES.find((candidate) => existsSync(candidate));
}

/**
 * The reason to skip for lack of redis-server; `undefined` when it is installed or under
 * CI=true (where {@link startRedisServer} then throws instead of skipping).
 */
export function redisSkipReason(): string | undefined {
  if (findRedisServer() !== undefined || process.env['CI'] === 'true') return undefined;
  return REDIS_MISSING;
}

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /** Require this password (`requirepass`); the URL then carries it as `redis://:pw@…`. */
  password?: string;
  /** Listen on this port (one attempt) instead of a free one: to restart a server where it was. */
  port?: number;
  /**
   * Keep the data in this directory (the caller's: never removed). A `SAVE` before `kill()`
   * and a restart with the same `dir` and `port` finds the data again, like a Redis with persistence.
   */
  dir?: string;
}

/** A private redis-server started by {@link startRedisServer}: never a system instance. */
export interface RunningRedis {
  /** redis://127.0.0.1:port (with the password when one was set). */
  url: string;
  port: number;
  /** Stops the server (SIGTERM, then SIGKILL after a bound); resolves when it has exited. */
  stop(): Promise<void>;
  /** kill -9: the abrupt loss a failure spec wants. Resolves when it has exited. */
  kill(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function startOnce(binary: string, port: number, dir: string, options: RedisServerOptions): Promise<ChildProcess> {
  // No persistence (nothing written outside dir), loopback only, no protected-mode surprises.
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'];
  if (options.password !== undefined) args.push('--requirepass', options.password);
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}): ${output.trim()}`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (up) return child;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not listen on ${port} within ${START_TIMEOUT_MS} ms: ${output.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Starts a private redis-server on a free loopback port with no persistence.
 * @returns null when redis-server is not installed, unless CI=true, where it throws.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RunningRedis | null> {
  const binary = findRedisServer();
  if (binary === undefined) {
    if (process.env['CI'] === 'true') throw new Error(`${REDIS_MISSING} (CI=true: redis-server is required)`);
    return null;
  }
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'vcs-redis-')));
  let child: ChildProcess | undefined;
  let port = 0;
  let lastError: unknown;
  for (let attempt = 0; attempt < (options.port === undefined ? BIND_ATTEMPTS : 1); attempt++) {
    port = options.port ?? (await freePort());
    try {
      child = await startOnce(binary, port, dir, options);
      break;
    } catch (error) {
      lastError = error;
    }
  }
  if (child === undefined) {
    if (ownDir) await rm(dir, { recursive: true, force: true });
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }
  const running = child;
  const auth = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`;
  const finish = async (signal: NodeJS.Signals): Promise<void> => {
    running.kill(signal);
    const timer = setTimeout(() => running.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited(running);
    clearTimeout(timer);
    if (ownDir) await rm(dir, { recursive: true, force: true });
  };
  return {
    url: `redis://${auth}127.0.0.1:${port}`,
    port,
    stop: () => finish('SIGTERM'),
    kill: () => finish('SIGKILL'),
  };
}
