/*
 * `npm run bench`: the tunnel (front door → gateway → agent → VCS) against the direct path
 * (client → VCS), in one run, on 127.0.0.1. Gateway and agent run as the built CLIs
 * (dist/), each in its own process, so their RSS is their own. A third path, one plain
 * node:http relay (bench/plain-hop.ts), calibrates the run: it is what a single Node hop
 * reaches on this machine today, and the tunnel has two.
 *
 * Prints a table and writes bench/results/latest.json. Environment knobs:
 *   BENCH_BIG_MIB (256), BENCH_RSS_MIB (1024), BENCH_SMALL_COUNT (1000),
 *   BENCH_DURATION_S (5), BENCH_CONNECTIONS (16), BENCH_PARALLELISM (16), BENCH_ROUNDS (3: the
 *   loopback paths are measured in that many interleaved rounds; figures are medians, and the
 *   "tunnel vs hop" column the median of each round's tunnel against that round's hop)
 *
 * Then bench/git-clone.ts and bench/scale.ts run, each in its own process (see the end).
 *
 * WAN mode (bench/wan.ts): a second agent reaches the same gateway through a delaying TCP
 * relay (bench/delay-relay.ts, RTT/2 each way, unbounded buffers), next to one plain TCP
 * connection through the same relay as the ceiling. Knobs: BENCH_WAN_RTT_MS (40; 0 skips
 * WAN mode), BENCH_WAN_MIB (256), BENCH_WAN_ONLY=1 (skip the loopback paths). BENCH_EXTRAS=0 skips
 * the git clone and scale benches that otherwise run after the table. BENCH_RSS_ONLY=1 stops after
 * the RSS figure (idle, then peak while streaming BENCH_RSS_MIB), for memory experiments.
 * BENCH_GATEWAY_NODE_OPTIONS / BENCH_AGENT_NODE_OPTIONS: NODE_OPTIONS for that process only.
 * The rounds have a fourth loopback path, the smallest tunnel of this design (bench/framed-floor.ts,
 * none of this project's code), so a run splits the tunnel's gap to the hop into what the design
 * costs (floor ÷ hop) and what this project's code adds (tunnel ÷ floor). BENCH_FLOOR=0 skips it.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { plainTcp, startTcpEndpoint } from './wan.js';
import { waitForFile } from './wait-for-file.js';
import { cpuMicros, processLauncher } from './processes.js';

const MiB = 1024 * 1024;
const BIG = Number(process.env.BENCH_BIG_MIB ?? 256) * MiB;
const RSS_BODY = Number(process.env.BENCH_RSS_MIB ?? 1024) * MiB;
const SMALL_COUNT = Number(process.env.BENCH_SMALL_COUNT ?? 1000);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const PARALLELISM = Number(process.env.BENCH_PARALLELISM ?? 16);
// One gateway connection (the agent's default is 2): the numbers stay comparable with the
// single-connection ones in docs/performance.md, and PARALLELISM is the whole agent's streams.
const ONE_CONNECTION = ['--gateway-connections', '1'];
const WAN_RTT_MS = Number(process.env.BENCH_WAN_RTT_MS ?? 40);
const WAN_SIZE = Number(process.env.BENCH_WAN_MIB ?? 256) * MiB;
const WAN_ONLY = process.env.BENCH_WAN_ONLY === '1';
const FLOOR = process.env.BENCH_FLOOR !== '0' && !WAN_ONLY && process.env.BENCH_RSS_ONLY !== '1';
// Experiments: node options for the tunnel's two processes only (the relay and the VCS keep theirs).
const GATEWAY_ENV = process.env.BENCH_GATEWAY_NODE_OPTIONS === undefined ? {} : { NODE_OPTIONS: process.env.BENCH_GATEWAY_NODE_OPTIONS };
const AGENT_ENV = process.env.BENCH_AGENT_NODE_OPTIONS === undefined ? {} : { NODE_OPTIONS: process.env.BENCH_AGENT_NODE_OPTIONS };
const ROOT = new URL('..', import.meta.url).pathname;
const PROJECT = '/api/v4/projects/bench%2Frepo';

const children: ChildProcess[] = [];
const work = mkdtempSync(join(tmpdir(), 'vcs-agent-bench-'));
const start = processLauncher(ROOT, work, children);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** Peak and current RSS of a process, from /proc (MiB). */
function rssOf(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { peak: kb('VmHWM') / 1024, now: kb('VmRSS') / 1024 };
}

