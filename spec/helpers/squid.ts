import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Skip message (and CI failure message) when squid is missing. */
export const SQUID_MISSING = 'squid not installed: apt-get install -y squid';

const SQUID_CANDIDATES = ['/usr/sbin/squid', '/usr/bin/squid'];
const NCSA_AUTH = '/usr/lib/squid/basic_ncsa_auth';
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;
const BIND_ATTEMPTS = 5;

/** Options of {@link startSquid}. */
export interface SquidOptions {
  /** Require proxy authentication (Basic, checked by basic_ncsa_auth against an htpasswd file). */
  auth?: { user: string; password: string };
  /** Host names squid resolves to 127.0.0.1 from its hosts_file (it never asks real DNS). */
  hosts?: readonly string[];
  /** Listen on this port (one attempt) instead of a free one: to restart a squid where it was. */
  port?: number;
}

/** A squid started by {@link startSquid}. */
export interface RunningSquid {
  /** http://127.0.0.1:port (no credentials). */
  url: URL;
  port: number;
  /** The access log so far ('' before the first entry). CONNECT entries are written when the tunnel closes. */
  accessLog(): Promise<string>;
  /** Polls the access log (bounded) until it matches, and returns it; rejects after timeoutMs. */
  waitForAccessLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Whether the test should be skipped for lack of squid, with the reason; `undefined` when
 * squid is installed or under CI=true (where {@link startSquid} then throws instead).
 */
export function squidMissingReason(): string | undefined {
  if (findSquid() !== undefined || process.env.CI === 'true') return undefined;
  return SQUID_MISSING;
}

/**
 * Starts a real squid in the foreground (`squid -N -f conf`) on 127.0.0.1 and a free port,
 * with a throwaway config, log and PID files in a temp dir, and waits (bounded) until it
 * reports its listening socket open. It serves only clients on loopback, only towards
 * loopback (127.0.0.0/8, ::1), on ports 1024-65535 (anything else gets 403: the "refused
 * CONNECT" case), CONNECT included on any of those ports
 * (squid's stock config limits CONNECT to 443), with caching off.
 *
 * @returns null when squid is not installed, unless CI=true, where it throws.
 */
export async function startSquid(options: SquidOptions = {}): Promise<RunningSquid | null> {
  const binary = findSquid();
  if (binary === undefined) {
    if (process.env.CI === 'true') throw new Error(`${SQUID_MISSING} (CI=true: squid is required)`);
    return null;
  }
  if (options.auth !== undefined && !existsSync(NCSA_AUTH)) {
    throw new Error(`${NCSA_AUTH} is missing; it ships with the squid package: apt-get install -y squid`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'vcs-agent-squid-'));
  // Started as root, squid drops to its cache_effective_user ("proxy" on Debian), which
  // must be able to write the logs and read the password file.
  await chmod(dir, 0o777);
  try {
    if (options.auth !== undefined) {
      const hash = execFileSync('openssl', ['passwd', '-apr1', '-stdin'], {
        input: `${options.auth.password}\n`,
        encoding: 'utf8',
        timeout: 10_000,
      }).trim();
      await writeFile(join(dir, 'passwd'), `${options.auth.user}:${hash}\n`, { mode: 0o644 });
    }
    await writeFile(
      join(dir, 'hosts'),
      ['127.0.0.1 localhost', ...(options.hosts ?? []).map((host) => `127.0.0.1 ${host}`)].join('\n') + '\n',
      { mode: 0o644 },
    );
    let lastError: Error | undefined;
    for (let attempt = 0; attempt < BIND_ATTEMPTS; attempt += 1) {
      const port = options.port ?? (await freePort());
      const conf = join(dir, 'squid.conf');
      await writeFile(conf, squidConf(dir, port, options.auth !== undefined), { mode: 0o644 });
      const child = spawn(binary, ['-N', '-f', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        await waitForListening(child, port, dir);
        return running(child, port, dir);
      } catch (error) {
        lastError = error as Error;
        await stopChild(child);
        // Another process took the port between our probe and squid's bind: try another.
        if (options.port !== undefined) break;
        if (!/Address already in use|Cannot bind|Unable to open HTTP Socket/i.test(lastError.message)) break;
      }
    }
    throw lastError ?? new Error('squid did not start');
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

function findSquid(): string | undefined {
  return SQUID_CANDIDATES.find((candidate) => existsSync(candidate));
}

function squidConf(dir: string, port: number, auth: boolean): string {
  const lines = [
    `http_port 127.0.0.1:${port}`,
    `pid_filename ${dir}/squid.pid`,
    `cache_log ${dir}/cache.log`,
    `access_log stdio:${dir}/access.log squid`,
    'cache_store_log none',
    'logfile_rotate 0',
    `coredump_dir ${dir}`,
    'cache deny all',
    'cache_mem 8 MB',
    'visible_hostname squid.test',
    // Names come from this file only; a name not in it is sent to a resolver on loopback,
    // where nothing answers, so the test never sends a query off the machine.
    `hosts_file ${dir}/hosts`,
    'dns_nameservers 127.0.0.1',
    'pinger_enable off',
    'icp_port 0',
    'htcp_port 0',
    'netdb_filename none',
    'shutdown_lifetime 0 seconds',
    'acl from_loopback src 127.0.0.1/32 ::1',
    'acl to_loopback_only dst 127.0.0.0/8 ::1',
    'acl allowed_ports port 1024-65535',
    'http_access deny !from_loopback',
    'http_access deny !to_loopback_only',
    'http_access deny !allowed_ports',
  ];
  if (auth) {
    lines.push(
      `auth_param basic program ${NCSA_AUTH} ${dir}/passwd`,
      'auth_param basic children 2',
      'auth_param basic realm vcs-agent-test',
      // Each test's password attempt must reach the helper, not a cached verdict.
      'auth_param basic credentialsttl 1 second',
      'authenticate_ttl 0 seconds',
      'acl authenticated proxy_auth REQUIRED',
      'http_access deny !authenticated',
    );
  }
  lines.push('http_access allow from_loopback', 'http_access deny all');
  return lines.join('\n') + '\n';
}

/** A port that was free a moment ago (listen on 0, read it, close). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitForListening(child: ChildProcess, port: number, dir: string): Promise<void> {
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + START_TIMEOUT_MS;
  const failure = async (why: string): Promise<Error> => {
    const cacheLog = await readFile(join(dir, 'cache.log'), 'utf8').catch(() => '');
    return new Error(`squid ${why}:\n${output}\n${cacheLog.split('\n').slice(-20).join('\n')}`);
  };
  // Squid logs this line once its listening socket is open (squid 3 to 6). Waiting for it
  // rather than probing the port keeps probe connections out of the access log, and cannot
  // be fooled by another process that grabbed the port.
  const ready = `Accepting HTTP Socket connections at`;
  while (Date.now() < deadline) {
    if (exited) throw await failure(`exited with ${String(child.exitCode ?? child.signalCode)}`);
    const cacheLog = await readFile(join(dir, 'cache.log'), 'utf8').catch(() => '');
    if (cacheLog.includes(ready) && cacheLog.includes(`127.0.0.1:${port}`)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw await failure(`did not accept connections on 127.0.0.1:${port} within ${START_TIMEOUT_MS} ms`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function running(child: ChildProcess, port: number, dir: string): RunningSquid {
  const logPath = join(dir, 'access.log');
  const accessLog = (): Promise<string> => readFile(logPath, 'utf8').catch(() => '');
  let stopped: Promise<void> | undefined;
  return {
    url: new URL(`http://127.0.0.1:${port}`),
    port,
    accessLog,
    async waitForAccessLog(pattern: RegExp, timeoutMs = 5000): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const log = await accessLog();
        if (pattern.test(log)) return log;
        if (Date.now() >= deadline) throw new Error(`squid access log did not match ${pattern} within ${timeoutMs} ms:\n${log}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    stop(): Promise<void> {
      stopped ??= stopChild(child).then(() => rm(dir, { recursive: true, force: true }));
      return stopped;
    },
  };
}
