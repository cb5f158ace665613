/*
 * `npm run bench:profile`: where the CPU goes on the small-request path. Starts the bench VCS,
 * the plain relay (bench/plain-hop.ts) and the built gateway and agent (dist/), each of the
 * last three under `--cpu-prof`, loads the tunnel and then the relay with autocannon, stops
 * them so V8 writes the profiles, and prints per process the CPU per request and the
 * functions with the most self time (µs per request), so a change to the hot path can be
 * judged function by function. The .cpuprofile files stay in the printed directory (open
 * them in Chrome DevTools for the call tree).
 *
 * Knobs: BENCH_DURATION_S (8), BENCH_CONNECTIONS (16), BENCH_PARALLELISM (16), PROFILE_TOP (25),
 * PROFILE_GATEWAY_FLAGS / PROFILE_AGENT_FLAGS / PROFILE_HOP_FLAGS (extra node flags, space-separated, for experiments),
 * PROFILE_GATEWAY_ARGS (extra vcs-gateway serve arguments), PROFILE_MODE (`small`, the default: small
 * GETs from autocannon, figures per request; `get` / `upload`: PROFILE_MIB-sized downloads or
 * uploads one after the other for BENCH_DURATION_S, figures per MiB), PROFILE_MIB (256), PROFILE_CPU (`0`: no
 * profiler, only the /proc figures: CPU and wake-ups per request, which the profiler's sampling distorts at rest).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:http';
import { join } from 'node:path';
import { waitForFile } from './wait-for-file.js';
import { cpuMicros, wakeups } from './processes.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const PARALLELISM = Number(process.env.BENCH_PARALLELISM ?? 16);
const TOP = Number(process.env.PROFILE_TOP ?? 25);
const ROOT = new URL('..', import.meta.url).pathname;
const PROJECT = '/api/v4/projects/bench%2Frepo';
const work = mkdtempSync(join(tmpdir(), 'vcs-agent-profile-'));
const children: ChildProcess[] = [];

function start(name: string, args: string[], profile: boolean, extraFlags = ''): { child: ChildProcess; logFile: string; dir: string } {
  const logFile = join(work, `${name}.log`);
  const dir = join(work, name);
  const fd = openSync(logFile, 'w');
  const flags = [...(profile && !NO_PROFILER ? ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=250'] : []), ...extraFlags.split(' ').filter((flag) => flag !== '')];
  const child = spawn(process.execPath, [...flags, ...args], { cwd: ROOT, stdio: ['ignore', fd, fd], env: { ...process.env, ...(name === 'gateway' || name === 'agent' ? {} : { VCS_YOUNG_MIB: '' }) } });
  children.push(child);
  return { child, logFile, dir };
}

const MODE = process.env.PROFILE_MODE ?? 'small';
/** PROFILE_CPU=0: no V8 profiler (its 4 kHz sampling thread distorts CPU and wake-ups at rest); only the /proc figures. */
const NO_PROFILER = process.env.PROFILE_CPU === '0';
const MIB = Number(process.env.PROFILE_MIB ?? 256);

