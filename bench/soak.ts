/*
 * `npm run soak`: 100 000 checksummed requests of mixed sizes and methods through a real
 * gateway and real agents (in process, on 127.0.0.1), against the fault VCS of the fault
 * suite (deterministic bodies that start with the request id; uploads checksummed by the
 * VCS), while faults are injected: agents crash (destroy) or drain (close) and are
 * replaced, the gateway sends GOAWAY to an agent connection (its own eviction path: drain,
 * GOAWAY, control stream closed), and the VCS resets connections (before answering, or
 * halfway through a body).
 *
 * Every request must end in exactly one outcome: a complete response that checks out, or
 * an error with a stable code. It prints the counts; lost (no outcome within 30 s, or an
 * error without a code), mismatched (wrong bytes) and misrouted (another request's
 * response) must be 0, else it exits 1. Bounded: it stops after SOAK_MAX_S (420) seconds.
 *
 * Knobs: SOAK_REQUESTS (100000), SOAK_CONCURRENCY (48), SOAK_FAULT_EVERY_MS (500).
 */
import { Readable } from 'node:stream';
import { TunnelClient } from '../lib/agent/tunnel-client.js';
import type { AgentConnection } from '../lib/gateway/agent-connection.js';
import { Gateway } from '../lib/gateway/gateway.js';
import { MemoryPoolStore } from '../lib/pools/memory-pool-store.js';
import { createPool } from '../lib/pools/pool-service.js';
import { testPolicy } from '../spec/helpers/test-policy.js';
import { startFaultVcs, vcsBody } from '../spec/faults/helpers/fault-vcs.js';
import { checkDownload, checkUpload, outcomeOf, type Outcome } from '../spec/faults/helpers/outcome.js';

const TOTAL = Number(process.env.SOAK_REQUESTS ?? 100_000);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 48);
const FAULT_EVERY_MS = Number(process.env.SOAK_FAULT_EVERY_MS ?? 500);
const MAX_S = Number(process.env.SOAK_MAX_S ?? 420);
const AGENTS = 3;
const PARALLELISM = 16;
// Per 100 requests: 60 API-sized bodies (≤ 1 KiB), 25 of 2-16 KiB, 10 of 64 KiB, 4 of 200 kB, 1 of 1 MiB.
const SIZES = [
  ...Array.from({ length: 60 }, (_, i) => [64, 300, 700, 1024][i % 4] as number),
  ...Array.from({ length: 25 }, (_, i) => [2048, 4096, 8192, 16_384][i % 4] as number),
  ...Array.from({ length: 10 }, () => 65_536),
  ...Array.from({ length: 4 }, () => 200_000),
  1_048_576,
];
const METHODS = ['GET', 'GET', 'POST', 'GET', 'PUT', 'GET', 'POST'];

