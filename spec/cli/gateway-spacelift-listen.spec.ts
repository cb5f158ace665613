import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilePoolStore } from '../../lib/pools/file-pool-store.js';
import { createPool } from '../../lib/pools/pool-service.js';
import { decodePoolToken } from '../../lib/protocol/token.js';
import { FakeSpaceliftAgent } from '../helpers/spacelift-agent.js';
import { REPO_ROOT } from './cli-harness.js';

const CLI = join(REPO_ROOT, 'cli', 'vcs-gateway.ts');

interface Running {
  child: ChildProcess;
  /** Resolves with the first JSON log line `match` accepts. */
  line(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function startGateway(args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: REPO_ROOT, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const lines: Record<string, unknown>[] = [];
  const waiters: Array<{ match: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }> = [];
  let partial = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const text of parts) {
      if (!text.startsWith('{')) continue;
      const parsed = JSON.parse(text) as Record<string, unknown>;
      lines.push(parsed);
      for (const waiter of [...waiters]) {
        if (!waiter.match(parsed)) continue;
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(parsed);
      }
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    }),
  );
  return {
    child,
    exited,
    line(match) {
      const seen = lines.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching log line; stdout: ${stdout.slice(-2000)} stderr: ${stderr.slice(-2000)}`)), 10_000);
        waiters.push({
          match,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      });
    },
  };
}

describe('vcs-gateway serve --spacelift-listen (spawned CLI)', function () {
  this.timeout(30_000);

  it('refuses a malformed --spacelift-listen or VCS_GATEWAY_SPACELIFT_LISTEN with exit code 2, naming it', async () => {
    const [flag, variable] = await Promise.all([
      startGateway(['serve', '--listen', '127.0.0.1:0', '--spacelift-listen', 'nowhere']).exited,
      startGateway(['serve', '--listen', '127.0.0.1:0'], { VCS_GATEWAY_SPACELIFT_LISTEN: '127.0.0.1:99999' }).exited,
    ]);
    expect(flag.code).to.equal(2);
    expect(flag.stderr).to.include('Invalid --spacelift-listen "nowhere": expected HOST:PORT');
    expect(variable.code).to.equal(2);
    expect(variable.stderr).to.include('Invalid VCS_GATEWAY_SPACELIFT_LISTEN "127.0.0.1:99999"');
  });

  it('logs the bound address and serves a Spacelift agent through the front door', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vcs-gateway-spacelift-'));
    const storeFile = join(dir, 'pools.json');
    const { token, pool } = await createPool(new FilePoolStore(storeFile), { name: 'spacelift', gatewayUrl: 'http://127.0.0.1:1' });
    const vcs: Server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`vcs saw ${req.method} ${req.url}`);
    });
    await new Promise<void>((resolve) => vcs.listen(0, '127.0.0.1', () => resolve()));
    const gateway = startGateway(['serve', '--store', storeFile, '--listen', '127.0.0.1:0', '--front-door', '127.0.0.1:0', '--shutdown-grace', '2'], {
      VCS_GATEWAY_SPACELIFT_LISTEN: '127.0.0.1:0',
    });
    let agent: FakeSpaceliftAgent | undefined;
    try {
      const listening = await gateway.line((line) => line.message === 'gateway listening for spacelift agents');
      expect(listening.address).to.match(/^127\.0\.0\.1:\d+$/);
      expect(listening.address).to.not.equal('127.0.0.1:0');
      const frontDoor = await gateway.line((line) => line.message === 'front door listening');
      agent = new FakeSpaceliftAgent({ address: listening.address as string, poolId: pool.id, key: decodePoolToken(token).key, target: `http://127.0.0.1:${(vcs.address() as AddressInfo).port}` }).start();
      const connected = await gateway.line((line) => line.message === 'agent connected');
      expect(connected).to.include({ protocol: 'spacelift', pool: 'spacelift' });
      const res = await fetch(`http://${frontDoor.address as string}/spacelift/api/v4/version`, { signal: AbortSignal.timeout(5000) });
      expect(res.status).to.equal(200);
      expect(await res.text()).to.equal('vcs saw GET /api/v4/version');
    } finally {
      gateway.child.kill('SIGTERM');
      const exit = await gateway.exited;
      agent?.stop();
      vcs.close();
      expect(exit.code).to.equal(0);
      expect(exit.stdout + exit.stderr).to.not.include(decodePoolToken(token).key);
    }
  });
});
