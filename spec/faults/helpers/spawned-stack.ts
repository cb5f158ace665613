/*
 * A fault stack whose agent is a real `vcs-agent` process (so it can be SIGKILLed or
 * SIGSTOPped): an in-process gateway (spec/cli/cli-harness.ts), the fault VCS, and agents
 * spawned with the fault vendor module (only /allowed/… paths).
 */
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { cleanEnv, REPO_ROOT, spawnAgent, startGateway, waitForAgents, type GatewayFixture, type SpawnedAgent } from '../../cli/cli-harness.js';
import type { GatewayRequestInit } from '../../../lib/gateway/gateway.js';
import { startFaultVcs, vcsBody, type FaultVcs } from './fault-vcs.js';
import { outcomeOf, type Outcome } from './outcome.js';

export const FAULT_VENDOR_MODULE = join(REPO_ROOT, 'spec', 'faults', 'helpers', 'fault-vendor.ts');

export interface SpawnedStack {
  gateway: GatewayFixture;
  vcs: FaultVcs;
  agents: SpawnedAgent[];
  /** Spawns one more agent on the pool and waits until the gateway counts `expected` agents. */
  addAgent(expected: number, env?: Record<string, string>): Promise<SpawnedAgent>;
  get(path: string, init?: GatewayRequestInit, timeoutMs?: number): Promise<Outcome>;
  download(id: string, size: number, timeoutMs?: number): Promise<Outcome>;
  upload(id: string, size: number, path?: string, timeoutMs?: number): Promise<Outcome>;
  close(): Promise<void>;
}

export async function startSpawnedStack(options: { keepalive?: { intervalMs: number; timeoutMs: number }; parallelism?: number } = {}): Promise<SpawnedStack> {
  const vcs = await startFaultVcs();
  const gateway = await startGateway(options.keepalive === undefined ? {} : { keepalive: options.keepalive });
  const agents: SpawnedAgent[] = [];
  const get = (path: string, init: GatewayRequestInit = {}, timeoutMs = 20_000): Promise<Outcome> =>
    outcomeOf(() => gateway.gateway.request(`private://${gateway.pool}${path}`, init), timeoutMs);
  return {
    gateway,
    vcs,
    agents,
    async addAgent(expected, env = {}) {
      const agent = spawnAgent(
        ['--vendor-module', FAULT_VENDOR_MODULE],
        cleanEnv({
          SPACELIFT_VCS_AGENT_POOL_TOKEN: gateway.token,
          SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT: vcs.url,
          SPACELIFT_VCS_AGENT_VENDOR: 'gitlab',
          SPACELIFT_VCS_AGENT_PARALLELISM: String(options.parallelism ?? 2),
          ...env,
        }),
      );
      agents.push(agent);
      await waitForAgents(gateway, expected, 30_000);
      return agent;
    },
    get,
    download: (id, size, timeoutMs) => get(`/allowed/dl/${size}/${id}`, {}, timeoutMs),
    upload: (id, size, path, timeoutMs) =>
      get(path ?? `/allowed/ul/${id}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Readable.from(vcsBody(id, size)) }, timeoutMs),
    async close() {
      for (const agent of agents) {
        agent.child.kill('SIGKILL');
        await agent.exited(10_000).catch(() => undefined);
      }
      await gateway.close();
      await vcs.close();
    },
  };
}