const vcs = await startFaultVcs();
const store = new MemoryPoolStore();
const gateway = new Gateway({ store, queueTimeoutMs: 15_000, maxQueue: 10_000 });
const { port } = await gateway.listen({ host: '127.0.0.1', port: 0 });
const { token } = await createPool(store, { name: 'soak', gatewayUrl: `http://127.0.0.1:${port}` });
const newAgent = async (): Promise<TunnelClient> => {
  const agent = new TunnelClient({ token, target: vcs.url, policy: testPolicy, parallelism: PARALLELISM, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
  await agent.start();
  return agent;
};
const agents: TunnelClient[] = [];
for (let i = 0; i < AGENTS; i++) agents.push(await newAgent());

const counts = { completed: 0, lost: 0, mismatched: 0, misrouted: 0 };
const errors: Record<string, number> = {};
const faults: Record<string, number> = { 'agent crash': 0, 'agent drain': 0, 'gateway GOAWAY': 0, 'VCS reset': 0, 'VCS reset mid-body': 0 };
const samples: string[] = [];
let next = 0;
let stopped = false;

/** The error code a complete non-2xx answer carries (the agent's own 4xx/5xx JSON bodies). */
function bodyCode(outcome: Extract<Outcome, { kind: 'complete' }>): string | undefined {
  try {
    const code = (JSON.parse(outcome.text) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

async function one(n: number): Promise<void> {
  const id = `r${n.toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const size = Math.max(SIZES[n % SIZES.length] as number, id.length + 1);
  const method = METHODS[n % METHODS.length] as string;
  const upload = method !== 'GET';
  let outcome: Outcome;
  try {
    outcome = await outcomeOf(
      () =>
        gateway.request(
          `private://soak/allowed/${upload ? 'ul' : 'dl/' + size}/${id}`,
          upload ? { method, headers: { 'content-type': 'application/octet-stream' }, body: Readable.from(vcsBody(id, size)) } : {},
        ),
      30_000,
    );
  } catch (error) {
    counts.lost++;
    if (samples.length < 10) samples.push(`lost ${method} ${id}: ${(error as Error).message}`);
    return;
  }
  if (outcome.kind === 'error') {
    errors[outcome.code] = (errors[outcome.code] ?? 0) + 1;
    return;
  }
  if (outcome.status !== 200) {
    const code = bodyCode(outcome);
    if (code === undefined) {
      counts.lost++;
      if (samples.length < 10) samples.push(`status ${outcome.status} without a code for ${id}: ${outcome.text.slice(0, 200)}`);
    } else errors[code] = (errors[code] ?? 0) + 1;
    return;
  }
  const verdict = upload ? checkUpload(outcome, id, size) : checkDownload(outcome, id, size);
  if (verdict === 'ok') counts.completed++;
  else {
    counts[verdict === 'misrouted' ? 'misrouted' : 'mismatched']++;
    if (samples.length < 10) samples.push(`${verdict} ${method} ${id} (${size} bytes)`);
  }
}

async function worker(): Promise<void> {
  while (!stopped && next < TOTAL) await one(next++);
}

function registry(): { sessions: Map<unknown, AgentConnection | undefined>; evict(c: AgentConnection, reason: 'key_expired'): boolean } {
  return (gateway as unknown as { registry: ReturnType<typeof registry> }).registry;
}

function liveConnections(): AgentConnection[] {
  // The gateway's own eviction path (drain, GOAWAY, control stream closed), as pool deletion
  // and key expiry use it; reached through its private members, this being a soak harness.
  const sessions = registry().sessions;
  return [...sessions.values()].filter((c): c is AgentConnection => c !== undefined && !c.draining);
}

let faultTurn = 0;
const injector = setInterval(() => {
  const turn = faultTurn++ % 4;
  if (turn === 0) {
    const victim = agents.shift();
    victim?.destroy();
    faults['agent crash']++;
    void newAgent().then((agent) => agents.push(agent));
  } else if (turn === 1) {
    const victim = agents.shift();
    void victim?.close();
    faults['agent drain']++;
    void newAgent().then((agent) => agents.push(agent));
  } else if (turn === 2) {
    const connection = liveConnections()[0];
    if (connection !== undefined) {
      registry().evict(connection, 'key_expired');
      faults['gateway GOAWAY']++;
    }
  } else if (faultTurn % 8 === 0) {
    vcs.cutNext(3);
    faults['VCS reset mid-body']++;
  } else {
    vcs.resetNext(3);
    faults['VCS reset']++;
  }
}, FAULT_EVERY_MS);

const started = performance.now();
const limit = setTimeout(() => {
  stopped = true;
}, MAX_S * 1000);
const progress = setInterval(() => {
  process.stderr.write(`  ${next} sent, ${counts.completed} completed, ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
}, 10_000);
await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));
const seconds = (performance.now() - started) / 1000;
clearInterval(injector);
clearInterval(progress);
clearTimeout(limit);

const typed = Object.values(errors).reduce((a, b) => a + b, 0);
const finished = counts.completed + typed + counts.lost + counts.mismatched + counts.misrouted;
console.log(`soak: ${finished} requests in ${seconds.toFixed(1)} s (${(finished / seconds).toFixed(0)}/s), concurrency ${CONCURRENCY}, ${AGENTS} agents × ${PARALLELISM} streams`);
console.log(`faults injected: ${Object.entries(faults).map(([k, v]) => `${k} ${v}`).join(', ')}`);
console.log(`completed (checksum verified): ${counts.completed}`);
console.log(`typed errors: ${typed}${typed === 0 ? '' : ' (' + Object.entries(errors).sort().map(([k, v]) => `${k} ${v}`).join(', ') + ')'}`);
console.log(`lost: ${counts.lost}   mismatched: ${counts.mismatched}   misrouted: ${counts.misrouted}`);
for (const sample of samples) console.log(`  ${sample}`);

for (const agent of agents) agent.destroy();
gateway.destroy();
await vcs.close();
const incomplete = finished < TOTAL;
if (incomplete) console.log(`stopped after ${MAX_S} s with ${TOTAL - finished} requests not sent`);
process.exitCode = counts.lost + counts.mismatched + counts.misrouted > 0 || incomplete ? 1 : 0;