/** Downloads `mib` MiB from `url` (the bench VCS's archive path); resolves with the MiB received. */
function download(url: string, mib: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/repository/archive?size=${mib * 1024 * 1024}`, { headers: { 'private-token': 'bench-token' } }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.on('end', () => (bytes === mib * 1024 * 1024 ? resolve(mib) : reject(new Error(`${url}: ${bytes} bytes`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Uploads `mib` MiB to the bench VCS as a git fetch negotiation body (the upload every vendor streams). */
function upload(url: string, mib: number): Promise<number> {
  const target = url.replace(/\/api\/v4\/projects\/bench%2Frepo$/, '/bench/repo.git/git-upload-pack');
  const chunk = Buffer.alloc(64 * 1024, 'u');
  return new Promise((resolve, reject) => {
    const req = request(target, { method: 'POST', headers: { 'content-type': 'application/x-git-upload-pack-request', 'content-length': mib * 1024 * 1024 } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 201 ? resolve(mib) : reject(new Error(`${target}: ${res.statusCode}`))));
    });
    req.on('error', reject);
    let left = mib * 16;
    const pump = (): void => {
      while (left > 0) {
        left--;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

/** The measured load: requests (small mode) or MiB (get and upload modes) done in `seconds`. */
async function measure(url: string, seconds: number): Promise<number> {
  if (MODE === 'small') return load(url, seconds);
  const until = Date.now() + seconds * 1000;
  let mib = 0;
  do mib += await (MODE === 'upload' ? upload(url, MIB) : download(url, MIB));
  while (Date.now() < until);
  return mib;
}

function load(url: string, seconds: number): number {
  const out = execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules/autocannon/autocannon.js'), '-c', String(CONNECTIONS), '-d', String(seconds), '-j', '-H', 'private-token=bench-token', url],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 1024 * 1024 },
  );
  const result = JSON.parse(out) as { requests: { total: number }; non2xx: number; errors: number };
  if (result.non2xx + result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result.requests.total;
}

function micros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function frameKey(frame: ProfileNode['callFrame']): string {
  const file = frame.url.replace(/^.*\/(node_modules\/[^/]+|dist|lib|cli)\//, '$1/').replace(/^node:/, '');
  return `${frame.functionName || '(anonymous)'} ${file}${file === '' ? '' : `:${frame.lineNumber + 1}`}`;
}

/**
 * Self and inclusive time per function, in µs, over the window [from, to] (µs on the
 * profile's clock). Inclusive time counts a function once per sample however deep it recurs.
 */
function times(profile: CpuProfile, from: number, to: number): { self: Map<string, number>; inclusive: Map<string, number>; total: number } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] as number;
    const delta = profile.timeDeltas[i + 1] ?? 0;
    if (t < from || t > to) continue;
    const leaf = byId.get(profile.samples[i] as number) as ProfileNode;
    if (leaf.callFrame.functionName === '(idle)' || leaf.callFrame.functionName === '(program)') continue;
    total += delta;
    const key = frameKey(leaf.callFrame);
    self.set(key, (self.get(key) ?? 0) + delta);
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const frameName = frameKey((byId.get(id) as ProfileNode).callFrame);
      if (seen.has(frameName)) continue;
      seen.add(frameName);
      inclusive.set(frameName, (inclusive.get(frameName) ?? 0) + delta);
    }
  }
  return { self, inclusive, total };
}

function report(name: string, dir: string, requests: number, window: { from: number; to: number }): void {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`no profile in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  // V8's profile clock and process.hrtime are both CLOCK_MONOTONIC in µs: the windows apply as they are.
  const { self, inclusive, total } = times(profile, window.from, window.to);
  const perRequest = (value: number): string => `${(value / requests).toFixed(2).padStart(8)} µs  ${((100 * value) / total).toFixed(1).padStart(5)} %`;
  const unit = MODE === 'small' ? 'request' : 'MiB';
  console.log(`\n## ${name}: ${(total / requests).toFixed(1)} µs of active CPU per ${unit} (${requests} ${unit}s)`);
  console.log('self time:');
  for (const [key, value] of [...self].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`${perRequest(value)}  ${key}`);
  // Inclusive time of this project's own functions and its logger: what each piece of our code costs with what it calls.
  console.log('inclusive time, this project and winston:');
  const ours = [...inclusive].filter(([key]) => / (dist|lib|cli|bench|node_modules\/winston)\//.test(key));
  for (const [key, value] of ours.sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`${perRequest(value)}  ${key}`);
}

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, 'dist/cli/vcs-agent.js'))) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const vcs = start('vcs', ['--import', 'tsx', join(ROOT, 'bench/vcs-server.ts')], false);
  const vcsPort = Number((await waitForFile(vcs.logFile, /^(\d+)$/m))[1]);
  const hop = start('hop', ['--import', 'tsx', join(ROOT, 'bench/plain-hop.ts'), String(vcsPort)], true, process.env.PROFILE_HOP_FLAGS);
  const hopPort = Number((await waitForFile(hop.logFile, /^(\d+)$/m))[1]);
  const store = join(work, 'pools.json');
  const gateway = start('gateway', [join(ROOT, 'dist/cli/vcs-gateway.js'), 'serve', '--store', store, '--listen', '127.0.0.1:0', '--front-door', '127.0.0.1:0', ...(process.env.PROFILE_GATEWAY_ARGS ?? '').split(' ').filter((arg) => arg !== '')], true, process.env.PROFILE_GATEWAY_FLAGS);
  const gwPort = Number((await waitForFile(gateway.logFile, /gateway listening for agents","address":"127\.0\.0\.1:(\d+)"/))[1]);
  const fdPort = Number((await waitForFile(gateway.logFile, /front door listening","address":"127\.0\.0\.1:(\d+)"/))[1]);
  const token = execFileSync(process.execPath, [join(ROOT, 'dist/cli/vcs-gateway.js'), 'pool', 'create', '--store', store, '--name', 'bench', '--gateway-url', `http://127.0.0.1:${gwPort}`], { encoding: 'utf8' }).trim();
  const agent = start('agent', [join(ROOT, 'dist/cli/vcs-agent.js'), '--target-base-endpoint', `http://127.0.0.1:${vcsPort}`, '--token', token, '--vendor', 'gitlab', '--parallelism', String(PARALLELISM)], true, process.env.PROFILE_AGENT_FLAGS);
  await waitForFile(agent.logFile, /connected to gateway/);
  const tunnel = `http://127.0.0.1:${fdPort}/bench${PROJECT}`;
  const relay = `http://127.0.0.1:${hopPort}${PROJECT}`;
  // Warm-up: JIT tiers, keep-alive sockets, young-generation sizing.
  const warmTunnel = await measure(tunnel, 2);
  await measure(relay, 2);
  const pids = { gateway: gateway.child.pid as number, agent: agent.child.pid as number, relay: hop.child.pid as number, vcs: vcs.child.pid as number, client: process.pid };
  const cpu = (): Record<string, number> => Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuMicros(pid)]));
  const wakes = (): Record<string, { all: number; main: number }> => Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, wakeups(pid)]));
  const perRequest = (from: Record<string, { all: number; main: number }>, to: Record<string, { all: number; main: number }>, names: string[], requests: number): string =>
    names.map((name) => `${name} ${(((to[name]?.main ?? 0) - (from[name]?.main ?? 0)) / requests).toFixed(2)} (all threads ${(((to[name]?.all ?? 0) - (from[name]?.all ?? 0)) / requests).toFixed(2)})`).join(', ');
  if (process.env.PROFILE_PAUSE_FOR_THREADS === '1') {
    console.log(`pids ${JSON.stringify(pids)}`);
  }
  const tunnelWindow = { from: micros(), to: 0 };
  let before = cpu();
  let wakesBefore = wakes();
  const tunnelRequests = await measure(tunnel, DURATION_S);
  let after = cpu();
  const tunnelWakes = perRequest(wakesBefore, wakes(), ['gateway', 'agent'], tunnelRequests);
  tunnelWindow.to = micros();
  const tunnelCpu = Object.fromEntries(Object.keys(pids).map((name) => [name, ((after[name] as number) - (before[name] as number)) / tunnelRequests]));
  const tunnelSeconds = (tunnelWindow.to - tunnelWindow.from) / 1e6;
  const relayWindow = { from: micros(), to: 0 };
  before = cpu();
  wakesBefore = wakes();
  const relayRequests = await measure(relay, DURATION_S);
  after = cpu();
  const relayWakes = perRequest(wakesBefore, wakes(), ['relay'], relayRequests);
  relayWindow.to = micros();
  const relayCpu = Object.fromEntries(Object.keys(pids).map((name) => [name, ((after[name] as number) - (before[name] as number)) / relayRequests]));
  const relaySeconds = (relayWindow.to - relayWindow.from) / 1e6;
  const peak = (pid: number): number => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  const peaks = `peak RSS (MiB): gateway ${peak(pids.gateway).toFixed(0)}, agent ${peak(pids.agent).toFixed(0)}, relay ${peak(pids.relay).toFixed(0)}`;
  const exited = [gateway, agent, hop].map(({ child }) => new Promise((resolve) => child.once('exit', resolve)));
  for (const { child } of [gateway, agent, hop]) child.kill('SIGINT');
  await Promise.all(exited);
  console.log(`profiles in ${work}; ${MODE === 'small' ? `${DURATION_S} s at ${CONNECTIONS} connections each` : `${MIB} MiB downloads for ${DURATION_S} s each; figures per MiB`}`);
  const unit = MODE === 'small' ? 'request' : 'MiB';
  const show = (figures: Record<string, number>, names: string[]): string => names.map((name) => `${name} ${(figures[name] as number).toFixed(0)}`).join(' + ');
  console.log(`tunnel: ${(tunnelRequests / tunnelSeconds).toFixed(0)} ${unit}/s; CPU µs per ${unit} from /proc (kernel included): ${show(tunnelCpu, ['gateway', 'agent', 'vcs', 'client'])}`);
  console.log(`relay:  ${(relayRequests / relaySeconds).toFixed(0)} ${unit}/s; CPU µs per ${unit} from /proc (kernel included): ${show(relayCpu, ['relay', 'vcs', 'client'])}`);
  console.log(`wake-ups per ${unit}, main thread: tunnel ${tunnelWakes}; relay ${relayWakes}`);
  console.log(`tunnel ${unit}s including the warm-up: ${warmTunnel + tunnelRequests}`);
  console.log(`gateway + agent = ${(((tunnelCpu.gateway as number) + (tunnelCpu.agent as number)) / (relayCpu.relay as number)).toFixed(2)}× the relay's CPU per ${unit}; throughput ${((tunnelRequests / tunnelSeconds) / (relayRequests / relaySeconds)).toFixed(2)}× the relay's`);
  console.log(peaks);
  if (NO_PROFILER) return;
  report('gateway', gateway.dir, tunnelRequests, tunnelWindow);
  report('agent', agent.dir, tunnelRequests, tunnelWindow);
  report('plain relay', hop.dir, relayRequests, relayWindow);
}

main()
  .catch((error: unknown) => {
    console.error('profile failed:', error);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const child of children) child.kill('SIGKILL');
  });
