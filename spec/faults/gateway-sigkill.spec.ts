import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TunnelClient } from '../../lib/agent/tunnel-client.js';
import { startGatewayProcess, type GatewayProcess } from './helpers/gateway-process.js';
import { testPolicy } from '../helpers/test-policy.js';
import { nextEvent, waitFor } from '../helpers/wait-for.js';
import { startFaultVcs, vcsBodyDigest } from './helpers/fault-vcs.js';
import { newId } from './helpers/fault-stack.js';
import { assertNoLeak, leakBaseline } from './helpers/leak-check.js';
import { createHash } from 'node:crypto';

/** GET through the front door: checksum of the body, or the socket error's code. */
function frontDoorGet(url: string): Promise<{ status: number; digest: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = httpGet(url, (res) => {
      const hash = createHash('sha256');
      res.on('data', (chunk: Buffer) => hash.update(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, digest: hash.digest('hex') }));
      res.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    });
    req.setTimeout(20_000, () => req.destroy(new Error('front door request hung')));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
  });
}

describe('fault: the gateway process is SIGKILLed mid-transfer', function () {
  this.timeout(90_000);

  it('the caller sees its connection reset, the agent aborts the VCS request, and reconnects to the restarted gateway', async () => {
    const baseline = await leakBaseline();
    const dir = await mkdtemp(join(tmpdir(), 'vcs-agent-faults-'));
    const vcs = await startFaultVcs();
    const children: GatewayProcess[] = [];
    let client: TunnelClient | undefined;
    try {
      const first = await startGatewayProcess(join(dir, 'pools.json'));
      children.push(first);
      client = new TunnelClient({ token: first.info.token as string, target: vcs.url, policy: testPolicy, parallelism: 2, reconnect: { initialDelayMs: 50, maxDelayMs: 300 } });
      await client.start();
      const base = (port: number): string => `http://127.0.0.1:${port}/faults`;
      const path = `/allowed/trickle/100/1024/50/${newId()}`;
      const pending = frontDoorGet(base(first.info.frontDoorPort) + path);
      await waitFor(() => vcs.seen.includes(path), 20_000, 'the download to reach the VCS');
      const lost = nextEvent<{ error?: { code: string } }>(client, 'disconnected', 10_000);
      await first.kill();
      expect(await pending).to.have.property('error').that.matches(/^(ECONNRESET|ECONNABORTED|aborted)$/);
      expect((await lost).error?.code).to.equal('VCS_GATEWAY_UNREACHABLE');
      await waitFor(() => vcs.aborted.includes(path), 10_000, 'the agent to abort the VCS request');

      const reconnected = nextEvent(client, 'connected', 30_000);
      const second = await startGatewayProcess(join(dir, 'pools.json'), first.info.port, first.info.frontDoorPort);
      children.push(second);
      await reconnected;
      const id = newId();
      expect(await frontDoorGet(`${base(second.info.frontDoorPort)}/allowed/dl/200000/${id}`)).to.deep.equal({ status: 200, digest: vcsBodyDigest(id, 200_000) });
    } finally {
      client?.destroy();
      for (const child of children) await child.kill();
      await vcs.close();
      await rm(dir, { recursive: true, force: true });
    }
    await assertNoLeak(baseline);
  });
});