const keepAlive = new Agent({ keepAlive: true, maxSockets: 64 });

function get(base: string, path: string): Promise<{ status: number; bytes: number }> {
  const url = new URL(base + path);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname + url.search, agent: keepAlive, headers: { 'private-token': 'bench-token' } }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function upload(base: string, size: number): Promise<{ status: number; body: string }> {
  // A git fetch negotiation body: the one large upload every vendor streams (GitLab's JSON API
  // bodies are read whole, up to 8 MiB, to check their keys — docs/policy.md).
  const url = new URL(`${base}/bench/repo.git/git-upload-pack`);
  const chunk = Buffer.alloc(64 * 1024, 'u');
  let left = size;
  const body = new Readable({
    read() {
      if (left <= 0) return void this.push(null);
      const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
      left -= piece.length;
      this.push(piece);
    },
  });
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent: keepAlive, headers: { 'content-type': 'application/x-git-upload-pack-request', 'content-length': size } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    body.pipe(req);
  });
}

/** Polls the tunnel until the agent serves (503 "no agent" until it has connected). */
async function waitForTunnel(base: string, agentLog: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status } = await get(base, PROJECT);
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`the agent did not connect within ${timeoutMs} ms:\n${readFileSync(agentLog, 'utf8').slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function throughputGet(base: string, size: number): Promise<number> {
  const started = performance.now();
  const result = await get(base, `${PROJECT}/repository/archive?size=${size}`);
  const seconds = (performance.now() - started) / 1000;
  if (result.status !== 200 || result.bytes !== size) throw new Error(`GET ${base}: status ${result.status}, ${result.bytes} of ${size} bytes`);
  return size / MiB / seconds;
}

async function throughputUpload(base: string, size: number): Promise<number> {
  const started = performance.now();
  const result = await upload(base, size);
  const seconds = (performance.now() - started) / 1000;
  if (result.status !== 201 || JSON.parse(result.body).bytes !== size) throw new Error(`POST ${base}: status ${result.status} ${result.body.slice(0, 200)}`);
  return size / MiB / seconds;
}

async function latency(base: string, count: number): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const result = await get(base, PROJECT);
    samples.push(performance.now() - started);
    if (result.status !== 200) throw new Error(`small GET ${base}: status ${result.status}`);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number): number => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] as number;
  return { p50: at(0.5), p99: at(0.99) };
}

/** Requests/s from autocannon in its own process (so the load generator is not us). */
function requestsPerSecond(base: string): { rps: number; errors: number; non2xx: number; total: number } {
  const out = execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules/autocannon/autocannon.js'), '-c', String(CONNECTIONS), '-d', String(DURATION_S), '-j', '-H', 'private-token=bench-token', `${base}${PROJECT}`],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * MiB },
  );
  const result = JSON.parse(out) as { requests: { average: number; total: number }; errors: number; non2xx: number };
  return { rps: result.requests.average, errors: result.errors, non2xx: result.non2xx, total: result.requests.total };
}

/** Prints rows as a Markdown table, the first row as its header. */
function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (row: string[]): string => `| ${row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(rows[0]!));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows.slice(1)) console.log(line(row));
}

