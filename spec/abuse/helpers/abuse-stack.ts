/*
 * The stage for HTTP/2 abuse: the gateway in its own process (its memory measured from
 * /proc), a real TunnelClient serving pool "faults" from the fault VCS, and a loop of
 * checksummed requests through the gateway's front door that runs for the whole attack.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TunnelClient } from '../../../lib/agent/tunnel-client.js';
import { decodePoolToken } from '../../../lib/protocol/token.js';
import { testPolicy } from '../../helpers/test-policy.js';
import { startFaultVcs, vcsBodyDigest, type FaultVcs } from '../../faults/helpers/fault-vcs.js';
import { newId } from '../../faults/helpers/fault-stack.js';
import { startGatewayProcess, type GatewayProcess } from '../../faults/helpers/gateway-process.js';

export interface AttackReport {
  /** Requests of the real agent's pool during the attack, and how many checked out. */
  served: number;
  failed: string[];
  /** Gateway RSS before, highest during, and after the attack (MiB). */
  rssBeforeMiB: number;
  rssPeakMiB: number;
  rssAfterMiB: number;
}

export interface AbuseStack {
  gateway: GatewayProcess;
  agent: TunnelClient;
  vcs: FaultVcs;
  /** Credentials of pool "other", for attacks by an authenticated peer. */
  other: { key: string; poolId: string };
  /** Runs `attack` while the real agent is kept busy; reports what it served and the gateway's memory. */
  during(attack: () => Promise<void>): Promise<AttackReport>;
  close(): Promise<void>;
}

const MiB = 1024 * 1024;

function frontDoorGet(url: string): Promise<{ status: number; digest: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = httpGet(url, { agent: false }, (res) => {
      const hash = createHash('sha256');
      res.on('data', (chunk: Buffer) => hash.update(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, digest: hash.digest('hex') }));
      res.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    });
    req.setTimeout(15_000, () => req.destroy(new Error('front door request hung')));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
  });
}

export async function startAbuseStack(): Promise<AbuseStack> {
  const dir = await mkdtemp(join(tmpdir(), 'vcs-agent-abuse-'));
  const vcs = await startFaultVcs();
  const gateway = await startGatewayProcess(join(dir, 'pools.json'));
  const agent = new TunnelClient({ token: gateway.info.token as string, target: vcs.url, policy: testPolicy, parallelism: 4 });
  await agent.start();
  const other = decodePoolToken(gateway.info.otherToken as string);
  const base = `http://127.0.0.1:${gateway.info.frontDoorPort}/faults`;
  return {
    gateway,
    agent,
    vcs,
    other: { key: other.key, poolId: other.pool_ulid },
    async during(attack) {
      const rssBefore = gateway.rss();
      let peak = rssBefore;
      const sampler = setInterval(() => {
        if (gateway.child.exitCode === null) peak = Math.max(peak, gateway.rss());
      }, 50);
      let done = false;
      let served = 0;
      const failed: string[] = [];
      const serving = (async () => {
        while (!done || served < 20) {
          const id = newId();
          const result = await frontDoorGet(`${base}/allowed/dl/20000/${id}`);
          served++;
          if (!('digest' in result) || result.status !== 200 || result.digest !== vcsBodyDigest(id, 20_000)) failed.push(JSON.stringify(result));
        }
      })();
      try {
        await attack();
      } finally {
        done = true;
        await serving;
        clearInterval(sampler);
      }
      return { served, failed, rssBeforeMiB: rssBefore / MiB, rssPeakMiB: peak / MiB, rssAfterMiB: gateway.rss() / MiB };
    },
    async close() {
      agent.destroy();
      await gateway.kill();
      await vcs.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Prints an attack's numbers when ABUSE_REPORT=1 (for docs/security.md); silent otherwise. */
export function report<T extends AttackReport>(name: string, numbers: T): void {
  if (process.env.ABUSE_REPORT === '1') process.stderr.write(`${name}: ${JSON.stringify({ ...numbers, failed: numbers.failed.length })}\n`);
}
