/*
 * `npm run bench:scale` (also run at the end of `npm run bench`): the gateway at scale, with
 * real processes on 127.0.0.1 (issue 8, item 4). Three parts:
 *
 *  1. Many agent connections on one replica: one `vcs-gateway serve` process and AGENTS
 *     `TunnelClient`s (gatewayConnections 1, STREAMS streams each) packed into WORKERS agent
 *     processes (bench/scale-agents.ts), so that the gateway's process is what is measured:
 *     its RSS before any agent and with all of them, the time to connect them all, its CPU
 *     while idle with the connections held (keepalive PINGs both ways), once at the default
 *     intervals and once FAST_FACTOR times faster to separate the cost of a ping from the
 *     rest, and one request through every pool.
 *  2. Reconnect storm: three replicas on one private redis-server with peer forwarding,
 *     agents dialling through a round-robin TCP balancer (spec/helpers/tcp-balancer.ts), so
 *     each replica holds STORM connections; one replica is killed with SIGKILL and the bench
 *     times until all of its agents are connected elsewhere, and counts their dial attempts
 *     per 100 ms window. A light request load through a balancer over the front doors runs
 *     meanwhile.
 *  3. A forwarded hop against a local one: two replicas with peer forwarding, one agent (the
 *     built CLI) connected to replica A only; autocannon against A's front door (served
 *     locally) and B's (forwarded to A), and one large GET through each, in alternating rounds.
 *  4. In process: the router's cost per request against the number of connections of a pool.
 *
 * Prints a table and writes bench/results/scale.json. It never asserts a timing. Knobs
 * (environment): BENCH_SCALE_AGENTS (1000), BENCH_SCALE_STREAMS (4), BENCH_SCALE_WORKERS (4),
 * BENCH_SCALE_POOLS (10), BENCH_SCALE_STORE (redis | file: part 1's pool store; with redis the
 * live registry's cost is included), BENCH_SCALE_IDLE_S (30), BENCH_SCALE_FAST_FACTOR (10),
 * BENCH_SCALE_FAST_IDLE_S (10), BENCH_SCALE_STORM (500), BENCH_SCALE_HOP_S (3),
 * BENCH_SCALE_HOP_MIB (256), BENCH_SCALE_HOP_CONNECTIONS (16), BENCH_SCALE_HOP_ROUNDS (3: local and
 * forwarded alternate, medians reported), BENCH_SCALE_PARTS (1,2,3,4).
 * Diagnostics: BENCH_SCALE_HEAP=1 (heap snapshots of part 1's gateway, summed by constructor),
 * BENCH_SCALE_GATEWAY_NODE_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"),
 * BENCH_SCALE_KEEP_LOGS=1 (keep the processes' logs).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { FilePoolStore } from '../lib/pools/file-pool-store.js';
import { createPool } from '../lib/pools/pool-service.js';
import { PoolRoute, type RoutedHandler } from '../lib/gateway/pool-route.js';
import type { PoolStore } from '../lib/pools/pool-store.js';
import { RedisPoolStore } from '../lib/pools/redis-pool-store.js';
import { startRedisServer, type RunningRedis } from '../spec/helpers/redis-server.js';
import { startTcpBalancer, type TcpBalancer } from '../spec/helpers/tcp-balancer.js';
import type { ClientReport } from './scale-agents.js';
import { waitForFile } from './wait-for-file.js';
import { cpuMicros, processLauncher } from './processes.js';

const MiB = 1024 * 1024;
const knob = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`Invalid ${name}=${raw}: expected a non-negative number`);
  return value;
};
const AGENTS = knob('BENCH_SCALE_AGENTS', 1000);
const STREAMS = knob('BENCH_SCALE_STREAMS', 4);
const WORKERS = Math.max(1, knob('BENCH_SCALE_WORKERS', 4));
const POOLS = Math.max(1, knob('BENCH_SCALE_POOLS', 10));
const STORE = process.env.BENCH_SCALE_STORE ?? 'redis';
const IDLE_S = knob('BENCH_SCALE_IDLE_S', 30);
const FAST_FACTOR = knob('BENCH_SCALE_FAST_FACTOR', 10);
const FAST_IDLE_S = knob('BENCH_SCALE_FAST_IDLE_S', 10);
const STORM = knob('BENCH_SCALE_STORM', 500);
const HOP_S = knob('BENCH_SCALE_HOP_S', 3);
const HOP_SIZE = knob('BENCH_SCALE_HOP_MIB', 256) * MiB;
const HOP_CONNECTIONS = knob('BENCH_SCALE_HOP_CONNECTIONS', 16);
const HOP_ROUNDS = Math.max(1, knob('BENCH_SCALE_HOP_ROUNDS', 3));
const PARTS = new Set((process.env.BENCH_SCALE_PARTS ?? '1,2,3,4').split(',').map((part) => part.trim()));
// Heap snapshots of part 1's gateway before and with the connections, summed by constructor (slow: off by default).
const HEAP = process.env.BENCH_SCALE_HEAP === '1';
if (STORE !== 'redis' && STORE !== 'file') throw new Error(`Invalid BENCH_SCALE_STORE=${STORE}: expected redis or file`);

// The library's defaults (docs/tunnel-client.md, docs/gateway.md): agent 20 s, gateway 30 s.
const AGENT_KEEPALIVE_MS = 20_000;
const GATEWAY_KEEPALIVE_S = 30;
const ROOT = new URL('..', import.meta.url).pathname;
const GATEWAY_CLI = join(ROOT, 'dist/cli/vcs-gateway.js');
const PROJECT = '/api/v4/projects/bench%2Frepo';
const PEER_TOKEN = 'bench-scale-peer-token-5e1f09';
// Node flags for the gateway processes, to profile them (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof).
const NODE_FLAGS = (process.env.BENCH_SCALE_GATEWAY_NODE_FLAGS ?? '').split(' ').filter((flag) => flag !== '');

const children: ChildProcess[] = [];
const work = mkdtempSync(join(tmpdir(), 'vcs-agent-bench-scale-'));
const start = processLauncher(ROOT, work, children);
const keepAlive = new Agent({ keepAlive: true, maxSockets: 64 });

function log(message: string): void {
  process.stderr.write(`bench scale: ${message}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** CPU time a process has used so far (user + system), in milliseconds. */