function printWan(wan: Record<string, number>): void {
  const row = (label: string, plain: number, tunnel: number): string[] => [label, plain.toFixed(1), tunnel.toFixed(1), `${(tunnel / plain).toFixed(2)}×`];
  const size = `${WAN_SIZE / MiB} MiB`;
  const rows = [
    [`WAN ${WAN_RTT_MS} ms RTT (agent ↔ gateway)`, 'plain TCP via relay', 'tunnel', 'tunnel vs plain'],
    row(`${size} GET (MiB/s), warmed`, wan.plainGetMiBps!, wan.tunnelGetMiBps!),
    row(`${size} upload (MiB/s), warmed`, wan.plainUploadMiBps!, wan.tunnelUploadMiBps!),
    row(`${size} GET, first on a fresh link`, wan.plainColdGetMiBps!, wan.tunnelColdGetMiBps!),
    row(`${size} upload, first on a fresh link`, wan.plainColdUploadMiBps!, wan.tunnelColdUploadMiBps!),
  ];
  console.log('');
  printTable(rows);
}

/** The floor path against the hop and the tunnel against the floor, each the median of the rounds' pairs. */
function printFloor(rounds: Record<string, Record<string, number>>[]): void {
  const pair = (a: string, b: string, of: (r: Record<string, number>, name: string) => number, subtract = false): string => {
    const value = median(rounds.map((r) => (subtract ? of(r[a]!, a) - of(r[b]!, b) : of(r[a]!, a) / of(r[b]!, b))));
    return subtract ? `${value < 0 ? '' : '+'}${value.toFixed(3)} ms` : `${value.toFixed(2)}×`;
  };
  const cpu = (r: Record<string, number>, name: string): number => (name === 'hop' ? r.cpuHopUs! : r.cpuGatewayUs! + r.cpuAgentUs!);
  const floor = (key: string): string => median(rounds.map((r) => r.floor![key]!)).toFixed(key.endsWith('ms') ? 3 : 0);
  const rows: string[][] = [
    ['metric', 'floor', 'floor vs hop', 'tunnel vs floor'],
    ['GET (MiB/s)', floor('getMiBps'), pair('floor', 'hop', (r) => r.getMiBps!), pair('tunnel', 'floor', (r) => r.getMiBps!)],
    ['upload (MiB/s)', floor('uploadMiBps'), pair('floor', 'hop', (r) => r.uploadMiBps!), pair('tunnel', 'floor', (r) => r.uploadMiBps!)],
    ['small GET p50 (ms)', floor('p50ms'), pair('floor', 'hop', (r) => r.p50ms!, true), pair('tunnel', 'floor', (r) => r.p50ms!, true)],
    ['small GET p99 (ms)', floor('p99ms'), pair('floor', 'hop', (r) => r.p99ms!, true), pair('tunnel', 'floor', (r) => r.p99ms!, true)],
    [`req/s (errors ${rounds.reduce((sum, r) => sum + r.floor!.errors!, 0)})`, floor('rps'), pair('floor', 'hop', (r) => r.rps!), pair('tunnel', 'floor', (r) => r.rps!)],
    ['gw+agent CPU per request (µs)', `${floor('cpuGatewayUs')} + ${floor('cpuAgentUs')}`, pair('floor', 'hop', cpu), pair('tunnel', 'floor', cpu)],
  ];
  console.log(`\nThe smallest tunnel of this design (bench/framed-floor.ts), median of ${rounds.length} rounds:`);
  printTable(rows);
}

/**
 * WAN mode: tunnel and plain TCP through the delaying relay (see the header). Each path moves
 * WAN_SIZE down and up twice: the first pair, on a fresh agent process, a fresh relay and a
 * fresh link, is printed as such and is also the warm-up the issue's targets ask for ("both
 * paths warmed", as the loopback paths are by their 64 MiB each way); the second pair is the
 * warmed figure. The tunnel's second pair starts with the windows the first grew: a link
 * quiet for under 5 s keeps them (flow-window.ts), as an agent moving one archive after
 * another does.
 */
