import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { GIT } from './git-http-backend.js';

/** Result of {@link runGit}. */
export interface GitResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link runGit}. */
export interface RunGitOptions {
  readonly cwd?: string;
  /** HOME of the git process (its global config); a fresh, empty one keeps the user's out. */
  readonly home: string;
  readonly input?: Buffer | string;
  readonly timeoutMs?: number;
  /** Called once spawned, with a way to kill git and every process it started (to kill it mid-way). */
  readonly onSpawn?: (git: { kill(signal: NodeJS.Signals): void }) => void;
}

/**
 * Runs git with a clean environment (no system or user config, no proxy variables, no
 * prompts), bounded by `timeoutMs` (git and its helpers are killed and the promise rejects).
 *
 * git runs in a process group of its own and is killed as a group, as a terminal's Ctrl-C
 * would: `git clone` over HTTP works through helpers (git-remote-http, fetch-pack,
 * index-pack) that inherit its stderr. Killing only the top process left a helper blocked
 * on a stalled HTTP read, holding the pipe open, so 'close' never came (a CI run timed out so).
 */
export function runGit(args: readonly string[], options: RunGitOptions): Promise<GitResult> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const child = spawn(GIT, args, {
      cwd: options.cwd,
      env: { PATH: process.env.PATH, HOME: options.home, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', LANG: 'C', LC_ALL: 'C' },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const killGroup = (signal: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        child.kill(signal); // the group is gone already
      }
    };
    options.onSpawn?.({ kill: killGroup });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.stdin.on('error', () => undefined);
    const timer = setTimeout(() => {
      killGroup('SIGKILL');
      reject(new Error(`git ${args.join(' ')} timed out after ${timeoutMs} ms: ${Buffer.concat(err).toString()}`));
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    child.stdin.end(options.input);
  });
}

/** Runs git and returns its trimmed stdout; rejects with stderr on a non-zero exit. */
export async function git(args: readonly string[], options: RunGitOptions): Promise<string> {
  const result = await runGit(args, options);
  if (result.code !== 0) throw new Error(`git ${args.join(' ')} exited ${result.code ?? result.signal}: ${result.stderr}`);
  return result.stdout.trim();
}

/** Options of {@link createRepository}. */
export interface RepositoryOptions {
  /** Commits on `main`, each changing one small file. */
  readonly commits: number;
  /** Size of a random (incompressible) `big.bin` added by the first commit; 0 for none. */
  readonly bigBlobBytes?: number;
  /** Extra branches `b0`…, pointing at commits spread along `main`. */
  readonly branches?: number;
}

/** What {@link createRepository} made. */
export interface CreatedRepository {
  readonly head: string;
  /** sha256 of `big.bin`'s content, when there is one. */
  readonly bigSha256?: string;
}

const COMMITTER = 'Spec <spec@example.com>';

/** Creates a bare repository at `path` with `git fast-import` (seconds for thousands of commits). */
export async function createRepository(path: string, home: string, options: RepositoryOptions): Promise<CreatedRepository> {
  await mkdir(path, { recursive: true });
  await git(['init', '--quiet', '--bare', '--initial-branch=main', path], { home });
  const parts: Buffer[] = [];
  let bigSha256: string | undefined;
  if ((options.bigBlobBytes ?? 0) > 0) {
    const big = randomBytes(options.bigBlobBytes as number);
    bigSha256 = createHash('sha256').update(big).digest('hex');
    parts.push(Buffer.from(`blob\nmark :1\ndata ${big.length}\n`), big, Buffer.from('\n'));
  }
  const text: string[] = [];
  const every = options.branches ? Math.max(1, Math.floor(options.commits / options.branches)) : 0;
  for (let i = 1; i <= options.commits; i++) {
    const content = `change ${i}\n`;
    const message = `commit ${i}\n`;
    text.push(
      `commit refs/heads/main\nmark :${i + 1}\ncommitter ${COMMITTER} ${1_700_000_000 + i} +0000\ndata ${message.length}\n${message}`,
      i === 1 && bigSha256 !== undefined ? 'M 100644 :1 big.bin\n' : '',
      `M 100644 inline counter.txt\ndata ${content.length}\n${content}\n`,
    );
    if (every > 0 && i % every === 0 && i / every <= (options.branches as number)) text.push(`reset refs/heads/b${i / every - 1}\nfrom :${i + 1}\n\n`);
  }
  parts.push(Buffer.from(text.join('')));
  await git(['fast-import', '--quiet'], { cwd: path, home, input: Buffer.concat(parts), timeoutMs: 180_000 });
  return { head: await git(['rev-parse', 'refs/heads/main'], { cwd: path, home }), ...(bigSha256 === undefined ? {} : { bigSha256 }) };
}

/** Adds `count` commits on top of `main` of the bare repository at `path`; returns the new head. */
export async function addCommits(path: string, home: string, count: number): Promise<string> {
  const text: string[] = [];
  for (let i = 1; i <= count; i++) {
    const content = `more ${i}\n`;
    const message = `more ${i}\n`;
    text.push(
      `commit refs/heads/main\ncommitter ${COMMITTER} ${1_800_000_000 + i} +0000\ndata ${message.length}\n${message}`,
      i === 1 ? 'from refs/heads/main^0\n' : '',
      `M 100644 inline more.txt\ndata ${content.length}\n${content}\n`,
    );
  }
  await git(['fast-import', '--quiet'], { cwd: path, home, input: text.join('') });
  return git(['rev-parse', 'refs/heads/main'], { cwd: path, home });
}

/** sha256 of a file's content, streamed. */
export async function fileSha256(path: string): Promise<string> {
  const { createReadStream } = await import('node:fs');
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
