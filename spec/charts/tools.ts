// Shared by the chart and Dockerfile specs: where the repository is, how to
// find an external program, and how to skip (or, under CI, fail) without it.
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const chartDir = join(repoRoot, 'charts', 'vcs-agent');
export const renderedExamplePath = join(repoRoot, 'docs', 'examples', 'helm-rendered.yaml');

/** The seed's install line, as the rendered example in docs/ was produced from it. */
export const seedSetValues = {
  'credentials.token': '<TOKEN>',
  'credentials.endpoint': 'https://gitlab.example.com',
  'credentials.vendor': 'gitlab',
} as const;

/** Every option of the agent's CLI: its environment variable (DEVELOPERS.md names) and flag. */
export const agentOptions = [
  ['SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT', 'target-base-endpoint'],
  ['SPACELIFT_VCS_AGENT_POOL_TOKEN', 'token'],
  ['SPACELIFT_VCS_AGENT_VENDOR', 'vendor'],
  ['SPACELIFT_VCS_AGENT_ALLOWED_PROJECTS', 'allowed-projects'],
  ['SPACELIFT_VCS_AGENT_ALLOWED_COLLECTIONS', 'allowed-collections'],
  ['SPACELIFT_VCS_AGENT_VENDOR_MODULE', 'vendor-module'],
  ['SPACELIFT_VCS_AGENT_RULES_FILE', 'rules-file'],
  ['SPACELIFT_VCS_AGENT_BUGSNAG_API_KEY', 'bugsnag-api-key'],
  ['SPACELIFT_VCS_AGENT_PROTOCOL', 'protocol'],
  ['SPACELIFT_VCS_AGENT_DIAL_INSECURE', 'dial-insecure'],
  ['SPACELIFT_VCS_AGENT_PARALLELISM', 'parallelism'],
  ['SPACELIFT_VCS_AGENT_GATEWAY_CONNECTIONS', 'gateway-connections'],
  ['SPACELIFT_VCS_AGENT_DEBUG_PRINT_ALL', 'debug-print-all'],
  ['SPACELIFT_VCS_AGENT_HEALTH_LISTEN', 'health-listen'],
  ['SPACELIFT_VCS_AGENT_DRAIN_TIMEOUT', 'drain-timeout'],
  ['SPACELIFT_VCS_AGENT_LOG_FORMAT', 'log-format'],
  ['SPACELIFT_VCS_AGENT_LOG_LEVEL', 'log-level'],
] as const;

export const agentOptionVariables: readonly string[] = agentOptions.map(([variable]) => variable);

/** Variables read outside the SPACELIFT_VCS_AGENT_ namespace. */
export const otherVariables = ['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY', 'NODE_EXTRA_CA_CERTS'] as const;

/** The gateway chart and what `helm template` renders for its install line (docs/helm-gateway.md). */
export const gatewayChartDir = join(repoRoot, 'charts', 'vcs-gateway');
export const gatewayRenderedExamplePath = join(repoRoot, 'docs', 'examples', 'helm-gateway-rendered.yaml');

/**
 * The gateway chart's required values, as the rendered example was produced from them:
 * the URL agents dial, the existing Redis, and the three tokens (each at least 16 characters).
 */
export const gatewayInstallValues = {
  gatewayUrl: 'https://vcs-gateway.example.com:8443',
  'redis.url': 'redis://:<REDIS_PASSWORD>@redis.example.internal:6379/0',
  'admin.token': '<ADMIN_TOKEN_AT_LEAST_16_CHARACTERS>',
  'frontDoor.token': '<FRONT_DOOR_TOKEN_AT_LEAST_16_CHARACTERS>',
  'peer.token': '<PEER_TOKEN_AT_LEAST_16_CHARACTERS>',
} as const;

/** `vcs-gateway serve` options the gateway chart sets through a variable: the variable and its flag. */
export const gatewayOptions = [
  ['VCS_GATEWAY_REDIS_URL', 'redis'],
  ['VCS_GATEWAY_URL', 'gateway-url'],
  ['VCS_GATEWAY_ADMIN_LISTEN', 'admin-listen'],
  ['VCS_GATEWAY_ADMIN_TOKEN', 'admin-token'],
  ['VCS_GATEWAY_FRONT_DOOR_TOKEN', 'front-door-token'],
  ['VCS_GATEWAY_SPACELIFT_LISTEN', 'spacelift-listen'],
] as const;

/**
 * The peer options (replicas forwarding requests to each other), named by their design and
 * set by the chart before the CLI reads them: a gateway without them ignores the variables.
 */
export const gatewayPeerOptions = [
  ['VCS_GATEWAY_PEER_LISTEN', 'peer-listen'],
  ['VCS_GATEWAY_PEER_URL', 'peer-url'],
  ['VCS_GATEWAY_PEER_TOKEN', 'peer-token'],
] as const;

/** Downward-API variables the gateway pod defines for `$(NAME)` expansion in args and values. */
export const gatewayPodVariables = ['POD_NAME', 'POD_IP'] as const;

/** How the chart runs the gateway from the image, whose ENTRYPOINT runs the agent. */
export const gatewayCommand = ['node', '/app/dist/cli/vcs-gateway.js'] as const;

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

export function readYaml(path: string): unknown {
  return parseYaml(readText(path));
}

/** Parses a multi-document YAML file, failing on any document with errors. */
export function readYamlDocuments(path: string): unknown[] {
  return parseAllDocuments(readText(path)).map((doc, index) => {
    if (doc.errors.length > 0) {
      throw new Error(`${path} document ${index}: ${doc.errors.map((e) => e.message).join('; ')}`);
    }
    return doc.toJS() as unknown;
  }).filter((doc) => doc !== null && doc !== undefined);
}

/** Absolute path of an executable named `name` on PATH, or undefined. */
export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/**
 * For a program that ships as a Debian package: returns its path, or skips the
 * test with the install command — except under CI=true, where a missing
 * program fails the test (common.md rule).
 */
export function requireDebianProgram(ctx: Mocha.Context, program: string, debianPackage: string): string {
  const found = findOnPath(program);
  if (found !== undefined) return found;
  const hint = `${program} not found: install it with \`apt-get install -y ${debianPackage}\``;
  if (process.env.CI === 'true') throw new Error(`${hint} (required under CI=true)`);
  return skipWith(ctx, hint);
}

/** Skips the running test, putting the reason in its title (mocha has no skip message). */
export function skipWith(ctx: Mocha.Context, reason: string): never {
  // In a hook, ctx.test is the hook itself; the test being skipped is currentTest.
  const isHook = (ctx.test as { type?: string } | undefined)?.type === 'hook';
  const target = isHook ? ctx.currentTest : ctx.test;
  if (target !== undefined) target.title += ` [skipped: ${reason}]`;
  ctx.skip();
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Walks `path` into `root` (a numeric step indexes a list); undefined when a step is missing. */
export function lookup(root: unknown, path: readonly string[]): unknown {
  let current: unknown = root;
  for (const step of path) {
    if (Array.isArray(current) && /^\d+$/.test(step)) {
      current = current[Number(step)];
    } else if (isRecord(current) && Object.prototype.hasOwnProperty.call(current, step)) {
      current = current[step];
    } else {
      return undefined;
    }
  }
  return current;
}