async function runWan(store: string, gwPort: number, fdPort: number, pids: { gateway: number; vcs: number }): Promise<Record<string, number>> {
  const relay = start('wan-relay', ['--import', 'tsx', join(ROOT, 'bench/delay-relay.ts'), String(gwPort), String(WAN_RTT_MS)]);
  const relayPort = Number((await waitForFile(relay.logFile, /^(\d+)$/m))[1]);
  const token = execFileSync(process.execPath, [join(ROOT, 'dist/cli/vcs-gateway.js'), 'pool', 'create', '--store', store, '--name', 'wan', '--gateway-url', `http://127.0.0.1:${relayPort}`], {
    cwd: ROOT,
    encoding: 'utf8',
  }).trim();
  const vcsBase = `http://127.0.0.1:${wanVcsPort}`;
  const agent = start('agent-wan', [join(ROOT, 'dist/cli/vcs-agent.js'), '--target-base-endpoint', vcsBase, '--token', token, '--vendor', 'gitlab', '--parallelism', String(PARALLELISM), ...ONE_CONNECTION], AGENT_ENV);
  const tunnel = `http://127.0.0.1:${fdPort}/wan`;
  await waitForTunnel(tunnel, agent.logFile, 30_000);
  await latency(tunnel, 20);
  const out: Record<string, number> = {};
  log(`WAN ${WAN_RTT_MS} ms: ${WAN_SIZE / MiB} MiB GET and upload through the tunnel, on the fresh link`);
  out.tunnelColdGetMiBps = await throughputGet(tunnel, WAN_SIZE);
  out.tunnelColdUploadMiBps = await throughputUpload(tunnel, WAN_SIZE);
  log(`WAN ${WAN_RTT_MS} ms: ${WAN_SIZE / MiB} MiB GET and upload through the tunnel, warmed`);
  const tunnelPids = { gateway: pids.gateway, agent: agent.child.pid as number, relay: relay.child.pid as number, vcs: pids.vcs };
  out.tunnelGetMiBps = await cpuPerMiB('tunnel GET, warmed', tunnelPids, () => throughputGet(tunnel, WAN_SIZE));
  out.tunnelUploadMiBps = await cpuPerMiB('tunnel upload, warmed', tunnelPids, () => throughputUpload(tunnel, WAN_SIZE));
  agent.child.kill('SIGKILL');
  const endpoint = await startTcpEndpoint(WAN_SIZE);
  const plainRelay = start('wan-relay-plain', ['--import', 'tsx', join(ROOT, 'bench/delay-relay.ts'), String(endpoint.port), String(WAN_RTT_MS)]);
  const plainPort = Number((await waitForFile(plainRelay.logFile, /^(\d+)$/m))[1]);
  log(`WAN ${WAN_RTT_MS} ms: plain TCP through the same relay, fresh, then warmed`);
  out.plainColdGetMiBps = await plainTcp(plainPort, WAN_SIZE, 'D');
  out.plainColdUploadMiBps = await plainTcp(plainPort, WAN_SIZE, 'U');
  out.plainGetMiBps = await cpuPerMiB('plain TCP down, warmed', { relay: plainRelay.child.pid as number }, () => plainTcp(plainPort, WAN_SIZE, 'D'));
  out.plainUploadMiBps = await cpuPerMiB('plain TCP up, warmed', { relay: plainRelay.child.pid as number }, () => plainTcp(plainPort, WAN_SIZE, 'U'));
  endpoint.server.close();
  return out;
}

/**
 * Runs one WAN transfer (`run` returns MiB/s) and logs the CPU each process spent per MiB
 * (/proc, kernel included; `bench` is this process: the caller, and for plain TCP both its
 * ends) and how many of the machine's cores the path kept busy: whether a path is held by
 * its windows or by the CPU of the processes on it.
 */
