import { readFile } from 'node:fs/promises';
import yargs from 'yargs';
import { VcsAgentError } from '../lib/errors.js';
import { FrontDoor } from '../lib/gateway/front-door.js';
import { Gateway } from '../lib/gateway/gateway.js';
import { FilePoolStore } from '../lib/pools/file-pool-store.js';
import { createPool } from '../lib/pools/pool-service.js';
import { parseHostPort } from './agent-options.js';
import { ConfigError } from './config-error.js';
import { LOG_FORMATS, LOG_LEVELS, createCliLogger, type LogFormat, type LogLevel } from './create-logger.js';
import { ExitCode } from './exit-codes.js';

const DEFAULT_STORE = '.vcs-gateway/pools.json';

function storeFrom(argv: { store?: string }, env: NodeJS.ProcessEnv): FilePoolStore {
  return new FilePoolStore(argv.store ?? env.VCS_GATEWAY_STORE ?? DEFAULT_STORE);
}

function out(text: string): void {
  process.stdout.write(`${text}\n`);
}

async function serve(argv: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<number> {
  const listen = parseHostPort(String(argv.listen), '--listen');
  const frontDoorAt = argv['front-door'] === undefined ? undefined : parseHostPort(String(argv['front-door']), '--front-door');
  const certFile = argv['tls-cert'] as string | undefined;
  const keyFile = argv['tls-key'] as string | undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) throw new ConfigError('--tls-cert and --tls-key go together: give both, or neither for cleartext h2');
  const readPem = async (file: string, flag: string): Promise<Buffer> => {
    try {
      return await readFile(file);
    } catch (error) {
      throw new ConfigError(`Cannot read ${flag} ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };
  const tls = certFile === undefined || keyFile === undefined ? undefined : { cert: await readPem(certFile, '--tls-cert'), key: await readPem(keyFile, '--tls-key') };
  const logger = createCliLogger({ format: argv['log-format'] as LogFormat, level: argv['log-level'] as LogLevel });
  const queueTimeoutMs = Number(argv['queue-timeout']) * 1000;
  if (!Number.isFinite(queueTimeoutMs) || queueTimeoutMs <= 0) throw new ConfigError('Invalid --queue-timeout: expected a positive number of seconds');
  const gateway = new Gateway({ store: storeFrom(argv, env), logger, ...(tls === undefined ? {} : { tls }), queueTimeoutMs: Math.round(queueTimeoutMs) });
  const address = await gateway.listen(listen);
  logger.info('gateway listening for agents', { address: `${address.address}:${address.port}`, tls: tls !== undefined });
  let frontDoor: FrontDoor | undefined;
  if (frontDoorAt !== undefined) {
    frontDoor = new FrontDoor(gateway);
    const fd = await frontDoor.listen(frontDoorAt);
    logger.info('front door listening', { address: `${fd.address}:${fd.port}` });
  }
  return await new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        gateway.destroy();
        frontDoor?.destroy();
        resolve(ExitCode.Failure);
        return;
      }
      logger.info('shutting down: agents drain, in-flight requests finish', { signal });
      Promise.all([gateway.close({ timeoutMs: 30_000 }), frontDoor?.close()]).then(async () => {
        await logger.close();
        resolve(ExitCode.Ok);
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let result: Promise<number> | number = ExitCode.Ok;
  const parser = yargs([...argv])
    .scriptName('vcs-gateway')
    .usage('Usage: vcs-gateway <command> [options]')
    .strict()
    .demandCommand(1, 'Give a command: serve or pool')
    .version(false)
    .help('help')
    .alias('help', 'h')
    .exitProcess(false)
    .fail((message, error) => {
      throw new ConfigError(error?.message ?? message);
    })
    .option('store', { type: 'string', describe: `Pool store file  [env: VCS_GATEWAY_STORE]  [default: ${DEFAULT_STORE}]`, global: true, requiresArg: true })
    .command(
      'serve',
      'Run the gateway: the HTTP/2 listener for agents and, optionally, the HTTP/1.1 front door',
      (y) =>
        y
          .option('listen', { type: 'string', default: '127.0.0.1:8443', describe: 'HOST:PORT agents connect to', requiresArg: true })
          .option('front-door', { type: 'string', describe: 'HOST:PORT of the HTTP/1.1 front door (/<pool>/<path>)', requiresArg: true })
          .option('tls-cert', { type: 'string', describe: 'PEM certificate for the agent listener (without: cleartext h2)', requiresArg: true })
          .option('tls-key', { type: 'string', describe: 'PEM private key for --tls-cert', requiresArg: true })
          .option('queue-timeout', { type: 'number', default: 10, describe: 'Seconds a request waits for a free stream before 503', requiresArg: true })
          .option('log-format', { choices: LOG_FORMATS, default: 'json' as const })
          .option('log-level', { choices: LOG_LEVELS, default: 'info' as const }),
      (args) => {
        result = serve(args as Record<string, unknown>, env);
      },
    )
    .command('pool', 'Manage pools', (y) =>
      y
        .demandCommand(1, 'Give a pool command: create, list or delete')
        .command(
          'create',
          'Create a pool; prints its configuration token (and nothing else) on stdout',
          (c) =>
            c
              .option('name', { type: 'string', demandOption: true, describe: 'Unique pool name (lower-case letters, digits, hyphens)', requiresArg: true })
              .option('description', { type: 'string', default: '', describe: 'What the pool is for', requiresArg: true })
              .option('gateway-url', { type: 'string', describe: 'URL agents dial, written into the token  [env: VCS_GATEWAY_URL]  [default: http://127.0.0.1:8443]', requiresArg: true }),
          (args) => {
            result = createPool(storeFrom(args, env), {
              name: args.name,
              description: args.description,
              gatewayUrl: args['gateway-url'] ?? env.VCS_GATEWAY_URL ?? 'http://127.0.0.1:8443',
            }).then(({ token }) => {
              out(token);
              return ExitCode.Ok;
            });
          },
        )
        .command(
          'list',
          'List pools',
          (c) => c.option('json', { type: 'boolean', default: false, describe: 'JSON output for scripts' }),
          (args) => {
            result = storeFrom(args, env)
              .list()
              .then((pools) => {
                const rows = pools.map(({ id, name, description, createdAt }) => ({ id, name, description, createdAt }));
                if (args.json) out(JSON.stringify(rows, null, 2));
                else if (rows.length === 0) out('No pools.');
                else {
                  out(['NAME', 'ID', 'CREATED', 'DESCRIPTION'].join('\t'));
                  for (const row of rows) out([row.name, row.id, row.createdAt, row.description].join('\t'));
                }
                return ExitCode.Ok;
              });
          },
        )
        .command(
          'delete',
          'Delete a pool (by name or id)',
          (c) => c.option('name', { type: 'string', demandOption: true, describe: 'Pool name or id', requiresArg: true }),
          (args) => {
            result = storeFrom(args, env)
              .delete(args.name)
              .then((removed) => {
                if (removed === undefined) throw new ConfigError(`Invalid --name: no pool named "${args.name}"`);
                out(`Deleted pool ${removed.name} (${removed.id}).`);
                return ExitCode.Ok;
              });
          },
        ),
    );
  await parser.parseAsync();
  return await result;
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigError || (error instanceof VcsAgentError && (error.code === 'VCS_INVALID_OPTION' || error.code === 'VCS_POOL_EXISTS'))) {
      process.stderr.write(`vcs-gateway: ${error.message}\nRun vcs-gateway --help for the options.\n`);
      process.exitCode = ExitCode.Config;
      return;
    }
    if (error instanceof VcsAgentError) {
      process.stderr.write(`vcs-gateway: ${error.message} (${error.code})\n`);
      process.exitCode = ExitCode.Failure;
      return;
    }
    process.stderr.write(`vcs-gateway: unexpected failure: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = ExitCode.Failure;
  },
);
