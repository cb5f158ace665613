import yargs from 'yargs';
import { InvalidOptionError, InvalidTokenError } from '../lib/errors.js';
import { compileAllowedProjects } from '../lib/policy/allowed-projects.js';
import { compileAllowedCollections } from '../lib/policy/vendor-policy.js';
import { proxyEnvironmentFrom, type ProxyEnvironment } from '../lib/proxy/proxy-environment.js';
import { parseProxyUrl } from '../lib/proxy/proxy-url.js';
import { resolveProxy } from '../lib/proxy/resolve-proxy.js';
import { parseGodebug } from '../lib/trace/godebug.js';
import { decodePoolToken, type PoolToken } from '../lib/protocol/token.js';
import { parseSpaceliftTarget } from '../lib/protocol/spacelift/spacelift-target.js';
import { MAX_PARALLELISM } from '../lib/protocol/http2-settings.js';
import { MAX_GATEWAY_CONNECTIONS } from '../lib/agent/tunnel-client-options.js';
import { VENDOR_NAMES, isVendorName, type VendorName } from '../lib/vendors/index.js';
import { ConfigError } from './config-error.js';
import { parseHostPort } from './host-port.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from './create-logger.js';

/** One agent option: its flag, its variable, its default, where `--help` shows it. */
interface OptionSpec {
  flag: string;
  env: string;
  type: 'string' | 'boolean' | 'number';
  group: string;
  describe: string;
  default?: string;
  /** Secrets are never echoed back in errors or `--help`. */
  secret?: boolean;
}

const REQUIRED = 'Required:';
const POLICY = 'Request policy:';
const CONNECTION = 'Connection:';
const OPERATIONS = 'Operations:';

/** Every agent option, flag and variable, exactly as documented in docs/configuration.md. */
export const AGENT_OPTIONS: readonly OptionSpec[] = [
  { flag: 'target-base-endpoint', env: 'SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT', type: 'string', group: REQUIRED, describe: 'Base URL of the VCS, e.g. https://gitlab.internal' },
  { flag: 'token', env: 'SPACELIFT_VCS_AGENT_POOL_TOKEN', type: 'string', group: REQUIRED, describe: 'The pool configuration token (base64)', secret: true },
  { flag: 'vendor', env: 'SPACELIFT_VCS_AGENT_VENDOR', type: 'string', group: REQUIRED, describe: `The VCS vendor: ${VENDOR_NAMES.join(', ')}` },
  { flag: 'allowed-projects', env: 'SPACELIFT_VCS_AGENT_ALLOWED_PROJECTS', type: 'string', group: POLICY, default: '.*', describe: 'Regexp the whole group/repository must match (case-insensitive)' },
  { flag: 'allowed-collections', env: 'SPACELIFT_VCS_AGENT_ALLOWED_COLLECTIONS', type: 'string', group: POLICY, default: 'DefaultCollection', describe: 'Comma-separated Azure DevOps collections requests may address (case-insensitive)' },
  { flag: 'vendor-module', env: 'SPACELIFT_VCS_AGENT_VENDOR_MODULE', type: 'string', group: POLICY, describe: 'Path of a module exporting a defineVendor() definition (replaces --vendor rules)' },
  { flag: 'rules-file', env: 'SPACELIFT_VCS_AGENT_RULES_FILE', type: 'string', group: POLICY, describe: 'JSON or YAML file of extra rules added to the vendor allowlist' },
  { flag: 'protocol', env: 'SPACELIFT_VCS_AGENT_PROTOCOL', type: 'string', group: CONNECTION, default: 'vcs-agent', describe: "Wire protocol: vcs-agent, or spacelift (Spacelift's gRPC gateway protocol)" },
  { flag: 'dial-insecure', env: 'SPACELIFT_VCS_AGENT_DIAL_INSECURE', type: 'boolean', group: CONNECTION, default: 'false', describe: 'With --protocol spacelift: dial a host:port token host without TLS' },
  { flag: 'parallelism', env: 'SPACELIFT_VCS_AGENT_PARALLELISM', type: 'number', group: CONNECTION, default: '4', describe: `Streams to open on each gateway connection; each carries one request at a time (1-${MAX_PARALLELISM})` },
  { flag: 'gateway-connections', env: 'SPACELIFT_VCS_AGENT_GATEWAY_CONNECTIONS', type: 'number', group: CONNECTION, default: '2', describe: `Separate connections to the gateway, each with --parallelism streams and redialled on its own (1-${MAX_GATEWAY_CONNECTIONS})` },
  { flag: 'debug-print-all', env: 'SPACELIFT_VCS_AGENT_DEBUG_PRINT_ALL', type: 'boolean', group: OPERATIONS, default: 'false', describe: 'Print every request and response (secrets redacted, bodies truncated)' },
  { flag: 'bugsnag-api-key', env: 'SPACELIFT_VCS_AGENT_BUGSNAG_API_KEY', type: 'string', group: OPERATIONS, describe: 'Report unexpected errors to Bugsnag (nothing is sent without it)', secret: true },
  { flag: 'health-listen', env: 'SPACELIFT_VCS_AGENT_HEALTH_LISTEN', type: 'string', group: OPERATIONS, describe: 'HOST:PORT for /healthz, /readyz and /metrics (off by default)' },
  { flag: 'drain-timeout', env: 'SPACELIFT_VCS_AGENT_DRAIN_TIMEOUT', type: 'number', group: OPERATIONS, default: '30', describe: 'Seconds in-flight requests get to finish after SIGTERM/SIGINT' },
  { flag: 'log-format', env: 'SPACELIFT_VCS_AGENT_LOG_FORMAT', type: 'string', group: OPERATIONS, default: 'json', describe: `Log format: ${LOG_FORMATS.join(', ')}` },
  { flag: 'log-level', env: 'SPACELIFT_VCS_AGENT_LOG_LEVEL', type: 'string', group: OPERATIONS, default: 'info', describe: `Log level: ${LOG_LEVELS.join(', ')}` },
];