async function cpuPerMiB(label: string, pids: Record<string, number>, run: () => Promise<number>): Promise<number> {
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuMicros(pid)]));
  const self = process.cpuUsage();
  const started = performance.now();
  const mibPerS = await run();
  const seconds = (performance.now() - started) / 1000;
  const spent = Object.entries(pids).map(([name, pid]) => [name, cpuMicros(pid) - (before[name] as number)] as const);
  const mine = process.cpuUsage(self);
  spent.push(['bench', mine.user + mine.system]);
  const mib = mibPerS * seconds;
  const total = spent.reduce((sum, [, us]) => sum + us, 0);
  const cores = total / 1e6 / seconds;
  log(`  ${label}: ${mibPerS.toFixed(1)} MiB/s; CPU µs per MiB: ${spent.map(([name, us]) => `${name} ${(us / mib).toFixed(0)}`).join(', ')}; ${cores.toFixed(2)} of ${availableParallelism()} cores busy`);
  return mibPerS;
}

/** The VCS port, for the WAN agent (set in main). */
let wanVcsPort = 0;

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, 'dist/cli/vcs-agent.js'))) {
    log('building dist/ (npm run build)');
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  }
  const vcs = start('vcs', ['--import', 'tsx', join(ROOT, 'bench/vcs-server.ts')]);
  const vcsPort = Number((await waitForFile(vcs.logFile, /^(\d+)$/m))[1]);
  const direct = `http://127.0.0.1:${vcsPort}`;
  wanVcsPort = vcsPort;
  const hop = start('plain-hop', ['--import', 'tsx', join(ROOT, 'bench/plain-hop.ts'), String(vcsPort)]);
  const hopBase = `http://127.0.0.1:${Number((await waitForFile(hop.logFile, /^(\d+)$/m))[1])}`;
  let floorBase = '';
  const floorPids = { gateway: 0, agent: 0 };
  if (FLOOR) {
    const floorGateway = start('floor-gateway', ['--import', 'tsx', join(ROOT, 'bench/framed-floor.ts'), 'gateway']);
    const [, floorAgentPort, floorFrontDoor] = await waitForFile(floorGateway.logFile, /^(\d+) (\d+)$/m);
    const floorAgent = start('floor-agent', ['--import', 'tsx', join(ROOT, 'bench/framed-floor.ts'), 'agent', String(floorAgentPort), String(vcsPort), String(PARALLELISM)]);
    floorBase = `http://127.0.0.1:${Number(floorFrontDoor)}`;
    floorPids.gateway = floorGateway.child.pid as number;
    floorPids.agent = floorAgent.child.pid as number;
    await waitForTunnel(floorBase, floorAgent.logFile);
  }

  const store = join(work, 'pools.json');
  const gateway = start('gateway', [join(ROOT, 'dist/cli/vcs-gateway.js'), 'serve', '--store', store, '--listen', '127.0.0.1:0', '--front-door', '127.0.0.1:0'], GATEWAY_ENV);
  const gwPort = Number((await waitForFile(gateway.logFile, /gateway listening for agents","address":"127\.0\.0\.1:(\d+)"/))[1]);
  const fdPort = Number((await waitForFile(gateway.logFile, /front door listening","address":"127\.0\.0\.1:(\d+)"/))[1]);
  const token = execFileSync(process.execPath, [join(ROOT, 'dist/cli/vcs-gateway.js'), 'pool', 'create', '--store', store, '--name', 'bench', '--gateway-url', `http://127.0.0.1:${gwPort}`], {
    cwd: ROOT,
    encoding: 'utf8',
  }).trim();
  const agent = start('agent', [join(ROOT, 'dist/cli/vcs-agent.js'), '--target-base-endpoint', direct, '--token', token, '--vendor', 'gitlab', '--parallelism', String(PARALLELISM), ...ONE_CONNECTION]);
  const tunnel = `http://127.0.0.1:${fdPort}/bench`;
  await waitForTunnel(tunnel, agent.logFile);
  log(`vcs :${vcsPort}, gateway :${gwPort}, front door :${fdPort}, agent parallelism ${PARALLELISM}`);
  if (WAN_ONLY) return printWan(await runWan(store, gwPort, fdPort, { gateway: gateway.child.pid as number, vcs: vcs.child.pid as number }));

  // RSS once connected, before any body: the floor the streaming figure builds on.
  // (The plain hop's RSS is not shown: it runs under the tsx loader, which the built CLIs do not.)
  const rssIdle = { gateway: rssOf(gateway.child.pid as number), agent: rssOf(agent.child.pid as number) };
  // Peak RSS while streaming RSS_BODY through the tunnel, before anything else runs.
  log(`streaming ${RSS_BODY / MiB} MiB through the tunnel for the RSS figure`);
  const rssThroughput = await throughputGet(tunnel, RSS_BODY);
  const rssAfterBig = { gateway: rssOf(gateway.child.pid as number), agent: rssOf(agent.child.pid as number) };
  if (process.env.BENCH_RSS_ONLY === '1') {
    const idle = rssIdle.gateway.now + rssIdle.agent.now;
    const peak = rssAfterBig.gateway.peak + rssAfterBig.agent.peak;
    log(`RSS idle: gateway ${rssIdle.gateway.now.toFixed(1)} + agent ${rssIdle.agent.now.toFixed(1)} = ${idle.toFixed(1)} MiB`);
    log(`RSS peak streaming ${RSS_BODY / MiB} MiB at ${rssThroughput.toFixed(0)} MiB/s: gateway ${rssAfterBig.gateway.peak.toFixed(1)} + agent ${rssAfterBig.agent.peak.toFixed(1)} = ${peak.toFixed(1)} MiB (${(peak / idle).toFixed(3)}× idle)`);
    return;
  }

  log('warming up all paths');
  for (const base of FLOOR ? [direct, hopBase, tunnel, floorBase] : [direct, hopBase, tunnel]) {
    await throughputGet(base, 64 * MiB);
    await throughputUpload(base, 64 * MiB);
    await latency(base, 300);
  }

  // ROUNDS interleaved rounds (direct, hop, tunnel, then again): a figure is the median of its
  // rounds, and a tunnel ÷ hop ratio the median of the rounds' ratios, each taken from two
  // measurements seconds apart. One 256 MiB transfer lasts under a second, and this machine's
  // speed drifts by more than the targets' margins within a minute (docs/performance.md § Run 19).
  const rounds: Record<string, Record<string, number>>[] = [];
  const pids = { gateway: gateway.child.pid as number, agent: agent.child.pid as number, vcs: vcs.child.pid as number, hop: hop.child.pid as number };
  for (let round = 1; round <= ROUNDS; round++) {
    const results: Record<string, Record<string, number>> = { direct: {}, hop: {}, tunnel: {}, ...(FLOOR ? { floor: {} } : {}) };
    const paths: (readonly [string, string])[] = [
      ['direct', direct],
      ['hop', hopBase],
      ['tunnel', tunnel],
    ];
    if (FLOOR) paths.push(['floor', floorBase]);
    for (const [name, base] of paths) {
      const r = results[name]!;
      log(`round ${round}/${ROUNDS}, ${name}: ${BIG / MiB} MiB GET, ${BIG / MiB} MiB upload, ${SMALL_COUNT} sequential small GETs, ${CONNECTIONS} connections for ${DURATION_S} s`);
      r.getMiBps = await throughputGet(base, BIG);
      r.uploadMiBps = await throughputUpload(base, BIG);
      const lat = await latency(base, SMALL_COUNT);
      r.p50ms = lat.p50;
      r.p99ms = lat.p99;
      const gatewayPid = name === 'floor' ? floorPids.gateway : pids.gateway;
      const agentPid = name === 'floor' ? floorPids.agent : pids.agent;
      const before = { gateway: cpuMicros(gatewayPid), agent: cpuMicros(agentPid), vcs: cpuMicros(pids.vcs), hop: cpuMicros(pids.hop) };
      const rps = requestsPerSecond(base);
      // CPU each process spent per request during the load (10 ms tick resolution, so
      // meaningful over thousands of requests only).
      r.cpuGatewayUs = (cpuMicros(gatewayPid) - before.gateway) / rps.total;
      r.cpuAgentUs = (cpuMicros(agentPid) - before.agent) / rps.total;
      r.cpuVcsUs = (cpuMicros(pids.vcs) - before.vcs) / rps.total;
      r.cpuHopUs = (cpuMicros(pids.hop) - before.hop) / rps.total;
      r.rps = rps.rps;
      r.errors = rps.errors + rps.non2xx;
    }
    rounds.push(results);
    for (const name of FLOOR ? ['tunnel', 'floor'] : ['tunnel']) {
      const t = results[name]!;
      const h = results.hop!;
      log(
        `round ${round}, ${name} ÷ hop: GET ${(t.getMiBps! / h.getMiBps!).toFixed(2)}, upload ${(t.uploadMiBps! / h.uploadMiBps!).toFixed(2)}, ` +
          `p50 +${(t.p50ms! - h.p50ms!).toFixed(3)} ms, p99 +${(t.p99ms! - h.p99ms!).toFixed(3)} ms, req/s ${(t.rps! / h.rps!).toFixed(2)}, ` +
          `CPU ${((t.cpuGatewayUs! + t.cpuAgentUs!) / h.cpuHopUs!).toFixed(2)}`,
      );
    }
  }
  const results: Record<string, Record<string, number>> = { direct: {}, hop: {}, tunnel: {} };
  for (const name of ['direct', 'hop', 'tunnel'] as const) {
    for (const key of Object.keys(rounds[0]![name]!)) results[name]![key] = median(rounds.map((r) => r[name]![key]!));
  }
  results.tunnel!.errors = rounds.reduce((sum, r) => sum + r.tunnel!.errors!, 0);
  /** Median over the rounds of the tunnel's figure against the hop's of the same round. */
  const paired = (of: (r: Record<string, number>) => number, compare: (tunnel: number, hop: number) => number): number =>
    median(rounds.map((r) => compare(of(r.tunnel!), of(r.hop!))));
  const divide = (a: number, b: number): number => a / b;
  const subtract = (a: number, b: number): number => a - b;
  const rssEnd = { gateway: rssOf(gateway.child.pid as number), agent: rssOf(agent.child.pid as number) };
  const wan = WAN_RTT_MS > 0 ? await runWan(store, gwPort, fdPort, { gateway: gateway.child.pid as number, vcs: vcs.child.pid as number }) : undefined;

  const d = results.direct!;
  const h = results.hop!;
  const t = results.tunnel!;
  const ratio = (tunnel: number, base: number): string => `${(tunnel / base).toFixed(2)}×`;
  const times = (value: number): string => `${value.toFixed(2)}×`;
  const rows: string[][] = [
    ['metric', 'direct', 'plain hop', 'tunnel', 'tunnel vs direct', 'tunnel vs hop'],
    [`${BIG / MiB} MiB GET (MiB/s)`, d.getMiBps!.toFixed(0), h.getMiBps!.toFixed(0), t.getMiBps!.toFixed(0), ratio(t.getMiBps!, d.getMiBps!), times(paired((r) => r.getMiBps!, divide))],
    [`${BIG / MiB} MiB upload (MiB/s)`, d.uploadMiBps!.toFixed(0), h.uploadMiBps!.toFixed(0), t.uploadMiBps!.toFixed(0), ratio(t.uploadMiBps!, d.uploadMiBps!), times(paired((r) => r.uploadMiBps!, divide))],
    ['small GET p50 (ms)', d.p50ms!.toFixed(3), h.p50ms!.toFixed(3), t.p50ms!.toFixed(3), `+${(t.p50ms! - d.p50ms!).toFixed(3)} ms`, `+${paired((r) => r.p50ms!, subtract).toFixed(3)} ms`],
    ['small GET p99 (ms)', d.p99ms!.toFixed(3), h.p99ms!.toFixed(3), t.p99ms!.toFixed(3), `+${(t.p99ms! - d.p99ms!).toFixed(3)} ms`, `+${paired((r) => r.p99ms!, subtract).toFixed(3)} ms`],
    [`req/s @${CONNECTIONS} conns`, d.rps!.toFixed(0), h.rps!.toFixed(0), t.rps!.toFixed(0), `${ratio(t.rps!, d.rps!)} (errors ${t.errors})`, times(paired((r) => r.rps!, divide))],
    [
      'CPU per request under load (µs)',
      `vcs ${d.cpuVcsUs!.toFixed(0)}`,
      `hop ${h.cpuHopUs!.toFixed(0)} + vcs ${h.cpuVcsUs!.toFixed(0)}`,
      `gw ${t.cpuGatewayUs!.toFixed(0)} + agent ${t.cpuAgentUs!.toFixed(0)} + vcs ${t.cpuVcsUs!.toFixed(0)}`,
      '',
      `gw+agent ${times(median(rounds.map((r) => (r.tunnel!.cpuGatewayUs! + r.tunnel!.cpuAgentUs!) / r.hop!.cpuHopUs!)))} hop`,
    ],
    [
      'RSS idle, connected (MiB)',
      '-',
      '-',
      `gw ${rssIdle.gateway.now.toFixed(0)} + agent ${rssIdle.agent.now.toFixed(0)} = ${(rssIdle.gateway.now + rssIdle.agent.now).toFixed(0)}`,
      '',
      '',
    ],
    [
      `peak RSS streaming ${RSS_BODY / MiB} MiB (MiB)`,
      '-',
      '-',
      `gw ${rssAfterBig.gateway.peak.toFixed(0)} + agent ${rssAfterBig.agent.peak.toFixed(0)} = ${(rssAfterBig.gateway.peak + rssAfterBig.agent.peak).toFixed(0)}`,
      `at ${rssThroughput.toFixed(0)} MiB/s`,
      '',
    ],
    ['peak RSS whole run (MiB)', '-', '-', `gw ${rssEnd.gateway.peak.toFixed(0)} + agent ${rssEnd.agent.peak.toFixed(0)} = ${(rssEnd.gateway.peak + rssEnd.agent.peak).toFixed(0)}`, '', ''],
  ];
  printTable(rows);
  if (FLOOR) printFloor(rounds);
  if (wan !== undefined) printWan(wan);

  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(
    join(ROOT, 'bench/results/latest.json'),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, parallelism: PARALLELISM, connections: CONNECTIONS, rounds, results, rssIdle, rssAfterBig, rssEnd, rssThroughput, wan, wanRttMs: WAN_RTT_MS }, null, 2)}\n`,
  );
}

main()
  .catch((error: unknown) => {
    console.error('bench failed:', error);
    process.exitCode = 1;
  })
  .finally(() => {
    keepAlive.destroy();
    for (const child of children) child.kill('SIGKILL');
  });

// Last: git clone through the tunnel vs direct (bench/git-clone.ts), then the scale figures
// (bench/scale.ts), each in its own process once everything above has exited; a failure of
// either is reported but does not fail the run above.
process.once('beforeExit', () => {
  if (process.env.BENCH_EXTRAS === '0') return;
  for (const [script, what] of [
    ['bench/git-clone.ts', 'git clone'],
    ['bench/scale.ts', 'scale'],
  ] as const) {
    try {
      execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, script)], { cwd: ROOT, stdio: 'inherit' });
    } catch {
      console.error(`bench: the ${what} bench failed (see above); the results above stand`);
    }
  }
});
