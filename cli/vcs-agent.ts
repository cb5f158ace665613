import type { Duplex } from 'node:stream';
import type { HealthServer } from '../lib/agent/health-server.js';
import { TunnelClient, type TunnelClientOptions } from '../lib/agent/tunnel-client.js';
import { AuthenticationError, InvalidOptionError, VcsAgentError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { displayProxy } from '../lib/proxy/proxy-url.js';
import { resolveProxy } from '../lib/proxy/resolve-proxy.js';
import { createVendorPolicy } from '../lib/vendors/index.js';
import { agentParser, resolveAgentConfig, type AgentConfig } from './agent-options.js';
import type { ErrorReporter } from './bugsnag-reporter.js';
import { isOperatorError, scrubText } from './error-scrub.js';
import { ConfigError } from './config-error.js';
import { GC_PACE_BYTES, bodyGcPacer } from './gc-pacer.js';
import { createCliLogger } from './create-logger.js';
import { ExitCode } from './exit-codes.js';
import { keepWasmOnBaselineCompiler } from './wasm-tiers.js';

/*
 * Optional features load their modules only when switched on: prom-client, the proxy
 * agents, Bugsnag, the tracer and the YAML parser each cost 5-13 MiB of RSS, and an
 * agent that does not use them should not carry them (docs/performance.md § Memory).
 */

/** Signal numbers for the conventional 128+N exit status of a forced stop. */
const SIGNAL_NUMBERS: Readonly<Record<string, number>> = { SIGINT: 2, SIGTERM: 15 };

function printConfigError(message: string): void {
  process.stderr.write(`vcs-agent: ${message.replace(/[\r\n]+/g, ' ')}\nRun vcs-agent --help for the options.\n`);
}

/** Parses and validates; prints help or a one-line error. Returns the config or an exit code. */
async function configure(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<AgentConfig | number> {
  try {
    const parser = agentParser(argv).exitProcess(false);
    const flags = (await parser.parseAsync()) as Record<string, unknown>;
    if (flags.help === true) return ExitCode.Ok;
    return resolveAgentConfig(flags, env);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof InvalidOptionError) {
      printConfigError(error.message);
      return ExitCode.Config;
    }
    throw error;
  }
}

async function buildPolicy(config: AgentConfig) {
  const loading = config.vendorModule === undefined && config.rulesFile === undefined ? undefined : await import('./vendor-loading.js');
  const vendor = config.vendorModule === undefined || loading === undefined ? config.vendor : await loading.loadVendorModule(config.vendorModule);
  const extraRules = config.rulesFile === undefined || loading === undefined ? undefined : await loading.loadRulesFile(config.rulesFile);
  return createVendorPolicy(vendor, {
    allowedProjects: config.allowedProjects,
    allowedCollections: config.allowedCollections,
    ...(extraRules === undefined ? {} : { extraRules }),
  });
}

/** Exact strings no report, log or trace may contain. */
function secretsOf(config: AgentConfig): string[] {
  const secrets = [config.rawToken, config.token.key];
  for (const value of [config.proxyEnv.httpsProxy, config.proxyEnv.httpProxy]) {
    if (value === undefined) continue;
    try {
      const url = new URL(value.includes('://') ? value : `http://${value}`);
      if (url.password !== '') secrets.push(decodeURIComponent(url.password), url.password);
    } catch {
      // Validated already; nothing to add.
    }
  }
  return secrets;
}

async function createReporter(config: AgentConfig, logger: Logger): Promise<ErrorReporter | undefined> {
  if (config.bugsnagApiKey === undefined) return undefined;
  const { createBugsnagReporter } = await import('./bugsnag-reporter.js');
  const notify = config.bugsnagEndpoint ?? new URL('https://notify.bugsnag.com');
  const proxy = resolveProxy(notify, config.proxyEnv);
  const createUpstreamAgent = proxy === undefined ? undefined : (await import('../lib/proxy/upstream-agent.js')).createUpstreamAgent;
  return createBugsnagReporter({
    apiKey: config.bugsnagApiKey,
    notifyEndpoint: notify.href,
    ...(config.bugsnagEndpoint === undefined ? {} : { sessionsEndpoint: notify.href }),
    secrets: secretsOf(config),
    ...(proxy === undefined || createUpstreamAgent === undefined ? {} : { agent: createUpstreamAgent(notify, { proxy, maxSockets: 1 }).agent }),
    onDeliveryError: (message) => logger.warn('could not report the error to Bugsnag', { error: message }),
  });
}

let crash: ((error: unknown, context: string) => void) | undefined;

/**
 * Unexpected failures: logged, reported (with a key), then the process exits 1. Operator
 * errors (configuration, refused credentials) are logged but never reported. Only the
 * first failure is reported; later ones while exiting are just logged.
 */
function installCrashHandlers(logger: Logger & { close(): Promise<void> }, reporter: ErrorReporter | undefined, secrets: readonly string[]): void {
  let crashing = false;
  crash = (error: unknown, context: string): void => {
    const message = scrubText(error instanceof Error ? error.message : String(error), secrets);
    try {
      logger.error('unexpected error; exiting', { context, error: message, code: error instanceof VcsAgentError ? error.code : undefined });
    } catch {
      process.stderr.write(`vcs-agent: unexpected error (${context}): ${message}\n`);
    }
    if (crashing) return;
    crashing = true;
    const report = reporter === undefined || isOperatorError(error) ? Promise.resolve() : reporter.report(error, context);
    // Flush the log line (bounded by close()'s own timeout), then go.
    report.then(() => logger.close()).finally(() => process.exit(ExitCode.Failure));
  };
  const handler = crash;
  process.on('uncaughtException', (error) => handler(error, 'uncaughtException'));
  process.on('unhandledRejection', (reason) => handler(reason, 'unhandledRejection'));
}

async function clientOptions(config: AgentConfig, logger: Logger): Promise<Omit<TunnelClientOptions, 'policy'>> {
  const options: Omit<TunnelClientOptions, 'policy'> = {
    token: config.rawToken,
    ...(config.protocol === 'spacelift' ? { protocol: 'spacelift' as const, spacelift: { dialInsecure: config.dialInsecure } } : {}),
    target: config.target,
    parallelism: config.parallelism,
    gatewayConnections: config.gatewayConnections,
    vendor: config.vendor,
    metadata: config.metadata,
    logger,
  };
  // Without a proxy for the VCS the client's own keep-alive undici agent is used. Through one,
  // undici too: CONNECT tunnels to an https VCS, absolute-form requests to the proxy for an
  // http one. Either way one connection for every stream of every gateway connection, like
  // the client's own default.
  if (config.targetProxy !== undefined) {
    const connections = config.parallelism * config.gatewayConnections;
    const { createUpstreamDispatcher } = await import('../lib/proxy/upstream-dispatcher.js');
    options.upstreamDispatcher = createUpstreamDispatcher(config.target, { proxy: config.targetProxy, connections }).dispatcher;
  }
  if (config.gatewayProxy !== undefined) options.proxy = config.gatewayProxy;
  if (config.http2debug !== 0) {
    const { traceHttp2Socket } = await import('../lib/trace/http2-trace.js');
    const { goLogTimestamp } = await import('../lib/trace/go-log.js');
    const level = config.http2debug;
    const gateway = config.gatewayUrl;
    const connectionLabel = `${gateway.hostname}:${gateway.port === '' ? (gateway.protocol === 'https:' ? '443' : '80') : gateway.port}`;
    // Only set when tracing: otherwise the data path is the bare socket (docs/tracing.md).
    options.wrapSocket = (socket: Duplex) =>
      traceHttp2Socket(socket, { level, connectionLabel, write: (line) => process.stderr.write(`${goLogTimestamp()}${line}\n`) });
  }
  options.onBodyChunk = bodyGcPacer(GC_PACE_BYTES);
  if (config.debugPrintAll) {
    const { createDebugPrinter } = await import('../lib/agent/debug-printer.js');
    options.onDebug = createDebugPrinter({ write: (line) => process.stderr.write(`vcs-agent debug ${line}\n`) });
  }
  return options;
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  keepWasmOnBaselineCompiler(process.execArgv, env.NODE_OPTIONS);
  const configured = await configure(argv, env);
  if (typeof configured === 'number') return configured;
  const config = configured;
  const logger = createCliLogger({ format: config.logFormat, level: config.logLevel });
  const reporter = await createReporter(config, logger);
  installCrashHandlers(logger, reporter, secretsOf(config));

  let client: TunnelClient;
  try {
    const policy = await buildPolicy(config);
    client = new TunnelClient({ ...(await clientOptions(config, logger)), policy });
  } catch (error) {
    if (error instanceof InvalidOptionError || error instanceof ConfigError) {
      const option = error instanceof InvalidOptionError ? error.option : 'option';
      printConfigError(`${error.message}${option === 'allowed-projects' ? ' (--allowed-projects / SPACELIFT_VCS_AGENT_ALLOWED_PROJECTS)' : ''}`);
      await logger.close();
      return ExitCode.Config;
    }
    throw error;
  }

  let health: HealthServer | undefined;
  if (config.healthListen !== undefined) {
    const [{ AgentMetrics }, { HealthServer }] = await Promise.all([import('../lib/agent/agent-metrics.js'), import('../lib/agent/health-server.js')]);
    const metrics = new AgentMetrics(client, { vendor: config.vendor });
    health = new HealthServer({ source: client, registry: metrics.registry, logger });
    try {
      const address = await health.listen(config.healthListen);
      logger.info('health listener ready', { address: address.address, port: address.port, paths: ['/healthz', '/readyz', '/metrics'] });
    } catch (error) {
      printConfigError(`Cannot listen on --health-listen / SPACELIFT_VCS_AGENT_HEALTH_LISTEN ${config.healthListen.host}:${config.healthListen.port}: ${(error as Error).message}`);
      client.destroy();
      await logger.close();
      return ExitCode.Config;
    }
  }

  let signals = 0;
  const stopped = new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        // The operator insists: no more waiting, not even for the log to flush.
        process.stderr.write(`vcs-agent: second ${signal}: exiting at once without draining\n`);
        client.destroy();
        process.exit(128 + (SIGNAL_NUMBERS[signal] ?? 15));
      }
      const startedAt = Date.now();
      logger.info('draining: no new requests; in-flight ones may finish', { signal, graceMs: config.drainTimeoutMs, inFlight: client.streamCounts.busy });
      client.close({ timeoutMs: config.drainTimeoutMs }).then(
        () => {
          logger.info('drained; exiting', { drainMs: Date.now() - startedAt, unfinished: client.streamCounts.busy });
          resolve(ExitCode.Ok);
        },
        (error: unknown) => {
          logger.error('draining failed', { error: (error as Error).message });
          resolve(ExitCode.Failure);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });

  const finish = async (code: number): Promise<number> => {
    await health?.close();
    await logger.close();
    return code;
  };

  logger.info('starting vcs-agent', {
    gateway: config.gatewayUrl.origin,
    protocol: config.protocol,
    pool: config.token.pool_ulid,
    target: config.target.origin,
    vendor: config.vendor,
    parallelism: config.parallelism,
    gatewayConnections: config.gatewayConnections,
    allowedProjects: config.allowedProjects,
    ...(config.vendor === 'azure_devops' ? { allowedCollections: config.allowedCollections } : {}),
    metadata: Object.keys(config.metadata),
    gatewayProxy: config.gatewayProxy === undefined ? 'direct' : displayProxy(config.gatewayProxy),
    targetProxy: config.targetProxy === undefined ? 'direct' : displayProxy(config.targetProxy),
    http2debug: config.http2debug,
    debugPrintAll: config.debugPrintAll,
    bugsnag: config.bugsnagApiKey !== undefined,
  });
  try {
    await client.start();
  } catch (error) {
    if (error instanceof AuthenticationError) {
      logger.error('the gateway refused the pool credentials', { code: error.code, reason: error.reason, error: error.message });
      return finish(ExitCode.AuthRefused);
    }
    if (error instanceof VcsAgentError && error.code === 'VCS_PROXY_AUTH_REQUIRED') {
      logger.error('the proxy refused the credentials (HTTPS_PROXY)', { code: error.code, error: scrubText(error.message, secretsOf(config)) });
      return finish(ExitCode.AuthRefused);
    }
    if (signals > 0) return finish(await stopped);
    throw error;
  }
  return finish(await stopped);
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
    // Handles the library may still hold (keep-alive sockets) must not keep us alive.
    setTimeout(() => process.exit(code), 100).unref();
  },
  (error: unknown) => {
    // Reached only for failures main() did not expect: logged and reported like a crash.
    if (crash !== undefined) {
      crash(error, 'main');
      return;
    }
    process.stderr.write(`vcs-agent: unexpected failure: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(ExitCode.Failure);
  },
);
