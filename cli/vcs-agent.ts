import { TunnelClient } from '../lib/agent/tunnel-client.js';
import { AuthenticationError, InvalidOptionError, VcsAgentError } from '../lib/errors.js';
import { createVendorPolicy } from '../lib/vendors/index.js';
import { agentParser, resolveAgentConfig, type AgentConfig } from './agent-options.js';
import { ConfigError } from './config-error.js';
import { createCliLogger } from './create-logger.js';
import { ExitCode } from './exit-codes.js';
import { loadRulesFile, loadVendorModule } from './vendor-loading.js';

/** Parses and validates; prints help or a one-line error. Returns the config or an exit code. */
async function configure(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<AgentConfig | number> {
  try {
    const parser = agentParser(argv).exitProcess(false);
    const flags = (await parser.parseAsync()) as Record<string, unknown>;
    if (flags.help === true) return ExitCode.Ok;
    return resolveAgentConfig(flags, env);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof InvalidOptionError) {
      process.stderr.write(`vcs-agent: ${error.message}\nRun vcs-agent --help for the options.\n`);
      return ExitCode.Config;
    }
    throw error;
  }
}

async function buildPolicy(config: AgentConfig) {
  const vendor = config.vendorModule === undefined ? config.vendor : await loadVendorModule(config.vendorModule);
  const extraRules = config.rulesFile === undefined ? undefined : await loadRulesFile(config.rulesFile);
  return createVendorPolicy(vendor, { allowedProjects: config.allowedProjects, ...(extraRules === undefined ? {} : { extraRules }) });
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const configured = await configure(argv, env);
  if (typeof configured === 'number') return configured;
  const config = configured;
  const logger = createCliLogger({ format: config.logFormat, level: config.logLevel });

  let client: TunnelClient;
  try {
    const policy = await buildPolicy(config);
    client = new TunnelClient({
      token: config.rawToken,
      target: config.target,
      policy,
      parallelism: config.parallelism,
      vendor: config.vendor,
      metadata: config.metadata,
      logger,
    });
  } catch (error) {
    if (error instanceof VcsAgentError && (error.code === 'VCS_INVALID_OPTION' || error instanceof InvalidOptionError)) {
      const option = error instanceof InvalidOptionError ? error.option : 'option';
      process.stderr.write(`vcs-agent: ${error.message}${option === 'allowed-projects' ? ' (--allowed-projects / SPACELIFT_VCS_AGENT_ALLOWED_PROJECTS)' : ''}\n`);
      await logger.close();
      return ExitCode.Config;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`vcs-agent: ${error.message}\n`);
      await logger.close();
      return ExitCode.Config;
    }
    throw error;
  }

  let signals = 0;
  const stopped = new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        logger.warn('second signal: exiting at once', { signal });
        client.destroy();
        resolve(ExitCode.Failure);
        return;
      }
      logger.info('draining: no new requests; in-flight ones may finish', { signal, graceMs: config.drainTimeoutMs });
      client.close({ timeoutMs: config.drainTimeoutMs }).then(() => {
        logger.info('drained; exiting');
        resolve(ExitCode.Ok);
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });

  logger.info('starting vcs-agent', {
    gateway: new URL(config.token.host).origin,
    pool: config.token.pool_ulid,
    target: config.target.origin,
    vendor: config.vendor,
    parallelism: config.parallelism,
    allowedProjects: config.allowedProjects,
  });
  try {
    await client.start();
  } catch (error) {
    if (error instanceof AuthenticationError) {
      logger.error('the gateway refused the pool credentials', { code: error.code, reason: error.reason, error: error.message });
      await logger.close();
      return ExitCode.AuthRefused;
    }
    if (signals > 0) {
      const code = await stopped;
      await logger.close();
      return code;
    }
    throw error;
  }
  const code = await stopped;
  await logger.close();
  return code;
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
    // Handles the library may still hold (keep-alive sockets) must not keep us alive.
    setTimeout(() => process.exit(code), 100).unref();
  },
  (error: unknown) => {
    process.stderr.write(`vcs-agent: unexpected failure: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(ExitCode.Failure);
  },
);