const cpuMs = (pid: number): number => cpuMicros(pid) / 1000;

/* ---------- processes and /proc ---------- */

/** Current RSS of a process, from /proc (MiB). */
function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** The kernel's count of connections dropped because a listen queue was full (all sockets of the machine). */
function listenOverflows(): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((line) => line.startsWith('TcpExt:'));
  const names = (lines[0] ?? '').split(/\s+/);
  const values = (lines[1] ?? '').split(/\s+/);
  return Number(values[names.indexOf('ListenOverflows')] ?? NaN);
}

/** Self size and count per constructor (JS objects) or name (Node's native objects), from a heap snapshot. */
type HeapSummary = Map<string, { count: number; bytes: number }>;

/** Makes the process (started with --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=work) write a heap snapshot; sums it. */
async function heapSnapshot(pid: number): Promise<HeapSummary> {
  const known = new Set(readdirSync(work));
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + 60_000;
  let file: string | undefined;
  let size = -1;
  for (;;) {
    await sleep(250);
    file ??= readdirSync(work).find((name) => name.endsWith('.heapsnapshot') && !known.has(name));
    if (file !== undefined) {
      const now = statSync(join(work, file)).size;
      // Written by the process's main thread in one go: complete once it stops growing.
      if (now === size && now > 0) break;
      size = now;
    }
    if (Date.now() > deadline) throw new Error(`no heap snapshot from ${pid} within 60 s`);
  }
  const snapshot = JSON.parse(readFileSync(join(work, file as string), 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  rmSync(join(work, file as string));
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = [fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size')];
  const summary: HeapSummary = new Map();
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    const type = types[snapshot.nodes[i + typeAt] as number] as string;
    const name = snapshot.strings[snapshot.nodes[i + nameAt] as number] as string;
    const key = type === 'object' || type === 'native' || type === 'closure' ? `${name}${type === 'closure' ? '()' : ''}` : `(${type})`;
    const entry = summary.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += snapshot.nodes[i + sizeAt] as number;
    summary.set(key, entry);
  }
  return summary;
}

/** What grew between two heap summaries, largest first, per connection. */
function heapGrowth(before: HeapSummary, after: HeapSummary, connections: number, top = 24): Array<{ what: string; perConnection: number; bytesPerConnection: number }> {
  const rows: Array<{ what: string; perConnection: number; bytesPerConnection: number }> = [];
  for (const [what, { count, bytes }] of after) {
    const was = before.get(what) ?? { count: 0, bytes: 0 };
    rows.push({ what, perConnection: (count - was.count) / connections, bytesPerConnection: (bytes - was.bytes) / connections });
  }
  return rows.sort((x, y) => y.bytesPerConnection - x.bytesPerConnection).slice(0, top);
}

const heapTotal = (summary: HeapSummary): number => [...summary.values()].reduce((sum, entry) => sum + entry.bytes, 0);

/** CPU % of one core a process used over `seconds` of doing nothing on our side. */
async function cpuPercentOver(pid: number, seconds: number): Promise<number> {
  const before = cpuMs(pid);
  const started = performance.now();
  await sleep(seconds * 1000);
  return ((cpuMs(pid) - before) / (performance.now() - started)) * 100;
}

/* ---------- the open-file limit ---------- */

/** The soft and hard limit on open files, from /proc/self/limits. */
function openFileLimits(): { soft: number; hard: number } {
  const line = /Max open files\s+(\S+)\s+(\S+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  const value = (text: string | undefined): number => (text === undefined || text === 'unlimited' ? Infinity : Number(text));
  return { soft: value(line?.[1]), hard: value(line?.[2]) };
}

/*
 * Each agent connection is one descriptor in the gateway and one in an agent process; the
 * storm's balancer, in this process, holds two per connection. Node cannot raise its own
 * limit, so when the soft limit is too low the bench re-runs itself under `ulimit -n`
 * (raised to what it needs, within the hard limit), and every process it starts inherits it.
 */
function ensureOpenFiles(): 'ok' | 'reexec' {
  const needed = Math.max(PARTS.has('1') ? AGENTS : 0, PARTS.has('2') ? 2 * 3 * STORM : 0) + 512;
  const { soft, hard } = openFileLimits();
  if (soft >= needed) return 'ok';
  if (hard < needed || process.env.BENCH_SCALE_RAISED_NOFILE === '1') {
    throw new Error(`the open-file limit (ulimit -n: soft ${soft}, hard ${hard}) is below the ${needed} the bench needs for BENCH_SCALE_AGENTS=${AGENTS} and BENCH_SCALE_STORM=${STORM}: raise the hard limit or lower them`);
  }
  log(`ulimit -n is ${soft}: re-running under ulimit -n ${needed}`);
  const result = spawnSync('/bin/sh', ['-c', `ulimit -n ${needed} && exec "$@"`, 'sh', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_SCALE_RAISED_NOFILE: '1' },
  });
  process.exitCode = result.status ?? 1;
  return 'reexec';
}

/* ---------- agent processes ---------- */

interface WorkerReply {
  type: string;
  connected?: number;
  total?: number;
  clients?: ClientReport[];
}

/** One agent process (bench/scale-agents.ts), driven over IPC. */
class AgentWorker {
  readonly child: ChildProcess;
  private waiters = new Map<string, Array<(reply: WorkerReply) => void>>();
  private readonly ready: Promise<WorkerReply>;

  constructor(name: string) {
    const logFile = openSync(join(work, `${name}.log`), 'w');
    this.child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/scale-agents.ts')], { cwd: ROOT, stdio: ['ignore', logFile, logFile, 'ipc'] });
    children.push(this.child);
    this.child.on('message', (reply: WorkerReply) => this.waiters.get(reply.type)?.shift()?.(reply));
    this.ready = this.expect('ready');
  }

  private expect(type: string, timeoutMs = 30_000): Promise<WorkerReply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`agent process ${this.child.pid}: no '${type}' within ${timeoutMs} ms`)), timeoutMs);
      const list = this.waiters.get(type) ?? [];
      this.waiters.set(type, list);
      list.push((reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
    });
  }

  async ask(message: Record<string, unknown>, replyType: string): Promise<WorkerReply> {
    await this.ready;
    const reply = this.expect(replyType);
    this.child.send(message);
    return reply;
  }
}