export const METADATA_PREFIX = 'SPACELIFT_METADATA_';

/** Where `--bugsnag-api-key` reports go instead of Bugsnag's own endpoint (tests, self-hosted Bugsnag). */
export const BUGSNAG_ENDPOINT_ENV = 'SPACELIFT_VCS_AGENT_BUGSNAG_ENDPOINT';

/** The agent's validated configuration. */
export interface AgentConfig {
  target: URL;
  token: PoolToken;
  rawToken: string;
  /** Wire protocol (`--protocol`). */
  protocol: 'vcs-agent' | 'spacelift';
  /** `--dial-insecure` (Spacelift protocol only). */
  dialInsecure: boolean;
  /** Where the agent dials: the token's host as a URL (for a host:port target, https:// or http://). */
  gatewayUrl: URL;
  vendor: VendorName;
  allowedProjects: string;
  /** Azure DevOps collections requests may address (`--allowed-collections`). */
  allowedCollections: string[];
  vendorModule?: string;
  rulesFile?: string;
  parallelism: number;
  /** `--gateway-connections`: connections to the gateway, each with `parallelism` streams. */
  gatewayConnections: number;
  debugPrintAll: boolean;
  bugsnagApiKey?: string;
  healthListen?: { host: string; port: number };
  drainTimeoutMs: number;
  logFormat: LogFormat;
  logLevel: LogLevel;
  metadata: Record<string, string>;
  /** HTTPS_PROXY/HTTP_PROXY/NO_PROXY as read from the environment (raw; may hold credentials). */
  proxyEnv: ProxyEnvironment;
  /** The proxy for the gateway connection (CONNECT), or undefined for a direct connection. */
  gatewayProxy?: URL;
  /** The proxy for requests to the VCS, or undefined for direct requests. */
  targetProxy?: URL;
  /** `GODEBUG=http2debug=N`: 0 off, 1 or 2 traces the gateway connection on stderr. */
  http2debug: 0 | 1 | 2;
  /** `SPACELIFT_VCS_AGENT_BUGSNAG_ENDPOINT`: the notify URL, when overridden. */
  bugsnagEndpoint?: URL;
}

