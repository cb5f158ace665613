import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** CPU time (user + system) a process has used so far, in µs, from /proc/<pid>/stat. */
export function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // utime and stime are fields 14 and 15 of stat(5), in clock ticks (USER_HZ, 100 on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/**
 * How many times the process's threads went to sleep and were woken (voluntary context
 * switches, summed over /proc/<pid>/task/*), and how many of those were its main thread's:
 * at rest every wake-up is a scheduler round trip a request's latency pays for.
 */
export function wakeups(pid: number): { all: number; main: number } {
  let all = 0;
  let main = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    } catch {
      continue; // the thread ended between the listing and the read
    }
    const count = Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
    all += count;
    if (tid === String(pid)) main = count;
  }
  return { all, main };
}

/**
 * A `start(name, args, env)` that runs `node args` in `root` with its output in
 * `<work>/<name>.log`, and adds the child to `children` for the caller to kill at the end.
 */
export function processLauncher(root: string, work: string, children: ChildProcess[]) {
  return (name: string, args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; logFile: string } => {
    const logFile = join(work, `${name}.log`);
    const fd = openSync(logFile, 'w');
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
    children.push(child);
    return { child, logFile };
  };
}
