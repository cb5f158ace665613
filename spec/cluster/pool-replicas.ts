/*
 * Real `vcs-gateway serve --redis` replica processes (the built CLI, dist/) for the cluster
 * specs: each on 127.0.0.1 port 0, addresses learnt from its JSON log lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdminClient } from '../../lib/gateway/admin/admin-client.js';
import { waitFor } from '../helpers/wait-for.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const GATEWAY_CLI = join(ROOT, 'dist', 'cli', 'vcs-gateway.js');
export const ADMIN_TOKEN = 'cluster-spec-admin-token-5b1e';
export const FRONT_DOOR_TOKEN = 'cluster-spec-front-door-token-93c2';
/** The peer token every replica started with `peer: true` shares (never to appear in a log line). */
export const PEER_TOKEN = 'cluster-spec-peer-token-7d41e0aa';

export interface Replica {
  id: string;
  child: ChildProcess;
  agentsUrl: string;
  adminUrl: string;
  frontDoorUrl: string;
  admin: AdminClient;
  /** The peer listener's URL, with `peer: true`. */
  peerUrl: string | undefined;
  /** The ports it listens on, to restart it where it was. */
  ports: ReplicaPorts;
  stdout(): string;
  /** Everything it wrote to stderr. */
  stderr(): string;
  logs(): Array<Record<string, unknown>>;
  /** SIGTERM and wait (bounded) for the exit. */
  stop(): Promise<void>;
}

function requireBuild(): void {
  if (!existsSync(GATEWAY_CLI)) throw new Error(`${GATEWAY_CLI} is missing: run npm run build first`);
}

/** The ports of a replica's listeners (0: any free one). */
export interface ReplicaPorts {
  agents: number;
  admin: number;
  frontDoor: number;
  peer: number;
}

/** Options of {@link startReplica} beyond its extra flags. */
export interface ReplicaOptions {
  /** Start the peer listener (`--peer-listen`, token from VCS_GATEWAY_PEER_TOKEN = PEER_TOKEN). */
  peer?: boolean;
  /** Listen on these ports (a restart where the replica was), else on free ones. */
  ports?: ReplicaPorts;
  /** More environment (e.g. another VCS_GATEWAY_PEER_TOKEN). */
  env?: Record<string, string>;
}

/** Starts one replica on `redisUrl`; resolves once its admin listener is up. */
export async function startReplica(redisUrl: string, id: string, extra: readonly string[] = [], options: ReplicaOptions = {}): Promise<Replica> {
  requireBuild();
  const ports = options.ports ?? { agents: 0, admin: 0, frontDoor: 0, peer: 0 };
  const args = [
    GATEWAY_CLI,
    'serve',
    '--redis',
    redisUrl,
    '--replica-id',
    id,
    '--listen',
    `127.0.0.1:${ports.agents}`,
    '--admin-listen',
    `127.0.0.1:${ports.admin}`,
    '--front-door',
    `127.0.0.1:${ports.frontDoor}`,
    ...(options.peer === true ? ['--peer-listen', `127.0.0.1:${ports.peer}`] : []),
    '--shutdown-grace',
    '2',
    // Far beyond every spec: what closes a connection within 1 s must be the change feed.
    '--revalidate-interval',
    '600',
    ...extra,
  ];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      VCS_GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
      VCS_GATEWAY_FRONT_DOOR_TOKEN: FRONT_DOOR_TOKEN,
      ...(options.peer === true ? { VCS_GATEWAY_PEER_TOKEN: PEER_TOKEN } : {}),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const logs = (): Array<Record<string, unknown>> =>
    out
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  try {
    await waitFor(() => out.includes('"admin listening"') || child.exitCode !== null, 20_000, `replica ${id} to start`);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\nstdout:\n${out}\nstderr:\n${err}`);
  }
  if (child.exitCode !== null) throw new Error(`replica ${id} exited (${child.exitCode})\nstdout:\n${out}\nstderr:\n${err}`);
  const addressOf = (message: string): string => `http://${String(logs().find((line) => line.message === message)?.address)}`;
  const adminUrl = addressOf('admin listening');
  const agentsUrl = addressOf('gateway listening for agents');
  const frontDoorUrl = addressOf('front door listening');
  const peerUrl = options.peer === true ? addressOf('peer listener listening') : undefined;
  const portOf = (url: string | undefined): number => (url === undefined ? 0 : Number(new URL(url).port));
  return {
    id,
    child,
    agentsUrl,
    adminUrl,
    frontDoorUrl,
    admin: new AdminClient({ url: adminUrl, token: ADMIN_TOKEN }),
    peerUrl,
    ports: { agents: portOf(agentsUrl), admin: portOf(adminUrl), frontDoor: portOf(frontDoorUrl), peer: portOf(peerUrl) },
    stdout: () => out,
    stderr: () => err,
    logs,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Runs `vcs-gateway <args>` to its end (bounded). */
export function runGatewayCli(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  requireBuild();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [GATEWAY_CLI, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A GET through a replica's front door (node:http, bounded). */
export function frontDoorGet(replica: Replica, path: string): Promise<{ status: number; body: string }> {
  return httpGet(`${replica.frontDoorUrl}${path}`, { 'proxy-authorization': `Bearer ${FRONT_DOOR_TOKEN}` });
}

/** A GET with node:http, bounded to 5 s. */
export function httpGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(5000, () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** A local "VCS" answering every request with what it saw. */
export async function startVcs(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    req.resume();
    res.end(`vcs saw ${req.url ?? ''}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