/** The agent processes of a part: clients spread evenly, every call fanned out to all. */
class AgentFleet {
  private constructor(private readonly workers: AgentWorker[]) {}

  static create(prefix: string): AgentFleet {
    return new AgentFleet(Array.from({ length: WORKERS }, (_, i) => new AgentWorker(`${prefix}-${i}`)));
  }

  get pids(): number[] {
    return this.workers.map((worker) => worker.child.pid as number);
  }

  async start(clients: Array<{ token: string; agentId: string }>, keepaliveMs?: number): Promise<void> {
    await Promise.all(
      this.workers.map((worker, w) =>
        worker.ask({ type: 'start', target: vcsUrl, clients: clients.filter((_, i) => i % this.workers.length === w), parallelism: STREAMS, keepaliveMs }, 'started'),
      ),
    );
  }

  async connected(): Promise<number> {
    const replies = await Promise.all(this.workers.map((worker) => worker.ask({ type: 'status' }, 'status')));
    return replies.reduce((sum, reply) => sum + (reply.connected ?? 0), 0);
  }

  /** Polls until `count` clients are connected (every `everyMs`), bounded. */
  async waitConnected(count: number, timeoutMs: number, everyMs = 100, done = (connected: number) => connected >= count): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const connected = await this.connected();
      if (done(connected)) return;
      if (Date.now() > deadline) throw new Error(`only ${connected} of ${count} agent connections after ${timeoutMs} ms`);
      await sleep(everyMs);
    }
  }

  async reports(): Promise<ClientReport[]> {
    const replies = await Promise.all(this.workers.map((worker) => worker.ask({ type: 'report' }, 'report')));
    return replies.flatMap((reply) => reply.clients ?? []);
  }

  async destroyClients(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.ask({ type: 'destroy' }, 'destroyed')));
  }

  close(): void {
    for (const worker of this.workers) worker.child.kill('SIGKILL');
  }
}

/* ---------- gateways, pools, requests ---------- */

interface GatewayProcess {
  child: ChildProcess;
  pid: number;
  agentsPort: number;
  frontDoorPort: number;
  peerPort: number | undefined;
}

