/*
 * `npx tsx bench/git-clone.ts` (also run at the end of `npm run bench`): time of `git clone` of
 * a 256 MiB repository through the tunnel (front door → gateway → agent → git http-backend)
 * against a clone straight from the same http-backend, on 127.0.0.1. Gateway and agent run as
 * the built CLIs (dist/), the VCS in its own process; git is Debian's.
 *
 * Prints a table and writes bench/results/git-clone.json. Environment knobs:
 *   BENCH_GIT_MIB (256: the repository's random, incompressible content), BENCH_GIT_COMMITS (2000),
 *   BENCH_GIT_ROUNDS (3: clones per path, the median is reported)
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GIT, GIT_MISSING, gitHttpBackend } from '../spec/helpers/git-http-backend.js';
import { createRepository, git, runGit } from '../spec/helpers/git-repositories.js';
import { waitForFile } from './wait-for-file.js';

const MiB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_GIT_MIB ?? 256) * MiB;
const COMMITS = Number(process.env.BENCH_GIT_COMMITS ?? 2000);
const ROUNDS = Number(process.env.BENCH_GIT_ROUNDS ?? 3);
const ROOT = new URL('..', import.meta.url).pathname;
const TOKEN = 'bench-front-door-token-0123456789';
const REPOSITORY = 'bench/group/repo.git';

function log(message: string): void {
  process.stderr.write(`bench git: ${message}\n`);
}

/* `--serve <project root>`: the VCS process, http-backend behind node:http; prints its port. */
if (process.argv[2] === '--serve') {
  const { handler } = gitHttpBackend({ projectRoot: process.argv[3] as string });
  const server = createServer(handler);
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
} else {
  const children: ChildProcess[] = [];
  const work = mkdtempSync(join(tmpdir(), 'vcs-agent-bench-git-'));
  const home = join(work, 'home');

  const start = (name: string, args: string[]): { child: ChildProcess; logFile: string } => {
    const logFile = join(work, `${name}.log`);
    const fd = openSync(logFile, 'w');
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', fd, fd] });
    children.push(child);
    return { child, logFile };
  };

  /** Wall time of one full clone (checkout included), in seconds; checks the head. */
  const clone = async (url: string, config: string[], head: string, n: number): Promise<number> => {
    const target = join(work, `clone-${n}`);
    const started = performance.now();
    await git([...config, 'clone', '--quiet', url, target], { home, timeoutMs: 600_000 });
    const seconds = (performance.now() - started) / 1000;
    const got = await git(['rev-parse', 'HEAD'], { cwd: target, home });
    if (got !== head) throw new Error(`clone ${url} got ${got}, expected ${head}`);
    rmSync(target, { recursive: true, force: true });
    return seconds;
  };

  const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

  const main = async (): Promise<void> => {
    if (!existsSync(GIT)) throw new Error(GIT_MISSING);
    if (!existsSync(join(ROOT, 'dist/cli/vcs-agent.js'))) {
      log('building dist/ (npm run build)');
      execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    }
    log(`creating a ${SIZE / MiB} MiB repository with ${COMMITS} commits`);
    const projectRoot = join(work, 'vcs');
    const { head } = await createRepository(join(projectRoot, REPOSITORY), home, { commits: COMMITS, bigBlobBytes: SIZE });
    const packBytes = Number((await git(['count-objects', '-v'], { cwd: join(projectRoot, REPOSITORY), home })).match(/size-pack: (\d+)/)?.[1] ?? 0) * 1024;

    const vcs = start('vcs', ['--import', 'tsx', join(ROOT, 'bench/git-clone.ts'), '--serve', projectRoot]);
    const direct = `http://127.0.0.1:${Number((await waitForFile(vcs.logFile, /^(\d+)$/m))[1])}`;
    const store = join(work, 'pools.json');
    const gateway = start('gateway', [join(ROOT, 'dist/cli/vcs-gateway.js'), 'serve', '--store', store, '--listen', '127.0.0.1:0', '--front-door', '127.0.0.1:0', '--front-door-token', TOKEN]);
    const gwPort = Number((await waitForFile(gateway.logFile, /gateway listening for agents","address":"127\.0\.0\.1:(\d+)"/))[1]);
    const fdPort = Number((await waitForFile(gateway.logFile, /front door listening","address":"127\.0\.0\.1:(\d+)"/))[1]);
    const token = execFileSync(process.execPath, [join(ROOT, 'dist/cli/vcs-gateway.js'), 'pool', 'create', '--store', store, '--name', 'bench', '--gateway-url', `http://127.0.0.1:${gwPort}`], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    const agent = start('agent', [join(ROOT, 'dist/cli/vcs-agent.js'), '--target-base-endpoint', direct, '--token', token, '--vendor', 'gitlab', '--allowed-projects', 'bench/.*']);

    // How a worker points git at the pool (docs/git.md).
    const base = 'https://gitlab.internal/';
    const pool = ['-c', `url.http://127.0.0.1:${fdPort}/bench/.insteadOf=${base}`, '-c', `http.extraHeader=Proxy-Authorization: Bearer ${TOKEN}`];
    const deadline = Date.now() + 15_000;
    while ((await runGit([...pool, 'ls-remote', `${base}${REPOSITORY}`], { home })).code !== 0) {
      if (Date.now() > deadline) throw new Error(`the agent did not serve within 15 s:\n${readFileSync(agent.logFile, 'utf8').slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    log(`vcs ${direct}, gateway :${gwPort}, front door :${fdPort}; pack ${(packBytes / MiB).toFixed(0)} MiB; warming up`);
    await clone(`${direct}/${REPOSITORY}`, [], head, 0);
    await clone(`${base}${REPOSITORY}`, pool, head, 0);

    // file:// runs the same upload-pack over a pipe: git's own cost (pack, index-pack, checkout)
    // without HTTP, the floor both other paths build on.
    const local = `file://${join(projectRoot, REPOSITORY)}`;
    const times = { local: [] as number[], direct: [] as number[], tunnel: [] as number[] };
    for (let round = 1; round <= ROUNDS; round++) {
      times.local.push(await clone(local, [], head, round));
      times.direct.push(await clone(`${direct}/${REPOSITORY}`, [], head, round));
      times.tunnel.push(await clone(`${base}${REPOSITORY}`, pool, head, round));
      log(`round ${round}: file:// ${times.local.at(-1)?.toFixed(2)} s, direct ${times.direct.at(-1)?.toFixed(2)} s, tunnel ${times.tunnel.at(-1)?.toFixed(2)} s`);
    }
    const l = median(times.local);
    const d = median(times.direct);
    const t = median(times.tunnel);
    const cell = (seconds: number): string => `${seconds.toFixed(2)} s (${(packBytes / MiB / seconds).toFixed(0)} MiB/s)`;
    const rows = [
      ['git clone (median of ' + ROUNDS + ')', 'file:// (no HTTP)', 'direct HTTP', 'tunnel', 'tunnel / direct'],
      [`${(packBytes / MiB).toFixed(0)} MiB pack, ${COMMITS} commits`, cell(l), cell(d), cell(t), `${(t / d).toFixed(2)}×`],
    ];
    const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((row) => (row[i] as string).length)));
    const line = (row: string[]): string => `| ${row.map((cell, i) => cell.padEnd(widths[i] as number)).join(' | ')} |`;
    console.log(line(rows[0] as string[]));
    console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    console.log(line(rows[1] as string[]));
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(
      join(ROOT, 'bench/results/git-clone.json'),
      `${JSON.stringify({ date: new Date().toISOString(), node: process.version, git: execFileSync(GIT, ['--version'], { encoding: 'utf8' }).trim(), packBytes, commits: COMMITS, seconds: times }, null, 2)}\n`,
    );
  };

  main()
    .catch((error: unknown) => {
      console.error('bench git-clone failed:', error instanceof Error ? error.message : error);
      process.exitCode = 1;
    })
    .finally(() => {
      for (const child of children) child.kill('SIGKILL');
      rmSync(work, { recursive: true, force: true });
    });
}