function label(spec: OptionSpec): string {
  return `--${spec.flag} / ${spec.env}`;
}

function helpText(spec: OptionSpec): string {
  return `${spec.describe}  [env: ${spec.env}]${spec.default === undefined ? '' : `  [default: ${spec.default}]`}`;
}

/** The yargs parser for `vcs-agent`: flags only; variables and defaults are merged after. */
export function agentParser(argv: readonly string[]) {
  let parser = yargs([...argv])
    .scriptName('vcs-agent')
    .usage('Usage: vcs-agent --target-base-endpoint URL --token TOKEN --vendor VENDOR [options]\n\nConnects a private VCS to its gateway pool. Every option can also be set with the variable shown; a flag wins over its variable.')
    .strict()
    .version(false)
    .help('help')
    .alias('help', 'h')
    .wrap(Math.min(120, process.stdout.columns ?? 100))
    .epilogue(
      [
        'Environment:',
        `  ${METADATA_PREFIX}<key>=<value>  sent to the gateway as metadata tag <key>`,
        '  HTTPS_PROXY, HTTP_PROXY, NO_PROXY (and lower case)  proxy for the gateway and the VCS',
        '  GODEBUG=http2debug=1|2  trace the HTTP/2 connection to the gateway like Go programs',
        '  NODE_EXTRA_CA_CERTS=FILE  trust an extra CA (gateway or VCS behind a private CA)',
        `  ${BUGSNAG_ENDPOINT_ENV}=URL  Bugsnag notify endpoint (tests, self-hosted Bugsnag)  [default: https://notify.bugsnag.com]`,
        '',
        'Exit codes: 0 stopped cleanly (also after draining), 1 runtime failure, 2 bad configuration,',
        '  3 credentials refused (gateway or proxy), 130/143 second SIGINT/SIGTERM while draining.',
      ].join('\n'),
    )
    .fail((message, error) => {
      throw new ConfigError(error?.message ?? message);
    });
  for (const spec of AGENT_OPTIONS) {
    // Numbers are read as text so a bad value is echoed as typed, not as NaN.
    parser = parser.option(spec.flag, { type: spec.type === 'number' ? 'string' : spec.type, group: spec.group, describe: helpText(spec), requiresArg: spec.type !== 'boolean' });
  }
  return parser;
}

/**
 * Merges flags, variables and defaults (a flag wins over its variable) and validates every
 * value. Throws `ConfigError` naming the flag and the variable; never echoes a secret.
 */
