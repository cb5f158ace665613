import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TunnelClient } from '../../lib/agent/tunnel-client.js';
import { REPO_ROOT, cleanEnv } from '../cli/cli-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { nextEvent, waitFor } from '../helpers/wait-for.js';
import { startFaultVcs, vcsBodyDigest } from './helpers/fault-vcs.js';
import { newId } from './helpers/fault-stack.js';
import { assertNoLeak, leakBaseline } from './helpers/leak-check.js';
import { createHash } from 'node:crypto';

const CHILD = join(REPO_ROOT, 'spec', 'faults', 'helpers', 'gateway-child.ts');

interface Started {
  child: ChildProcess;
  info: { port: number; frontDoorPort: number; token?: string };
}

async function startGatewayProcess(file: string, port = 0, frontDoorPort = 0): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, file, String(port), String(frontDoorPort)], { cwd: REPO_ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const info = await new Promise<Started['info']>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway process did not start within 20 s: ${err}`)), 20_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(JSON.parse(out.split('\n')[0] as string) as Started['info']);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway process exited (${code}): ${err}`));
    });
  });
  return { child, info };
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

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
    const children: ChildProcess[] = [];
    let client: TunnelClient | undefined;
    try {
      const first = await startGatewayProcess(join(dir, 'pools.json'));
      children.push(first.child);
      client = new TunnelClient({ token: first.info.token as string, target: vcs.url, policy: testPolicy, parallelism: 2, reconnect: { initialDelayMs: 50, maxDelayMs: 300 } });
      await client.start();
      const base = (port: number): string => `http://127.0.0.1:${port}/faults`;
      const path = `/allowed/trickle/100/1024/50/${newId()}`;
      const pending = frontDoorGet(base(first.info.frontDoorPort) + path);
      await waitFor(() => vcs.seen.includes(path), 20_000, 'the download to reach the VCS');
      const lost = nextEvent<{ error?: { code: string } }>(client, 'disconnected', 10_000);
      await kill(first.child);
      expect(await pending).to.have.property('error').that.matches(/^(ECONNRESET|ECONNABORTED|aborted)$/);
      expect((await lost).error?.code).to.equal('VCS_GATEWAY_UNREACHABLE');
      await waitFor(() => vcs.aborted.includes(path), 10_000, 'the agent to abort the VCS request');

      const reconnected = nextEvent(client, 'connected', 30_000);
      const second = await startGatewayProcess(join(dir, 'pools.json'), first.info.port, first.info.frontDoorPort);
      children.push(second.child);
      await reconnected;
      const id = newId();
      expect(await frontDoorGet(`${base(second.info.frontDoorPort)}/allowed/dl/200000/${id}`)).to.deep.equal({ status: 200, digest: vcsBodyDigest(id, 200_000) });
    } finally {
      client?.destroy();
      for (const child of children) await kill(child);
      await vcs.close();
      await rm(dir, { recursive: true, force: true });
    }
    await assertNoLeak(baseline);
  });
});