async function startGateway(name: string, store: string[], extra: string[] = [], env: NodeJS.ProcessEnv = {}, nodeFlags: string[] = []): Promise<GatewayProcess> {
  const { child, logFile } = start(name, [...NODE_FLAGS, ...nodeFlags, GATEWAY_CLI, 'serve', ...store, '--listen', '127.0.0.1:0', '--front-door', '127.0.0.1:0', '--shutdown-grace', '2', ...extra], env);
  const agentsPort = Number((await waitForFile(logFile, /gateway listening for agents","address":"127\.0\.0\.1:(\d+)"/))[1]);
  const frontDoorPort = Number((await waitForFile(logFile, /front door listening","address":"127\.0\.0\.1:(\d+)"/))[1]);
  const peer = extra.includes('--peer-listen') ? Number((await waitForFile(logFile, /peer listener listening","address":"127\.0\.0\.1:(\d+)"/))[1]) : undefined;
  return { child, pid: child.pid as number, agentsPort, frontDoorPort, peerPort: peer };
}

function replicaArgs(id: string): string[] {
  return ['--replica-id', id, '--peer-listen', '127.0.0.1:0'];
}

async function stopGateway(gateway: GatewayProcess): Promise<void> {
  if (gateway.child.exitCode !== null || gateway.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => gateway.child.once('exit', () => resolve()));
  // SIGTERM (a profile gets written), SIGKILL if it is not gone within 5 s.
  gateway.child.kill('SIGTERM');
  const timer = setTimeout(() => gateway.child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Creates `count` pools in `store`; returns their names and tokens. */
async function createPools(store: PoolStore, prefix: string, count: number, gatewayUrl: string): Promise<Array<{ name: string; token: string }>> {
  const out: Array<{ name: string; token: string }> = [];
  for (let i = 0; i < count; i++) {
    const name = `${prefix}-${i}`;
    const { token } = await createPool(store, { name, gatewayUrl });
    out.push({ name, token });
  }
  return out;
}

/** A redis-server of our own and a pool store on it (closed by `stop`). */
async function redisWithStore(): Promise<{ redis: RunningRedis; store: RedisPoolStore; stop: () => Promise<void> }> {
  const redis = await startRedisServer();
  if (redis === null) throw new Error('redis-server not installed: apt-get install -y redis-server (or BENCH_SCALE_PARTS=1,4 with BENCH_SCALE_STORE=file)');
  const client = new Redis(redis.url, { lazyConnect: false, maxRetriesPerRequest: 1 });
  return {
    redis,
    store: new RedisPoolStore({ redis: client }),
    stop: async () => {
      client.disconnect();
      await redis.stop();
    },
  };
}

function get(url: string, timeoutMs = 30_000): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: keepAlive, headers: { 'private-token': 'bench-token' } }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

async function waitForStatus(url: string, status: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await get(url).catch(() => ({ status: 0 }));
    if (got.status === status) return;
    if (Date.now() > deadline) throw new Error(`${url} answered ${got.status}, not ${status}, for ${timeoutMs} ms`);
    await sleep(50);
  }
}

const quantile = (values: number[], q: number): number => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
};

/** Builds the agent identities of a part: `count` clients round-robin over `pools`. */
function clientsFor(pools: Array<{ token: string }>, count: number, prefix: string): Array<{ token: string; agentId: string }> {
  return Array.from({ length: count }, (_, i) => ({ token: (pools[i % pools.length] as { token: string }).token, agentId: `${prefix}-${i}` }));
}

let vcsUrl = '';

/* ---------- part 1: many connections on one replica ---------- */

interface ConnectFigures {
  seconds: number;
  p50ms: number;
  p90ms: number;
  dials: number;
}

/** Starts the clients, waits for all, and times it from the order to start. */
async function connectAll(fleet: AgentFleet, clients: Array<{ token: string; agentId: string }>, keepaliveMs?: number): Promise<ConnectFigures> {
  const t0 = Date.now();
  await fleet.start(clients, keepaliveMs);
  await fleet.waitConnected(clients.length, 120_000, 100);
  const reports = await fleet.reports();
  const times = reports.map((report) => (report.connects[0] ?? NaN) - t0);
  return { seconds: Math.max(...times) / 1000, p50ms: quantile(times, 0.5), p90ms: quantile(times, 0.9), dials: reports.reduce((sum, report) => sum + report.dials.length, 0) };
}

async function partOne() {
  log(`part 1: ${AGENTS} agent connections × ${STREAMS} streams on one gateway (${STORE} store), ${WORKERS} agent processes, ${POOLS} pools`);
  const redis = STORE === 'redis' ? await redisWithStore() : undefined;
  const storeFile = join(work, 'pools.json');
  const storeArgs = redis === undefined ? ['--store', storeFile] : ['--redis', redis.redis.url, '--replica-id', 'scale-1'];
  const store: PoolStore = redis?.store ?? new FilePoolStore(storeFile);
  const fleet = AgentFleet.create('part1-agents');
  try {
    const phase = async (label: string, gatewayKeepaliveS: number, agentKeepaliveMs: number, idleS: number, heap = false) => {
      const heapFlags = heap ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${work}`] : [];
      const gateway = await startGateway(`part1-gateway-${label}`, storeArgs, ['--agent-keepalive-interval', String(gatewayKeepaliveS)], {}, heapFlags);
      // Pools of its own: a token names the gateway's address.
      const poolList = await createPools(store, `scale-${label}`, POOLS, `http://127.0.0.1:${gateway.agentsPort}`);
      await sleep(2000);
      const rssBefore = rssMiB(gateway.pid);
      const cpuNoAgents = await cpuPercentOver(gateway.pid, Math.min(5, idleS));
      const heapBefore = heap ? await heapSnapshot(gateway.pid) : undefined;
      const overflows = listenOverflows();
      const connect = await connectAll(fleet, clientsFor(poolList, AGENTS, `agent-${label}`), agentKeepaliveMs);
      const listenOverflowsDuringConnect = listenOverflows() - overflows;
      log(`${label}: ${AGENTS} connected in ${connect.seconds.toFixed(2)} s (${connect.dials} dials); settling`);
      await sleep(3000);
      const rssWith = rssMiB(gateway.pid);
      const heapWith = heap ? await heapSnapshot(gateway.pid) : undefined;
      const heapFigures =
        heapBefore === undefined || heapWith === undefined
          ? undefined
          : { beforeMiB: heapTotal(heapBefore) / MiB, withMiB: heapTotal(heapWith) / MiB, growth: heapGrowth(heapBefore, heapWith, AGENTS) };
      log(`${label}: gateway CPU while idle for ${idleS} s`);
      const cpuIdle = await cpuPercentOver(gateway.pid, idleS);
      return { gateway, poolList, rssBefore, rssWith, cpuNoAgents, cpuIdle, connect, listenOverflowsDuringConnect, heapFigures };
    };

    // Default keepalive intervals: the figures an operator sees.
    const normal = await phase('default', GATEWAY_KEEPALIVE_S, AGENT_KEEPALIVE_MS, IDLE_S, HEAP);
    // One request through every pool, each answered by one of the connections held.
    const statuses: number[] = [];
    const latencies: number[] = [];
    for (const pool of normal.poolList) {
      const started = performance.now();
      const { status } = await get(`http://127.0.0.1:${normal.gateway.frontDoorPort}/${pool.name}${PROJECT}`);
      latencies.push(performance.now() - started);
      statuses.push(status);
    }
    const rssAfterRequests = rssMiB(normal.gateway.pid);
    const defaults = {
      rssBeforeMiB: normal.rssBefore,
      rssWithMiB: normal.rssWith,
      rssAfterRequestsMiB: rssAfterRequests,
      perConnectionMiB: (normal.rssWith - normal.rssBefore) / AGENTS,
      perStreamMiB: (normal.rssWith - normal.rssBefore) / (AGENTS * STREAMS),
      cpuNoAgentsPercent: normal.cpuNoAgents,
      cpuIdlePercent: normal.cpuIdle,
      connect: normal.connect,
      listenOverflowsDuringConnect: normal.listenOverflowsDuringConnect,
      heap: normal.heapFigures,
      requests: { ok: statuses.filter((status) => status === 200).length, total: statuses.length, p50ms: quantile(latencies, 0.5), maxMs: Math.max(...latencies) },
    };
    await fleet.destroyClients();
    await stopGateway(normal.gateway);

    // The same, with both keepalive intervals FAST_FACTOR times shorter: CPU = base + rate × cost.
    let fast;
    if (FAST_FACTOR > 1 && FAST_IDLE_S > 0) {
      const shorter = await phase('fast', GATEWAY_KEEPALIVE_S / FAST_FACTOR, AGENT_KEEPALIVE_MS / FAST_FACTOR, FAST_IDLE_S);
      await fleet.destroyClients();
      await stopGateway(shorter.gateway);
      // Pings per second at the default intervals: each agent pings every 20 s (an HTTP/2 PING
      // and a control-stream ping), the gateway pings each connection every 30 s.
      const keepaliveCpu = (shorter.cpuIdle - normal.cpuIdle) / (FAST_FACTOR - 1);
      fast = {
        gatewayKeepaliveS: GATEWAY_KEEPALIVE_S / FAST_FACTOR,
        agentKeepaliveMs: AGENT_KEEPALIVE_MS / FAST_FACTOR,
        cpuIdlePercent: shorter.cpuIdle,
        rssWithMiB: shorter.rssWith,
        connect: shorter.connect,
        keepaliveCpuPercentAtDefault: keepaliveCpu,
        restCpuPercent: normal.cpuIdle - keepaliveCpu,
        keepaliveRoundsPerSecondAtDefault: AGENTS / (AGENT_KEEPALIVE_MS / 1000) + AGENTS / GATEWAY_KEEPALIVE_S,
      };
    }
    return { store: STORE, agents: AGENTS, streams: STREAMS, pools: POOLS, workers: WORKERS, default: defaults, fast };
  } finally {
    fleet.close();
    await redis?.stop();
  }
}

/* ---------- part 2: reconnect storm ---------- */

/** Requests in a loop through `url` until `stop()` says so; each outcome with its time. */
async function loadLoop(url: string, stop: () => boolean, outcomes: Array<{ at: number; status: number }>): Promise<void> {
  while (!stop()) {
    const status = await get(url, 10_000).then(
      (res) => res.status,
      () => 0,
    );
    outcomes.push({ at: Date.now(), status });
  }
}

async function partTwo() {
  const total = 3 * STORM;
  log(`part 2: reconnect storm, 3 replicas × ${STORM} agent connections through a TCP balancer, one replica killed`);
  const { redis, store, stop } = await redisWithStore();
  const fleet = AgentFleet.create('part2-agents');
  const replicas: GatewayProcess[] = [];
  let agentsBalancer: TcpBalancer | undefined;
  let frontBalancer: TcpBalancer | undefined;
  try {
    for (const id of ['storm-a', 'storm-b', 'storm-c']) {
      replicas.push(await startGateway(id, ['--redis', redis.url], replicaArgs(id), { VCS_GATEWAY_PEER_TOKEN: PEER_TOKEN }));
    }
    agentsBalancer = await startTcpBalancer(replicas.map((replica) => ({ host: '127.0.0.1', port: replica.agentsPort })));
    frontBalancer = await startTcpBalancer(replicas.map((replica) => ({ host: '127.0.0.1', port: replica.frontDoorPort })));
    const pools = await createPools(store, 'storm', POOLS, `http://127.0.0.1:${agentsBalancer.port}`);
    const connect = await connectAll(fleet, clientsFor(pools, total, 'storm'));
    const spread = replicas.map((replica) => agentsBalancer?.accepted.get(`127.0.0.1:${replica.agentsPort}`) ?? 0);
    log(`${total} connected in ${connect.seconds.toFixed(2)} s, spread ${spread.join(' / ')}; settling`);
    await sleep(3000);
    const [survivorA, survivorB, victim] = replicas as [GatewayProcess, GatewayProcess, GatewayProcess];

    // Light load through the front doors' balancer, before, during and after the kill.
    const outcomes: Array<{ at: number; status: number }> = [];
    let loading = true;
    const loops = Array.from({ length: 4 }, (_, i) => loadLoop(`http://127.0.0.1:${frontBalancer?.port}/${(pools[i % pools.length] as { name: string }).name}${PROJECT}`, () => !loading, outcomes));
    await sleep(1000);

    const cpuBefore = [cpuMs(survivorA.pid), cpuMs(survivorB.pid)];
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    // First the agents notice (their socket closes), then they come back.
    await fleet.waitConnected(-1, 10_000, 20, (connected) => connected < total);
    await fleet.waitConnected(total, 120_000, 100);
    const cpuStorm = [cpuMs(survivorA.pid) - (cpuBefore[0] as number), cpuMs(survivorB.pid) - (cpuBefore[1] as number)];
    await sleep(1000);
    loading = false;
    await Promise.all(loops);

    const reports = await fleet.reports();
    const victims = reports.filter((report) => report.disconnects.some((at) => at >= killedAt));
    const back = victims.map((report) => (report.connects.find((at) => at >= killedAt) ?? NaN) - killedAt);
    const allBackAt = killedAt + Math.max(...back);
    const dials = victims.flatMap((report) => report.dials.filter((at) => at >= killedAt)).map((at) => at - killedAt);
    const windows: number[] = [];
    for (const at of dials) {
      const index = Math.floor(at / 100);
      while (windows.length <= index) windows.push(0);
      windows[index] = (windows[index] as number) + 1;
    }
    const during = outcomes.filter((outcome) => outcome.at >= killedAt && outcome.at <= allBackAt + 1000);
    const failures = during.filter((outcome) => outcome.status !== 200);
    const spreadAfter = replicas.slice(0, 2).map((replica) => agentsBalancer?.accepted.get(`127.0.0.1:${replica.agentsPort}`) ?? 0);
    return {
      replicas: 3,
      connectionsPerReplica: STORM,
      connect,
      spreadBefore: spread,
      victims: victims.length,
      allBackMs: allBackAt - killedAt,
      perAgentMs: { p50: quantile(back, 0.5), p90: quantile(back, 0.9), max: Math.max(...back) },
      dialsAfterKill: dials.length,
      dialsPerVictim: dials.length / Math.max(1, victims.length),
      dialWindows100ms: windows,
      peakDialsPerSecond: Math.max(0, ...windows) * 10,
      survivorCpuMs: cpuStorm,
      acceptedBySurvivorsTotal: spreadAfter,
      load: {
        before: outcomes.filter((outcome) => outcome.at < killedAt).length,
        during: during.length,
        failedDuring: failures.length,
        failedStatuses: [...new Set(failures.map((failure) => failure.status))],
      },
    };
  } finally {
    fleet.close();
    await agentsBalancer?.close();
    await frontBalancer?.close();
    for (const replica of replicas) await stopGateway(replica);
    await stop();
  }
}

/* ---------- part 3: a forwarded hop against a local one ---------- */

/** autocannon in its own process (the load generator is not us), as bench/run.ts does. */
function autocannon(url: string, seconds: number): { rps: number; p50: number; p99: number; total: number; errors: number; non2xx: number } {
  const out = execFileSync(process.execPath, [join(ROOT, 'node_modules/autocannon/autocannon.js'), '-c', String(HOP_CONNECTIONS), '-d', String(seconds), '-j', '-H', 'private-token=bench-token', url], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 64 * MiB,
  });
  const result = JSON.parse(out) as { requests: { average: number; total: number }; latency: { p50: number; p99: number }; errors: number; non2xx: number };
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, total: result.requests.total, errors: result.errors, non2xx: result.non2xx };
}

async function throughput(url: string, size: number): Promise<number> {
  const started = performance.now();
  const result = await get(`${url}/repository/archive?size=${size}`, 300_000);
  if (result.status !== 200 || result.bytes !== size) throw new Error(`GET ${url}: status ${result.status}, ${result.bytes} of ${size} bytes`);
  return size / MiB / ((performance.now() - started) / 1000);
}

async function partThree() {
  log(`part 3: ${HOP_CONNECTIONS} connections for ${HOP_S} s through a local replica and through a forwarding one, ${HOP_ROUNDS} alternating rounds`);
  const { redis, store, stop } = await redisWithStore();
  const replicas: GatewayProcess[] = [];
  try {
    for (const id of ['hop-a', 'hop-b']) replicas.push(await startGateway(id, ['--redis', redis.url], replicaArgs(id), { VCS_GATEWAY_PEER_TOKEN: PEER_TOKEN }));
    const [a, b] = replicas as [GatewayProcess, GatewayProcess];
    const [pool] = await createPools(store, 'hop', 1, `http://127.0.0.1:${a.agentsPort}`);
    const agent = start('hop-agent', [join(ROOT, 'dist/cli/vcs-agent.js'), '--target-base-endpoint', vcsUrl, '--token', (pool as { token: string }).token, '--vendor', 'gitlab', '--parallelism', '16', '--gateway-connections', '1']);
    const local = `http://127.0.0.1:${a.frontDoorPort}/${(pool as { name: string }).name}${PROJECT}`;
    const forwarded = `http://127.0.0.1:${b.frontDoorPort}/${(pool as { name: string }).name}${PROJECT}`;
    await waitForStatus(local, 200, 20_000);
    await waitForStatus(forwarded, 200, 10_000);
    log('warming up both paths');
    for (const url of [local, forwarded]) {
      autocannon(url, 1);
      await throughput(url, 32 * MiB);
    }
    const measure = async (name: string, url: string, round: number) => {
      log(`${name} (round ${round + 1} of ${HOP_ROUNDS}): autocannon ${HOP_CONNECTIONS} connections, ${HOP_S} s, then ${HOP_SIZE / MiB} MiB GET`);
      const cpu0 = [cpuMs(a.pid), cpuMs(b.pid), cpuMs(agent.child.pid as number)];
      const result = autocannon(url, HOP_S);
      // CPU per request of each process during the load (10 ms ticks: meaningful over thousands of requests).
      const cpuUs = (i: number, pid: number): number => ((cpuMs(pid) - (cpu0[i] as number)) * 1000) / result.total;
      const cpu = { cpuAUs: cpuUs(0, a.pid), cpuBUs: cpuUs(1, b.pid), cpuAgentUs: cpuUs(2, agent.child.pid as number) };
      return { ...result, ...cpu, getMiBps: await throughput(url, HOP_SIZE) };
    };
    // Alternating rounds, medians: the machine's load drifts within a run, and the two paths
    // should meet the same drift.
    const rounds: Array<{ local: Awaited<ReturnType<typeof measure>>; forwarded: Awaited<ReturnType<typeof measure>> }> = [];
    for (let round = 0; round < HOP_ROUNDS; round++) rounds.push({ local: await measure('local', local, round), forwarded: await measure('forwarded', forwarded, round) });
    const median = (values: number[]): number => quantile(values, 0.5);
    const summary = (path: 'local' | 'forwarded') => {
      const of = (key: 'rps' | 'p50' | 'p99' | 'cpuAUs' | 'cpuBUs' | 'cpuAgentUs' | 'getMiBps'): number => median(rounds.map((r) => r[path][key]));
      const errors = rounds.reduce((sum, r) => sum + r[path].errors + r[path].non2xx, 0);
      return { rps: of('rps'), p50: of('p50'), p99: of('p99'), cpuAUs: of('cpuAUs'), cpuBUs: of('cpuBUs'), cpuAgentUs: of('cpuAgentUs'), getMiBps: of('getMiBps'), errors };
    };
    const out = {
      rounds,
      local: summary('local'),
      forwarded: summary('forwarded'),
      rpsRatio: median(rounds.map((r) => r.forwarded.rps / r.local.rps)),
      getRatio: median(rounds.map((r) => r.forwarded.getMiBps / r.local.getMiBps)),
    };
    agent.child.kill('SIGKILL');
    return out;
  } finally {
    for (const replica of replicas) await stopGateway(replica);
    await stop();
  }
}

/* ---------- part 4: the router's cost per request against connections per pool ---------- */

/*
 * In process, no network: PoolRoute (lib/gateway/pool-route.ts) picks, for every request, the
 * least busy connection of the pool that has an idle stream, scanning all of the pool's
 * connections. This times dispatch + settle + offer with 16 requests in flight, for pools of
 * 1 to AGENTS connections of STREAMS streams each.
 */
function partFour(): Record<string, number> {
  log('part 4: the router\'s cost per request against connections per pool (in process)');
  interface Connection {
    draining: boolean;
  }
  const stream = { assign(): void {}, abort(): void {}, resume(): void {} };
  type Stream = typeof stream;
  const handler: RoutedHandler<Connection> = {
    onHeaders(): void {},
    onData: () => true,
    onComplete(): void {},
    onError(error): void {
      throw error;
    },
    onSettled(): void {},
  };
  const request = { id: 'r', pool: 'p', method: 'GET', path: '/', rawHeaders: [], body: null, startedAt: 0 };
  const result = { status: 200, bytesIn: 0, bytesOut: 0 };
  const out: Record<string, number> = {};
  for (const count of [...new Set([1, 10, 100, 1000, AGENTS])].filter((n) => n > 0).sort((a, b) => a - b)) {
    const route = new PoolRoute<Connection, Stream>('id', 'p', { queueTimeoutMs: 10_000, maxQueue: 1000 });
    for (let c = 0; c < count; c++) {
      const connection = { draining: false };
      route.addConnection(connection);
      for (let i = 0; i < STREAMS; i++) route.offer(connection, { ...stream });
    }
    const inFlight: Array<{ stream: Stream | undefined; connection: Connection | undefined }> = [];
    const cycle = (): void => {
      inFlight.push(route.dispatch(request, handler));
      if (inFlight.length <= 16) return;
      const done = inFlight.shift() as { stream: Stream; connection: Connection };
      route.settle(done.stream, result);
      route.offer(done.connection, done.stream);
    };
    for (let i = 0; i < 20_000; i++) cycle(); // warm up (JIT)
    const rounds = Math.max(2_000, Math.round(2_000_000 / count));
    const started = performance.now();
    for (let i = 0; i < rounds; i++) cycle();
    out[count] = ((performance.now() - started) * 1000) / rounds;
  }
  return out;
}

/* ---------- the table ---------- */

function printTable(rows: string[][]): void {
  const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]): string => `| ${row.map((cell, i) => cell.padEnd(widths[i] as number)).join(' | ')} |`;
  console.log(line(rows[0] as string[]));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows.slice(1)) console.log(line(row));
}

function report(
  one: Awaited<ReturnType<typeof partOne>> | undefined,
  two: Awaited<ReturnType<typeof partTwo>> | undefined,
  three: Awaited<ReturnType<typeof partThree>> | undefined,
  four: Record<string, number> | undefined,
): void {
  const f = (value: number, digits = 1): string => (Number.isFinite(value) ? value.toFixed(digits) : '-');
  const rows: string[][] = [['measure', 'value']];
  if (one !== undefined) {
    const d = one.default;
    rows.push(
      [`1. gateway RSS idle, no agent (${one.store} store)`, `${f(d.rssBeforeMiB)} MiB`],
      [`1. gateway RSS with ${one.agents} connections × ${one.streams} streams`, `${f(d.rssWithMiB)} MiB (${f(d.rssAfterRequestsMiB)} after one request per pool)`],
      ['1. RSS per connection / per stream (÷ streams)', `${f(d.perConnectionMiB * 1024, 0)} KiB / ${f(d.perStreamMiB * 1024, 0)} KiB`],
      [
        `1. time to connect all ${one.agents} at once`,
        `${f(d.connect.seconds, 2)} s (per agent p50 ${f(d.connect.p50ms, 0)} ms, p90 ${f(d.connect.p90ms, 0)} ms; ${d.connect.dials} dials; listen queue overflows ${d.listenOverflowsDuringConnect})`,
      ],
      ['1. gateway CPU idle, no agent', `${f(d.cpuNoAgentsPercent, 2)} %`],
      [`1. gateway CPU idle, connections held, keepalive 20 s / 30 s (over ${IDLE_S} s)`, `${f(d.cpuIdlePercent, 2)} % of a core`],
      [`1. one request through each of the ${d.requests.total} pools`, `${d.requests.ok}/${d.requests.total} answered 200 (p50 ${f(d.requests.p50ms, 1)} ms, max ${f(d.requests.maxMs, 1)} ms)`],
    );
    if (one.fast !== undefined) {
      const x = one.fast;
      rows.push(
        [`1. same, keepalive ${f(x.agentKeepaliveMs / 1000)} s / ${f(x.gatewayKeepaliveS)} s (over ${FAST_IDLE_S} s)`, `${f(x.cpuIdlePercent, 2)} % (connect ${f(x.connect.seconds, 2)} s)`],
        [
          '1. → at default intervals: keepalive / the rest',
          `${f(x.keepaliveCpuPercentAtDefault, 2)} % / ${f(x.restCpuPercent, 2)} % (${f(x.keepaliveRoundsPerSecondAtDefault, 0)} ping rounds/s)`,
        ],
      );
    }
  }
  if (two !== undefined) {
    rows.push(
      [`2. ${two.replicas} replicas × ${two.connectionsPerReplica} connections, connect`, `${f(two.connect.seconds, 2)} s, spread ${two.spreadBefore.join(' / ')}`],
      [`2. replica killed (-9): its agents`, `${two.victims}`],
      ['2. all of them connected elsewhere after', `${two.allBackMs} ms (survivors took ${two.acceptedBySurvivorsTotal.map((n, i) => n - (two.spreadBefore[i] as number)).join(' / ')})`],
      ['2. per agent: p50 / p90 / max', `${f(two.perAgentMs.p50, 0)} / ${f(two.perAgentMs.p90, 0)} / ${f(two.perAgentMs.max, 0)} ms`],
      ['2. dial attempts after the kill', `${two.dialsAfterKill} (${f(two.dialsPerVictim, 2)} per agent), peak ${two.peakDialsPerSecond}/s over 100 ms`],
      ['2. dials per 100 ms window', two.dialWindows100ms.join(' ')],
      ['2. survivors CPU during the storm', `${two.survivorCpuMs.join(' ms / ')} ms`],
      ['2. requests (4 loops) failing while reconnecting', `${two.load.failedDuring} of ${two.load.during} (statuses ${two.load.failedStatuses.join(', ') || '-'})`],
    );
  }
  if (three !== undefined) {
    const l = three.local;
    const r = three.forwarded;
    const rounds = three.rounds;
    const each = (pick: (round: (typeof rounds)[number]) => number): string => rounds.map((round) => f(pick(round), 0)).join(', ');
    rows.push(
      [`3. req/s, ${HOP_CONNECTIONS} connections: local / forwarded (medians of ${three.rounds.length} rounds)`, `${f(l.rps, 0)} / ${f(r.rps, 0)} (${f(three.rpsRatio, 2)}×; errors ${l.errors} / ${r.errors})`],
      ['3. req/s of each round: local; forwarded', `${each((round) => round.local.rps)}; ${each((round) => round.forwarded.rps)}`],
      ['3. latency p50 / p99 (ms, autocannon\'s 1 ms steps): local', `${f(l.p50, 0)} / ${f(l.p99, 0)}`],
      ['3. latency p50 / p99 (ms): forwarded', `${f(r.p50, 0)} / ${f(r.p99, 0)}`],
      ['3. CPU per request: replica A / B / agent', `local ${f(l.cpuAUs, 0)} / ${f(l.cpuBUs, 0)} / ${f(l.cpuAgentUs, 0)} µs; forwarded ${f(r.cpuAUs, 0)} / ${f(r.cpuBUs, 0)} / ${f(r.cpuAgentUs, 0)} µs`],
      [`3. ${HOP_SIZE / MiB} MiB GET: local / forwarded`, `${f(l.getMiBps, 0)} / ${f(r.getMiBps, 0)} MiB/s (${f(three.getRatio, 2)}×; rounds ${each((round) => round.local.getMiBps)}; ${each((round) => round.forwarded.getMiBps)})`],
    );
  }
  if (four !== undefined) {
    rows.push(['4. router: µs per request, by connections per pool', Object.entries(four).map(([count, us]) => `${count}: ${us.toFixed(2)}`).join(', ')]);
  }
  console.log('');
  printTable(rows);
  const growth = one?.default?.heap as { beforeMiB: number; withMiB: number; growth: Array<{ what: string; perConnection: number; bytesPerConnection: number }> } | undefined;
  if (growth !== undefined) {
    console.log('\n(BENCH_SCALE_HEAP=1: the snapshots themselves grow the RSS and cost CPU; take part 1\'s RSS and CPU from a run without it.)');
    console.log(`\nHeap snapshot of part 1's gateway: ${growth.beforeMiB.toFixed(1)} MiB before the agents, ${growth.withMiB.toFixed(1)} MiB with them; what grew, per connection:`);
    printTable([['what (constructor, or Node native object)', 'count', 'bytes'], ...growth.growth.map((row) => [row.what.slice(0, 60), row.perConnection.toFixed(1), row.bytesPerConnection.toFixed(0)])]);
  }
}

async function main(): Promise<void> {
  if (ensureOpenFiles() === 'reexec') return;
  if (!existsSync(GATEWAY_CLI)) {
    log('building dist/ (npm run build)');
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  }
  const limits = openFileLimits();
  console.log(
    `bench:scale — agents ${AGENTS} × ${STREAMS} streams in ${WORKERS} processes, ${POOLS} pools, part 1 store ${STORE}, idle ${IDLE_S} s (fast ×${FAST_FACTOR}: ${FAST_IDLE_S} s), ` +
      `storm ${STORM} per replica, hop ${HOP_ROUNDS} × (${HOP_CONNECTIONS} connections × ${HOP_S} s + ${HOP_SIZE / MiB} MiB) each way, parts ${[...PARTS].join(',')}; ulimit -n ${limits.soft}; node ${process.version}`,
  );
  const vcs = start('vcs', ['--import', 'tsx', join(ROOT, 'bench/vcs-server.ts')]);
  vcsUrl = `http://127.0.0.1:${Number((await waitForFile(vcs.logFile, /^(\d+)$/m))[1])}`;
  const started = performance.now();
  const one = PARTS.has('1') ? await partOne() : undefined;
  const two = PARTS.has('2') ? await partTwo() : undefined;
  const three = PARTS.has('3') ? await partThree() : undefined;
  const four = PARTS.has('4') ? partFour() : undefined;
  report(one, two, three, four);
  const seconds = (performance.now() - started) / 1000;
  log(`done in ${seconds.toFixed(0)} s`);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(
    join(ROOT, 'bench/results/scale.json'),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, openFileLimit: limits.soft, seconds, knobs: { AGENTS, STREAMS, WORKERS, POOLS, STORE, IDLE_S, FAST_FACTOR, FAST_IDLE_S, STORM, HOP_S, HOP_SIZE, HOP_CONNECTIONS, HOP_ROUNDS }, one, two, three, four }, null, 2)}\n`,
  );
}

main()
  .catch((error: unknown) => {
    console.error('bench scale failed:', error);
    process.exitCode = 1;
  })
  .finally(() => {
    keepAlive.destroy();
    for (const child of children) child.kill('SIGKILL');
    // The processes' logs stay for a failed run.
    if ((process.exitCode === undefined || process.exitCode === 0) && process.env.BENCH_SCALE_KEEP_LOGS !== '1') rmSync(work, { recursive: true, force: true });
    else log(`logs in ${work}`);
  });
