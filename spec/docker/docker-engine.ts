// The Docker engine for the image spec: the `docker` client, a running daemon,
// the locally made Node base image, and the project's image built on it.
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { findOnPath, repoRoot, skipWith } from '../charts/tools.js';

export interface DockerResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `docker …`; resolves with the exit code (never rejects on a non-zero one), bounded by `timeoutMs`. */
export function docker(args: readonly string[], timeoutMs = 60_000): Promise<DockerResult> {
  return new Promise((resolvePromise, reject) => {
    execFile('docker', args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null && typeof (error as { code?: unknown }).code !== 'number') return reject(error);
      resolvePromise({ code: error === null ? 0 : Number((error as { code?: unknown }).code), stdout, stderr });
    });
  });
}

/** Like {@link docker}, failing with the command's output on a non-zero exit. */
export async function dockerOk(args: readonly string[], timeoutMs = 60_000): Promise<string> {
  const result = await docker(args, timeoutMs);
  if (result.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/**
 * Skips the suite (with why and how) when no Docker engine can be used here;
 * under CI=true that is a failure instead, since .ci/run installs and starts one.
 */
export async function requireDockerEngine(ctx: Mocha.Context): Promise<void> {
  let reason: string | undefined;
  if (findOnPath('docker') === undefined) {
    reason = 'docker not found: install it with `apt-get install -y docker.io` and start dockerd as root';
  } else {
    const info = await docker(['info', '--format', '{{.ServerVersion}}'], 20_000);
    if (info.code !== 0) reason = `no Docker engine answers (${info.stderr.trim().split('\n')[0] ?? ''}): start it as root with \`dockerd &\``;
  }
  if (reason === undefined) return;
  if (process.env.CI === 'true') throw new Error(`${reason} (required under CI=true)`);
  skipWith(ctx, reason);
}

/** Runs a script, streaming nothing; resolves with its stdout, rejects with its output on failure. */
function runScript(command: string, args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { err += chunk; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolvePromise(out);
      reject(new Error(`${command} ${args.join(' ')} failed (${code ?? signal}):\n${out}\n${err}`));
    });
  });
}

/**
 * The base image for NODE_IMAGE: VCS_AGENT_NODE_IMAGE when set, else the image
 * scripts/make-node-base-image.sh makes (kept once made; needs root and debootstrap).
 */
export async function nodeBaseImage(ctx: Mocha.Context): Promise<string> {
  const given = process.env.VCS_AGENT_NODE_IMAGE;
  if (given !== undefined && given !== '') return given;
  const tag = 'vcs-agent-base/node:20-bookworm';
  if ((await docker(['image', 'inspect', tag], 20_000)).code === 0) return tag;
  const missing = process.getuid?.() !== 0
    ? 'making the base image needs root (debootstrap); or set VCS_AGENT_NODE_IMAGE to a Node 20 image'
    : findOnPath('debootstrap') === undefined ? 'debootstrap not found: install it with `apt-get install -y debootstrap`' : undefined;
  if (missing !== undefined) {
    if (process.env.CI === 'true') throw new Error(`${missing} (required under CI=true)`);
    skipWith(ctx, missing);
  }
  return (await runScript('bash', [join(repoRoot, 'scripts', 'make-node-base-image.sh'), tag], process.env, 600_000)).trim();
}

/** Builds the repository's Dockerfile on `base`; resolves with the tag. */
export async function buildImage(base: string, tag: string): Promise<string> {
  // Host network: the build's `npm ci` reaches the registry the way the host
  // does, and no bridge network (private-range addresses) is created.
  await dockerOk(['build', '--network', 'host', '--build-arg', `NODE_IMAGE=${base}`, '--build-arg', 'VERSION=0.0.0-spec', '-t', tag, repoRoot], 900_000);
  return tag;
}
