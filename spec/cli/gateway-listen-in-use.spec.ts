import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { cleanEnv, GATEWAY_CLI, REPO_ROOT } from './cli-harness.js';

/** Runs `vcs-gateway serve …` to its exit (killed after 20 s: a hang shows as code null). */
function serve(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', GATEWAY_CLI, 'serve', ...args], { cwd: REPO_ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/*
 * A listener that cannot bind after another one is already up (or after Redis was reached)
 * used to leave the process running with the first listener open: now one line naming the
 * flag and exit 2, every time.
 */
describe('vcs-gateway serve: a listen address that is taken', function () {
  this.timeout(60_000);
  let busy: Server;
  let port = 0;

  before(async () => {
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    port = (busy.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => busy.close(() => resolve())));

  for (const [flag, extra] of [
    ['--front-door', []],
    ['--admin-listen', []],
    ['--peer-listen', ['--redis', 'redis://127.0.0.1:1', '--peer-token', 'peer-token-for-the-listen-spec-01']],
  ] as const) {
    it(`${flag}: exits 2 with one line naming the flag, after the agent listener was already up`, async () => {
      const result = await serve(['--listen', '127.0.0.1:0', flag, `127.0.0.1:${port}`, ...extra]);
      expect(result.code, result.stderr).to.equal(2);
      expect(result.stdout).to.include('gateway listening for agents');
      expect(result.stderr.split('\n')[0]).to.equal(`vcs-gateway: Cannot listen on ${flag} 127.0.0.1:${port}: the address is in use (EADDRINUSE)`);
      expect(result.stderr).to.not.match(/\bat \S+:\d+:\d+/);
    });
  }
});
