/** The gateway in its own process (spec/faults/helpers/gateway-child.ts), to SIGKILL it or measure its memory. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, cleanEnv } from '../../cli/cli-harness.js';

const CHILD = join(REPO_ROOT, 'spec', 'faults', 'helpers', 'gateway-child.ts');

export interface GatewayProcess {
  child: ChildProcess;
  info: { port: number; frontDoorPort: number; token?: string; otherToken?: string };
  /** Resident set size of the process now, in bytes (from /proc). */
  rss(): number;
  /** Everything it wrote to stderr. */
  stderr(): string;
  /** SIGKILL, resolves once it exited. */
  kill(): Promise<void>;
}

/** Starts the gateway process on `port`/`frontDoorPort` (0: any) with pools kept in `file`. */
export async function startGatewayProcess(file: string, port = 0, frontDoorPort = 0): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, file, String(port), String(frontDoorPort)], { cwd: REPO_ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const info = await new Promise<GatewayProcess['info']>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway process did not start within 20 s: ${err}`)), 20_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(JSON.parse(out.split('\n')[0] as string) as GatewayProcess['info']);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway process exited (${code}): ${err}`));
    });
  });
  return {
    child,
    info,
    rss() {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return Number(match?.[1] ?? 0) * 1024;
    },
    stderr: () => err,
    kill() {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      return new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
    },
  };
}