export function resolveAgentConfig(flags: Record<string, unknown>, env: Readonly<Record<string, string | undefined>>): AgentConfig {
  const raw = (flag: string): string | undefined => {
    const spec = AGENT_OPTIONS.find((option) => option.flag === flag) as OptionSpec;
    const fromFlag = flags[flag];
    if (fromFlag !== undefined) {
      if (Array.isArray(fromFlag)) throw new ConfigError(`${label(spec)} was given more than once: expected one value`);
      return String(fromFlag);
    }
    const fromEnv = env[spec.env];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    return spec.default;
  };
  const required = (flag: string): string => {
    const value = raw(flag);
    if (value === undefined || value.trim() === '') {
      const spec = AGENT_OPTIONS.find((option) => option.flag === flag) as OptionSpec;
      throw new ConfigError(`Missing ${label(spec)}: expected ${spec.describe.charAt(0).toLowerCase()}${spec.describe.slice(1)}`);
    }
    return value;
  };
  const spec = (flag: string): OptionSpec => AGENT_OPTIONS.find((option) => option.flag === flag) as OptionSpec;

  const targetText = required('target-base-endpoint');
  let target: URL;
  try {
    target = new URL(targetText);
  } catch {
    throw new ConfigError(`Invalid ${label(spec('target-base-endpoint'))} "${targetText.slice(0, 200)}": expected an http:// or https:// URL`);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new ConfigError(`Invalid ${label(spec('target-base-endpoint'))}: scheme ${target.protocol} is not http: or https:`);
  }
  if (target.username !== '' || target.password !== '') {
    throw new ConfigError(`Invalid ${label(spec('target-base-endpoint'))}: expected no credentials in the URL`);
  }
  if (target.search !== '' || target.hash !== '') {
    throw new ConfigError(`Invalid ${label(spec('target-base-endpoint'))}: expected no query or fragment`);
  }

  const protocol = required('protocol');
  if (protocol !== 'vcs-agent' && protocol !== 'spacelift') {
    throw new ConfigError(`Invalid ${label(spec('protocol'))} "${protocol.slice(0, 40)}": expected vcs-agent or spacelift`);
  }
  const dialInsecure = parseBoolean(required('dial-insecure'), spec('dial-insecure'));
  if (dialInsecure && protocol !== 'spacelift') {
    throw new ConfigError(`${label(spec('dial-insecure'))} applies only with --protocol spacelift (a vcs-agent token's http:// or https:// host already says whether TLS is used)`);
  }
  const rawToken = required('token');
  let token: PoolToken;
  let gatewayUrl: URL;
  try {
    token = decodePoolToken(rawToken, { host: protocol === 'spacelift' ? 'grpc-target' : 'url' });
    gatewayUrl = protocol === 'spacelift' ? parseSpaceliftTarget(token.host, dialInsecure).url : new URL(token.host);
  } catch (error) {
    if (error instanceof InvalidTokenError) throw new ConfigError(`Invalid ${label(spec('token'))}: ${error.message}`);
    if (error instanceof InvalidOptionError) throw new ConfigError(`Invalid ${label(spec('dial-insecure'))}: ${error.message}`);
    throw error;
  }

  const vendor = required('vendor');
  if (!isVendorName(vendor)) {
    throw new ConfigError(`Invalid ${label(spec('vendor'))} "${vendor.slice(0, 60)}": expected one of ${VENDOR_NAMES.join(', ')}`);
  }

  const parallelism = wholeNumber(required('parallelism'), spec('parallelism'), MAX_PARALLELISM);
  const gatewayConnections = wholeNumber(required('gateway-connections'), spec('gateway-connections'), MAX_GATEWAY_CONNECTIONS);

  const debugPrintAll = parseBoolean(required('debug-print-all'), spec('debug-print-all'));

  const drainText = required('drain-timeout');
  const drainSeconds = Number(drainText);
  if (!Number.isFinite(drainSeconds) || drainSeconds < 0 || drainSeconds > 3600) {
    throw new ConfigError(`Invalid ${label(spec('drain-timeout'))} "${drainText.slice(0, 40)}": expected seconds from 0 to 3600`);
  }

  const logFormat = required('log-format');
  if (!(LOG_FORMATS as readonly string[]).includes(logFormat)) {
    throw new ConfigError(`Invalid ${label(spec('log-format'))} "${logFormat.slice(0, 40)}": expected one of ${LOG_FORMATS.join(', ')}`);
  }
  const logLevel = required('log-level');
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`Invalid ${label(spec('log-level'))} "${logLevel.slice(0, 40)}": expected one of ${LOG_LEVELS.join(', ')}`);
  }

  const allowedProjects = required('allowed-projects');
  try {
    compileAllowedProjects(allowedProjects);
  } catch (error) {
    if (error instanceof InvalidOptionError) throw new ConfigError(`Invalid ${label(spec('allowed-projects'))}: ${error.message}`);
    throw error;
  }

  const allowedCollections = required('allowed-collections')
    .split(',')
    .map((name) => name.trim());
  try {
    compileAllowedCollections(allowedCollections);
  } catch (error) {
    if (error instanceof InvalidOptionError) throw new ConfigError(`Invalid ${label(spec('allowed-collections'))}: ${error.message}`);
    throw error;
  }

  const proxyEnv = proxyEnvironmentFrom(env);
  let gatewayProxy: URL | undefined;
  let targetProxy: URL | undefined;
  let http2debug: 0 | 1 | 2;
  try {
    // Both proxy variables are checked even when unused, so a typo shows at start-up.
    if (proxyEnv.httpsProxy !== undefined) parseProxyUrl(proxyEnv.httpsProxy, 'HTTPS_PROXY');
    if (proxyEnv.httpProxy !== undefined) parseProxyUrl(proxyEnv.httpProxy, 'HTTP_PROXY');
    gatewayProxy = resolveProxy(gatewayUrl, proxyEnv);
    targetProxy = resolveProxy(target, proxyEnv);
    http2debug = parseGodebug(env.GODEBUG).http2debug;
  } catch (error) {
    // Messages name the variable (HTTPS_PROXY, NO_PROXY, GODEBUG) and never show credentials.
    if (error instanceof InvalidOptionError) throw new ConfigError(error.message);
    throw error;
  }

  const healthText = raw('health-listen');
  const config: AgentConfig = {
    target,
    token,
    rawToken,
    protocol,
    dialInsecure,
    gatewayUrl,
    vendor,
    allowedProjects,
    allowedCollections,
    parallelism,
    gatewayConnections,
    debugPrintAll,
    drainTimeoutMs: Math.round(drainSeconds * 1000),
    logFormat: logFormat as LogFormat,
    logLevel: logLevel as LogLevel,
    metadata: metadataFrom(env),
    proxyEnv,
    http2debug,
  };
  if (gatewayProxy !== undefined) config.gatewayProxy = gatewayProxy;
  if (targetProxy !== undefined) config.targetProxy = targetProxy;
  const vendorModule = raw('vendor-module');
  if (vendorModule !== undefined) config.vendorModule = vendorModule;
  const rulesFile = raw('rules-file');
  if (rulesFile !== undefined) config.rulesFile = rulesFile;
  const bugsnag = raw('bugsnag-api-key');
  if (bugsnag !== undefined) {
    if (!/^[0-9a-f]{32}$/i.test(bugsnag)) throw new ConfigError(`Invalid ${label(spec('bugsnag-api-key'))}: expected a 32-character hexadecimal Bugsnag API key`);
    config.bugsnagApiKey = bugsnag;
  }
  if (healthText !== undefined) config.healthListen = parseHostPort(healthText, label(spec('health-listen')));
  const bugsnagEndpoint = env[BUGSNAG_ENDPOINT_ENV];
  if (bugsnagEndpoint !== undefined && bugsnagEndpoint !== '') {
    let url: URL | undefined;
    try {
      url = new URL(bugsnagEndpoint);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '') {
      throw new ConfigError(`Invalid ${BUGSNAG_ENDPOINT_ENV}: expected an http:// or https:// URL without credentials`);
    }
    config.bugsnagEndpoint = url;
  }
  return config;
}

function wholeNumber(text: string, spec: OptionSpec, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isInteger(value) || value < 1 || value > max) {
    throw new ConfigError(`Invalid ${label(spec)} "${text.slice(0, 40)}": expected a whole number from 1 to ${max}`);
  }
  return value;
}

function parseBoolean(value: string, spec: OptionSpec): boolean {
  const lower = value.trim().toLowerCase();
  if (['true', '1', 'yes'].includes(lower)) return true;
  if (['false', '0', 'no', ''].includes(lower)) return false;
  throw new ConfigError(`Invalid ${label(spec)} "${value.slice(0, 40)}": expected true or false`);
}


/** `SPACELIFT_METADATA_<key>` variables become tags `<key>`; bounded like the protocol demands. */
export function metadataFrom(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(METADATA_PREFIX) || value === undefined) continue;
    const key = name.slice(METADATA_PREFIX.length);
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(key)) throw new ConfigError(`Invalid metadata variable ${name.slice(0, 100)}: the tag name must be 1-64 letters, digits, '_', '.' or '-'`);
    if (value.length > 256 || /[\u0000-\u001f\u007f]/.test(value)) throw new ConfigError(`Invalid metadata variable ${name}: expected at most 256 printable characters`);
    tags[key] = value;
  }
  if (Object.keys(tags).length > 32) throw new ConfigError(`Too many ${METADATA_PREFIX}* variables: at most 32 tags are sent`);
  return tags;
}
