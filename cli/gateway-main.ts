import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import yargs, { type Argv } from 'yargs';
import { InvalidOptionError, VcsAgentError } from '../lib/errors.js';
import { AccessLog } from '../lib/gateway/access-log.js';
import { AdminApiError, AdminClient } from '../lib/gateway/admin/admin-client.js';
import type { AdminServer } from '../lib/gateway/admin/admin-server.js';
import type { AgentConnectionInfo } from '../lib/gateway/agent-connection.js';
import type { GatewayCluster } from '../lib/gateway/cluster/gateway-cluster.js';
import { FrontDoor } from '../lib/gateway/front-door.js';
import { Gateway } from '../lib/gateway/gateway.js';
import type { GatewayMetrics } from '../lib/gateway/gateway-metrics.js';
import type { Logger } from '../lib/logger.js';
import { createRedisClient, parseRedisUrl, redactRedisUrl } from '../lib/gateway/cluster/redis-client.js';
import { parsePeerUrl } from '../lib/gateway/cluster/peer-options.js';
import { tlsLoadFailure } from '../lib/util/tls-material.js';
import { fromFlagOrEnv, readPemFile } from './flag-or-env.js';
import { FilePoolStore } from '../lib/pools/file-pool-store.js';
import type { PoolStore } from '../lib/pools/pool-store.js';
import { RedisPoolStore } from '../lib/pools/redis-pool-store.js';
import { PoolStoreError } from '../lib/errors.js';
import { createPool, rotatePoolKey, updatePoolDescription, validateGatewayUrl } from '../lib/pools/pool-service.js';
import { listenFor, parseHostPort } from './host-port.js';
import { peerTlsFrom, reloadPeerTls, type PeerTlsChoice } from './peer-tls-flags.js';
import { reloadIntervalFrom, reloadTlsFiles } from './tls-reload.js';
import { ConfigError } from './config-error.js';
import { GC_PACE_BYTES, bodyGcPacer } from './gc-pacer.js';
import { LOG_FORMATS, LOG_LEVELS, createCliLogger, type LogFormat, type LogLevel } from './create-logger.js';
import { ExitCode } from './exit-codes.js';

const DEFAULT_STORE = '.vcs-gateway/pools.json';
const DEFAULT_ADMIN_LISTEN = '127.0.0.1:8444';
const DEFAULT_ADMIN_URL = 'http://127.0.0.1:8444';
const DEFAULT_GRACE_SECONDS = 86_400;

/** Where the pools are: a Redis URL (flag or variable, with the name to blame) or a store file. */
type StoreChoice = { kind: 'redis'; url: string; option: string } | { kind: 'file'; path: string };

/** `--redis`/`VCS_GATEWAY_REDIS_URL` or `--store`/`VCS_GATEWAY_STORE`; both at once is ambiguous and refused. */
function storeChoice(argv: { store?: string; redis?: string }, env: NodeJS.ProcessEnv): StoreChoice {
  const redisOption = argv.redis !== undefined ? '--redis' : (env.VCS_GATEWAY_REDIS_URL ?? '') !== '' ? 'VCS_GATEWAY_REDIS_URL' : undefined;
  const fileOption = argv.store !== undefined ? '--store' : (env.VCS_GATEWAY_STORE ?? '') !== '' ? 'VCS_GATEWAY_STORE' : undefined;
  if (redisOption !== undefined && fileOption !== undefined) {
    throw new ConfigError(`${redisOption} and ${fileOption} go alone: the pools are either in Redis or in a file, give one of them`);
  }
  if (redisOption !== undefined) {
    const url = argv.redis ?? (env.VCS_GATEWAY_REDIS_URL as string);
    parseRedisUrl(url, redisOption);
    return { kind: 'redis', url, option: redisOption };
  }
  return { kind: 'file', path: argv.store ?? env.VCS_GATEWAY_STORE ?? DEFAULT_STORE };
}

/** Runs `work` on the chosen store; a Redis connection is opened for it and closed after. */
async function withStore<T>(argv: { store?: string; redis?: string }, env: NodeJS.ProcessEnv, work: (store: PoolStore) => Promise<T>): Promise<T> {
  const choice = storeChoice(argv, env);
  if (choice.kind === 'file') return work(new FilePoolStore(choice.path));
  const label = redactRedisUrl(parseRedisUrl(choice.url, choice.option));
  const redis = createRedisClient({ url: choice.url, option: choice.option, connectionName: 'vcs-gateway:cli' });
  // The failure reaches the user through connect() or the command; the socket's own error says more.
  let socketError: Error | undefined;
  redis.on('error', (error: Error) => {
    socketError ??= error;
  });
  try {
    try {
      await redis.connect();
    } catch (error) {
      const reason = socketError ?? error;
      throw new PoolStoreError(`Cannot reach the Redis pool store (${label}): ${reason instanceof Error ? reason.message : String(reason)}`, { cause: reason });
    }
    return await work(new RedisPoolStore({ redis, label }));
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

function out(text: string): void {
  process.stdout.write(`${text}\n`);
}

/**
 * A secret from a flag, a file or a variable (in that order; flag and file together are
 * ambiguous and refused). Files lose one trailing newline. Never echoed in errors.
 */
async function secretFrom(argv: Record<string, unknown>, env: NodeJS.ProcessEnv, flag: string, variable: string): Promise<string | undefined> {
  const value = argv[flag] as string | undefined;
  const file = argv[`${flag}-file`] as string | undefined;
  if (value !== undefined && file !== undefined) throw new ConfigError(`--${flag} and --${flag}-file go alone: give one of them`);
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new ConfigError(`Cannot read --${flag}-file ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    const secret = text.replace(/\r?\n$/, '');
    if (secret === '' || /[\r\n]/.test(secret)) throw new ConfigError(`Invalid --${flag}-file ${file}: expected the token on one line`);
    return secret;
  }
  if (value !== undefined) return value;
  const fromEnv = env[variable];
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

function positiveSeconds(value: unknown, flag: string, allowZero = false): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0 || (!allowZero && seconds === 0)) {
    throw new ConfigError(`Invalid --${flag}: expected a ${allowZero ? 'non-negative' : 'positive'} number of seconds`);
  }
  return seconds;
}

/** Where Spacelift's own agents connect (`--spacelift-listen` or `VCS_GATEWAY_SPACELIFT_LISTEN`), if anywhere. */
function spaceliftListenFrom(argv: Record<string, unknown>, env: NodeJS.ProcessEnv): { host: string; port: number } | undefined {
  const flag = argv['spacelift-listen'] as string | undefined;
  if (flag !== undefined) return parseHostPort(flag, '--spacelift-listen');
  const variable = env.VCS_GATEWAY_SPACELIFT_LISTEN;
  return variable === undefined || variable === '' ? undefined : parseHostPort(variable, 'VCS_GATEWAY_SPACELIFT_LISTEN');
}

/** Peer forwarding between replicas: where to listen, the URL to advertise and the shared token. */
interface PeerChoice {
  listen: { host: string; port: number };
  url: string | undefined;
  token: string;
  tokenOption: string;
  urlOption: string;
  tls: PeerTlsChoice | undefined;
  listenOption: string;
}

/**
 * `--peer-listen` (`VCS_GATEWAY_PEER_LISTEN`), `--peer-url` (`VCS_GATEWAY_PEER_URL`) and the
 * peer token (`--peer-token`, `--peer-token-file`, `VCS_GATEWAY_PEER_TOKEN`); undefined when
 * peer forwarding is off. Each mistake names the flag or variable it came from.
 */
async function peerFrom(argv: Record<string, unknown>, env: NodeJS.ProcessEnv, storeAt: StoreChoice): Promise<PeerChoice | undefined> {
  const listen = fromFlagOrEnv(argv, env, 'peer-listen', 'VCS_GATEWAY_PEER_LISTEN');
  const url = fromFlagOrEnv(argv, env, 'peer-url', 'VCS_GATEWAY_PEER_URL');
  const token = await secretFrom(argv, env, 'peer-token', 'VCS_GATEWAY_PEER_TOKEN');
  const tokenOption = argv['peer-token'] !== undefined ? '--peer-token' : argv['peer-token-file'] !== undefined ? '--peer-token-file' : 'VCS_GATEWAY_PEER_TOKEN';
  const tls = await peerTlsFrom(argv, env);
  if (listen === undefined) {
    if (url !== undefined) throw new ConfigError(`${url.option} needs --peer-listen (VCS_GATEWAY_PEER_LISTEN): there is no peer listener to advertise`);
    if (tls !== undefined) throw new ConfigError(`${tls.option} needs --peer-listen (VCS_GATEWAY_PEER_LISTEN): peer forwarding is off without it`);
    if (token !== undefined) throw new ConfigError(`${tokenOption} needs --peer-listen (VCS_GATEWAY_PEER_LISTEN): peer forwarding is off without it`);
    return undefined;
  }
  if (storeAt.kind !== 'redis') throw new ConfigError(`${listen.option} needs --redis (VCS_GATEWAY_REDIS_URL): replicas find each other in Redis`);
  const at = parseHostPort(listen.value, listen.option);
  if (token === undefined) throw new ConfigError(`Missing peer token: ${listen.option} is set, give --peer-token-file, --peer-token or VCS_GATEWAY_PEER_TOKEN (the same on every replica)`);
  if (token.length < 16 || /[^\x21-\x7e]/.test(token)) throw new ConfigError(`Invalid peer token (${tokenOption}): expected at least 16 printable characters without spaces`);
  if (url === undefined && (at.host === '0.0.0.0' || at.host === '::')) {
    throw new ConfigError(`${listen.option} binds every address (${at.host}): give --peer-url (VCS_GATEWAY_PEER_URL), the URL other replicas reach this one at (the pod IP)`);
  }
  if (url !== undefined) parsePeerUrl(url.value, url.option, tls !== undefined);
  return { listen: at, url: url?.value, token, tokenOption, urlOption: url?.option ?? '--peer-url', tls, listenOption: listen.option };
}

/** The front door's bounds on slow callers, from seconds on the command line to the library's milliseconds. */
function frontDoorTimeouts(argv: Record<string, unknown>): { headersTimeoutMs: number; bodyIdleTimeoutMs: number; requestTimeoutMs: number } {
  const ms = (flag: string, allowZero: boolean): number => {
    const value = Math.round(positiveSeconds(argv[flag], flag, allowZero) * 1000);
    // Rounded to whole milliseconds: a tiny value must not silently turn the bound off.
    if (value === 0 && Number(argv[flag]) !== 0) throw new ConfigError(`Invalid --${flag}: expected ${allowZero ? '0 (off) or ' : ''}at least 0.001 seconds`);
    return value;
  };
  const headersTimeoutMs = ms('front-door-headers-timeout', false);
  const bodyIdleTimeoutMs = ms('front-door-body-idle-timeout', true);
  const requestTimeoutMs = ms('front-door-request-timeout', true);
  if (requestTimeoutMs > 0 && headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError('Invalid --front-door-headers-timeout: longer than --front-door-request-timeout, which includes the headers');
  }
  return { headersTimeoutMs, bodyIdleTimeoutMs, requestTimeoutMs };
}

/** The admin API client of the `connections`, `pool rotate` and `pool update` commands. */
async function adminClient(argv: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<AdminClient> {
  const token = await secretFrom(argv, env, 'admin-token', 'VCS_GATEWAY_ADMIN_TOKEN');
  if (token === undefined) throw new ConfigError('Missing admin token: give --admin-token, --admin-token-file or VCS_GATEWAY_ADMIN_TOKEN');
  return new AdminClient({ url: (argv['admin-url'] as string | undefined) ?? env.VCS_GATEWAY_ADMIN_URL ?? DEFAULT_ADMIN_URL, token });
}

/** Whether pool changes go through a running gateway's admin API rather than straight to the store. */
function viaAdminApi(argv: Record<string, unknown>, env: NodeJS.ProcessEnv): boolean {
  return argv['admin-url'] !== undefined || (env.VCS_GATEWAY_ADMIN_URL ?? '') !== '';
}

/** Admin API refusals a user can fix are configuration errors (exit 2); the rest are failures. */
function adminFailure(error: unknown, name?: string, flag = 'name'): never {
  if (error instanceof AdminApiError) {
    if (error.status === 401) throw new ConfigError('Invalid admin token: the admin API refused it (--admin-token, --admin-token-file or VCS_GATEWAY_ADMIN_TOKEN)');
    if (error.status === 404 && error.code === 'VCS_POOL_NOT_FOUND') throw new ConfigError(`Invalid --${flag}: no pool named "${name ?? ''}"`);
    if (error.status === 400) throw new ConfigError(`Invalid --${error.field ?? 'option'}: ${error.message}`);
  }
  throw error;
}

function addAdminClientOptions<T>(y: Argv<T>): Argv<T> {
  return y
    .option('admin-url', { type: 'string', describe: `Admin API of a running gateway  [env: VCS_GATEWAY_ADMIN_URL]  [default: ${DEFAULT_ADMIN_URL}]`, requiresArg: true })
    .option('admin-token', { type: 'string', describe: 'Admin API bearer token  [env: VCS_GATEWAY_ADMIN_TOKEN]', requiresArg: true })
    .option('admin-token-file', { type: 'string', describe: 'File holding the admin token', requiresArg: true });
}

function table(header: readonly string[], rows: readonly string[][]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] as number))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function connectionsTable(connections: readonly AgentConnectionInfo[]): string {
  if (connections.length === 0) return 'No agent connections.';
  const rows = connections.map((c) => [
    c.poolName,
    c.agentId,
    c.remoteAddress,
    c.connectedAt.replace(/\.\d+Z$/, 'Z'),
    c.vendor,
    c.agentVersion,
    `${c.streamsBusy}/${c.streamsIdle}`,
    String(c.requestsServed),
    `${c.keyGeneration}${c.draining ? ' draining' : ''}`,
    c.protocol ?? 'vcs-agent',
    Object.entries(c.metadata).map(([key, value]) => `${key}=${value}`).join(','),
  ]);
  const header = ['POOL', 'AGENT', 'REMOTE ADDRESS', 'CONNECTED SINCE', 'VENDOR', 'VERSION', 'BUSY/IDLE', 'SERVED', 'KEY', 'PROTOCOL', 'TAGS'];
  // A replicated gateway names the replica holding each connection, as the first column.
  if (!connections.some((c) => c.replica !== undefined)) return table(header, rows);
  return table(['REPLICA', ...header], rows.map((row, i) => [connections[i]?.replica ?? '', ...row]));
}

/** Drops the logger's per-request 'access' lines when the access log has its own destination. */
function withoutAccessLines(logger: Logger): Logger {
  return {
    error: (message, fields) => logger.error(message, fields),
    warn: (message, fields) => logger.warn(message, fields),
    info: (message, fields) => {
      if (message !== 'access') logger.info(message, fields);
    },
    debug: (message, fields) => logger.debug(message, fields),
  };
}

async function serve(argv: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<number> {
  const listen = parseHostPort(String(argv.listen), '--listen');
  const frontDoorAt = argv['front-door'] === undefined ? undefined : parseHostPort(String(argv['front-door']), '--front-door');
  const spaceliftListen = spaceliftListenFrom(argv, env);
  const certFile = argv['tls-cert'] as string | undefined;
  const keyFile = argv['tls-key'] as string | undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) throw new ConfigError('--tls-cert and --tls-key go together: give both, or neither for cleartext h2');
  const tls = certFile === undefined || keyFile === undefined ? undefined : { cert: await readPemFile(certFile, '--tls-cert'), key: await readPemFile(keyFile, '--tls-key') };
  const tlsFailure = tls === undefined ? undefined : tlsLoadFailure(tls);
  if (tlsFailure !== undefined) throw new ConfigError(`Invalid --tls-cert / --tls-key: they do not load together (${tlsFailure})`);
  const reloadAlone = tls === undefined ? fromFlagOrEnv(argv, env, 'tls-reload-interval', 'VCS_GATEWAY_TLS_RELOAD_INTERVAL') : undefined;
  if (reloadAlone !== undefined) throw new ConfigError(`${reloadAlone.option} needs --tls-cert and --tls-key`);
  const tlsReloadMs = tls === undefined ? 0 : reloadIntervalFrom(argv, env, 'tls-reload-interval', 'VCS_GATEWAY_TLS_RELOAD_INTERVAL');
  const logger = createCliLogger({ format: argv['log-format'] as LogFormat, level: argv['log-level'] as LogLevel });
  const queueTimeoutMs = Number(argv['queue-timeout']) * 1000;
  if (!Number.isFinite(queueTimeoutMs) || queueTimeoutMs <= 0) throw new ConfigError('Invalid --queue-timeout: expected a positive number of seconds');
  const graceMs = Math.round(positiveSeconds(argv['shutdown-grace'], 'shutdown-grace') * 1000);
  const revalidateMs = Math.round(positiveSeconds(argv['revalidate-interval'], 'revalidate-interval') * 1000);
  const keepaliveIntervalMs = Math.round(positiveSeconds(argv['agent-keepalive-interval'], 'agent-keepalive-interval', true) * 1000);
  const keepaliveTimeoutMs = Math.round(positiveSeconds(argv['agent-keepalive-timeout'], 'agent-keepalive-timeout') * 1000);
  // Rounded to whole milliseconds: a tiny value must not silently turn the check off.
  if (keepaliveIntervalMs === 0 && Number(argv['agent-keepalive-interval']) !== 0) throw new ConfigError('Invalid --agent-keepalive-interval: expected 0 (off) or at least 0.001 seconds');
  if (keepaliveTimeoutMs === 0) throw new ConfigError('Invalid --agent-keepalive-timeout: expected at least 0.001 seconds');
  const frontDoorToken = await secretFrom(argv, env, 'front-door-token', 'VCS_GATEWAY_FRONT_DOOR_TOKEN');
  if (frontDoorToken !== undefined && frontDoorAt === undefined) throw new ConfigError('--front-door-token needs --front-door: there is no front door to protect');
  const frontDoorBounds = frontDoorTimeouts(argv);
  const adminToken = await secretFrom(argv, env, 'admin-token', 'VCS_GATEWAY_ADMIN_TOKEN');
  const adminListenFlag = (argv['admin-listen'] as string | undefined) ?? env.VCS_GATEWAY_ADMIN_LISTEN;
  const adminAt = adminToken !== undefined || adminListenFlag !== undefined ? parseHostPort(adminListenFlag ?? DEFAULT_ADMIN_LISTEN, '--admin-listen') : undefined;
  const accessLogTarget = argv['access-log'] as string | undefined;
  const adminTokenFailures = Number(argv['admin-token-failure-limit']);
  if (!Number.isInteger(adminTokenFailures) || adminTokenFailures < 0) throw new ConfigError('Invalid --admin-token-failure-limit: expected a whole number of wrong tokens per minute (0: no limit)');
  const accessLogSize = Number(argv['access-log-size']);
  if (!Number.isInteger(accessLogSize) || accessLogSize < 1 || accessLogSize > 1_000_000) throw new ConfigError('Invalid --access-log-size: expected a whole number from 1 to 1000000');
  const storeAt = storeChoice(argv as { store?: string; redis?: string }, env);
  const replicaFlag = argv['replica-id'] as string | undefined;
  if (replicaFlag !== undefined && storeAt.kind !== 'redis') throw new ConfigError('--replica-id needs --redis: a gateway without Redis is not a replica');
  const replicaId = replicaFlag ?? `${hostname().replace(/[^A-Za-z0-9._:-]/g, '-').slice(0, 100) || 'gateway'}-${randomBytes(3).toString('hex')}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(replicaId)) throw new ConfigError('Invalid --replica-id: expected 1-128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit');
  // Checked before anything listens, so a bad value exits with code 2 and no port is held.
  if (adminToken !== undefined && adminToken.length < 16) throw new ConfigError('Invalid admin token (--admin-token, --admin-token-file or VCS_GATEWAY_ADMIN_TOKEN): expected at least 16 characters');
  if (frontDoorToken !== undefined && frontDoorToken.length < 16) {
    throw new ConfigError('Invalid front-door token (--front-door-token, --front-door-token-file or VCS_GATEWAY_FRONT_DOOR_TOKEN): expected at least 16 characters');
  }
  const peer = await peerFrom(argv, env, storeAt);
  const gatewayUrlFlag = (argv['gateway-url'] as string | undefined) ?? env.VCS_GATEWAY_URL;
  if (gatewayUrlFlag !== undefined) validateGatewayUrl(gatewayUrlFlag, 'gateway-url');

  let accessStream: WriteStream | undefined;
  if (accessLogTarget !== undefined && accessLogTarget !== '-') {
    accessStream = createWriteStream(accessLogTarget, { flags: 'a', mode: 0o640 });
    await new Promise<void>((resolve, reject) => {
      accessStream?.once('open', () => resolve());
      accessStream?.once('error', (error: NodeJS.ErrnoException) => reject(new ConfigError(`Cannot open --access-log ${accessLogTarget}: ${error.code ?? 'error'}`)));
    });
    accessStream.on('error', (error: NodeJS.ErrnoException) => logger.error('cannot write the access log', { file: accessLogTarget, error: error.code ?? error.message }));
  }
  // With its own destination, the access log leaves the structured log: one line per request,
  // not two. Without one, its lines go to the structured log from the access log itself, so a
  // record is serialised once for both the log and the admin API's ring (it was twice: about a
  // sixth of the bytes the gateway allocated per request, docs/performance.md).
  const sink = accessLogTarget === undefined ? { write: (line: string) => logger.infoJson('access', line) } : (accessStream ?? process.stdout);
  const gatewayLogger = withoutAccessLines(logger);
  const fileStore = storeAt.kind === 'file' ? new FilePoolStore(storeAt.path) : undefined;
  const gateway = new Gateway({
    onBodyChunk: bodyGcPacer(GC_PACE_BYTES),
    ...(storeAt.kind === 'file'
      ? { store: fileStore }
      : {
          cluster: {
            redisUrl: storeAt.url,
            redisOption: storeAt.option,
            replicaId,
            accessLogSize,
            ...(peer === undefined ? {} : { peer: { token: peer.token, tokenOption: peer.tokenOption, urlOption: peer.urlOption, ...(peer.url === undefined ? {} : { url: peer.url }), ...(peer.tls === undefined ? {} : { tls: peer.tls.tls }) } }),
          },
        }),
    logger: gatewayLogger,
    ...(tls === undefined ? {} : { tls }),
    queueTimeoutMs: Math.round(queueTimeoutMs),
    revalidateIntervalMs: revalidateMs,
    disconnectGraceMs: graceMs,
    keepalive: keepaliveIntervalMs === 0 ? false : { intervalMs: keepaliveIntervalMs, timeoutMs: keepaliveTimeoutMs },
  });
  const store: PoolStore = fileStore ?? (gateway.cluster as GatewayCluster).store;
  const accessLog = new AccessLog({ capacity: accessLogSize, sink });
  accessLog.attach(gateway);
  // Metrics (prom-client) and the admin server are only loaded with the admin listener:
  // their modules cost ~15 MiB of RSS a gateway without it should not carry.
  let metrics: GatewayMetrics | undefined;
  if (gateway.cluster !== undefined && storeAt.kind === 'redis') {
    logger.info('replicated on redis', { redis: redactRedisUrl(parseRedisUrl(storeAt.url, storeAt.option)), replicaId: gateway.cluster.replicaId });
  }
  const address = await listenFor('--listen', listen, () => gateway.listen(listen));
  logger.info('gateway listening for agents', { address: `${address.address}:${address.port}`, tls: tls !== undefined });
  const stopReloads: (() => void)[] = [];
  if (tls !== undefined && certFile !== undefined && keyFile !== undefined) {
    stopReloads.push(reloadTlsFiles({ cert: certFile, key: keyFile }, tls, tlsReloadMs, (material) => gateway.setTls(material), {
      reloaded: (info) => logger.info('agent listener TLS reloaded: new connections use the renewed files', info),
      failed: (reason) => logger.error('agent listener TLS files could not be reloaded; the previous ones stay in use', { reason }),
    }));
  }
  if (peer !== undefined) {
    const at = await listenFor(peer.listenOption, peer.listen, () => gateway.listenPeers(peer.listen));
    if (peer.tls !== undefined) {
      const cluster = gateway.cluster as GatewayCluster;
      stopReloads.push(reloadPeerTls(peer.tls, (tls) => cluster.setPeerTls(tls), {
        reloaded: (info) => logger.info('peer TLS reloaded: new connections use the renewed files', info),
        failed: (reason) => logger.error('peer TLS files could not be reloaded; the previous ones stay in use', { reason }),
      }));
    }
    logger.info('peer listener listening', { address: `${at.address}:${at.port}` });
  }
  if (spaceliftListen !== undefined) {
    const at = await listenFor('--spacelift-listen', spaceliftListen, () => gateway.listenSpacelift(spaceliftListen));
    logger.info('gateway listening for spacelift agents', { address: `${at.address}:${at.port}`, tls: tls !== undefined });
  }
  let frontDoor: FrontDoor | undefined;
  if (frontDoorAt !== undefined) {
    frontDoor = new FrontDoor(gateway, { ...frontDoorBounds, ...(frontDoorToken === undefined ? {} : { token: frontDoorToken }) });
    const fd = await listenFor('--front-door', frontDoorAt, () => (frontDoor as FrontDoor).listen(frontDoorAt));
    logger.info('front door listening', { address: `${fd.address}:${fd.port}`, token: frontDoorToken !== undefined });
    if (frontDoorToken === undefined) logger.warn('the front door has no token: anything that reaches it may use every pool (set --front-door-token)');
  }
  let admin: AdminServer | undefined;
  if (adminAt !== undefined) {
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const gatewayUrl = gatewayUrlFlag ?? `${tls === undefined ? 'http' : 'https'}://${host}:${address.port}`;
    if (gatewayUrlFlag === undefined && (address.address === '0.0.0.0' || address.address === '::')) {
      logger.warn('set --gateway-url: tokens created through the admin API would name an unspecified address', { gatewayUrl });
    }
    const [{ AdminServer }, { GatewayMetrics }] = await Promise.all([import('../lib/gateway/admin/admin-server.js'), import('../lib/gateway/gateway-metrics.js')]);
    metrics = new GatewayMetrics(gateway);
    admin = new AdminServer({
      gateway,
      store,
      ...(adminToken === undefined ? {} : { token: adminToken }),
      gatewayUrl,
      accessLog,
      metrics,
      publicMetrics: argv['admin-public-metrics'] === true,
      authFailureLimit: adminTokenFailures === 0 ? false : { maxFailures: adminTokenFailures, windowMs: 60_000 },
      logger,
    });
    const at = await listenFor('--admin-listen', adminAt, () => (admin as AdminServer).listen(adminAt));
    logger.info('admin listening', { address: `${at.address}:${at.port}`, api: adminToken !== undefined });
    if (adminToken === undefined) logger.warn('no admin token: the admin API and page are disabled (set VCS_GATEWAY_ADMIN_TOKEN or --admin-token-file)');
  }
  return await new Promise<number>((resolve) => {
    let signals = 0;
    const finish = async (): Promise<void> => {
      await admin?.close();
      metrics?.detach();
      if (accessStream !== undefined) await new Promise<void>((done) => accessStream?.end(() => done()));
      await logger.close();
    };
    const onSignal = (signal: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        gateway.destroy();
        frontDoor?.destroy();
        admin?.destroy();
        resolve(ExitCode.Failure);
        return;
      }
      for (const stop of stopReloads) stop();
      // /readyz turns 503 at once; agents get GOAWAY and drain; queued requests get 503 + Retry-After.
      logger.info('shutting down: agents drain, in-flight requests finish', { signal, graceSeconds: graceMs / 1000 });
      Promise.all([gateway.close({ timeoutMs: graceMs }), frontDoor?.close()])
        .then(finish)
        .then(() => resolve(ExitCode.Ok));
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
    .demandCommand(1, 'Give a command: serve, pool or connections')
    .version(false)
    .help('help')
    .alias('help', 'h')
    .exitProcess(false)
    .fail((message, error) => {
      throw new ConfigError(error?.message ?? message);
    })
    .option('store', { type: 'string', describe: `Pool store file  [env: VCS_GATEWAY_STORE]  [default: ${DEFAULT_STORE}]`, global: true, requiresArg: true })
    .option('redis', {
      type: 'string',
      describe: 'Redis URL (redis:// or rediss://, password in the URL): pools and, for serve, the replicated state live there instead of --store  [env: VCS_GATEWAY_REDIS_URL]',
      global: true,
      requiresArg: true,
    })
    .command(
      'serve',
      'Run the gateway: the HTTP/2 listener for agents and, optionally, the HTTP/1.1 front door and the admin listener',
      (y) =>
        y
          .option('listen', { type: 'string', default: '127.0.0.1:8443', describe: 'HOST:PORT agents connect to', requiresArg: true })
          .option('front-door', { type: 'string', describe: 'HOST:PORT of the HTTP/1.1 front door (/<pool>/<path>)', requiresArg: true })
          .option('spacelift-listen', {
            type: 'string',
            describe: "HOST:PORT Spacelift's own VCS agents connect to (gRPC privatevcs.Gateway; TLS with --tls-cert)  [env: VCS_GATEWAY_SPACELIFT_LISTEN]",
            requiresArg: true,
          })
          .option('tls-cert', { type: 'string', describe: 'PEM certificate for the agent listener (without: cleartext h2)', requiresArg: true })
          .option('tls-key', { type: 'string', describe: 'PEM private key for --tls-cert', requiresArg: true })
          .option('tls-reload-interval', { type: 'number', describe: 'Seconds between looks at the --tls-cert / --tls-key files; changed files that load together are served to new connections (0: off)  [env: VCS_GATEWAY_TLS_RELOAD_INTERVAL]  [default: 60]', requiresArg: true })
          .option('queue-timeout', { type: 'number', default: 10, describe: 'Seconds a request waits for a free stream before 503', requiresArg: true })
          .option('front-door-token', { type: 'string', describe: 'Bearer token callers must send as Proxy-Authorization to use the front door  [env: VCS_GATEWAY_FRONT_DOOR_TOKEN]', requiresArg: true })
          .option('front-door-token-file', { type: 'string', describe: 'File holding the front-door token', requiresArg: true })
          .option('front-door-headers-timeout', { type: 'number', default: 30, describe: 'Seconds a front-door caller has to send its request headers; then 408 and the connection closes', requiresArg: true })
          .option('front-door-body-idle-timeout', { type: 'number', default: 60, describe: 'Seconds a request body may stay silent while the gateway reads it; then 408 (0: off)', requiresArg: true })
          .option('front-door-request-timeout', { type: 'number', default: 300, describe: 'Seconds a whole request (headers and body) may take to arrive; then 408 (0: off)', requiresArg: true })
          .option('admin-listen', { type: 'string', describe: `HOST:PORT of the admin API, page, /healthz, /readyz, /metrics; on when an admin token is set  [env: VCS_GATEWAY_ADMIN_LISTEN]  [default: ${DEFAULT_ADMIN_LISTEN}]`, requiresArg: true })
          .option('admin-token', { type: 'string', describe: 'Admin API bearer token, at least 16 characters (prefer the variable or the file)  [env: VCS_GATEWAY_ADMIN_TOKEN]', requiresArg: true })
          .option('admin-token-file', { type: 'string', describe: 'File holding the admin token', requiresArg: true })
          .option('admin-token-failure-limit', { type: 'number', default: 10, describe: 'Wrong admin tokens allowed per address per minute; past it 429 until the minute ends (0: no limit)', requiresArg: true })
          .option('admin-public-metrics', { type: 'boolean', default: false, describe: 'Serve /metrics without the admin token' })
          .option('gateway-url', { type: 'string', describe: 'URL agents dial, written into tokens the admin API creates  [env: VCS_GATEWAY_URL]  [default: from --listen]', requiresArg: true })
          .option('access-log', { type: 'string', describe: "Write the access log as JSON lines to FILE ('-': stdout) instead of the structured log", requiresArg: true })
          .option('access-log-size', { type: 'number', default: 1000, describe: 'Access log records kept in memory for the admin API', requiresArg: true })
          .option('shutdown-grace', { type: 'number', default: 30, describe: 'Seconds in-flight requests get to finish on SIGTERM (and on a pool deletion or key expiry)', requiresArg: true })
          .option('agent-keepalive-interval', { type: 'number', default: 30, describe: 'Seconds between HTTP/2 PINGs to each agent connection (0: off)', requiresArg: true })
          .option('agent-keepalive-timeout', { type: 'number', default: 10, describe: 'Seconds an agent has to answer a PING before its connection is closed as half-open', requiresArg: true })
          .option('peer-listen', {
            type: 'string',
            describe: 'HOST:PORT of the listener other replicas forward requests to (HTTP/2, cleartext unless --peer-tls-cert; with --redis and a peer token)  [env: VCS_GATEWAY_PEER_LISTEN]',
            requiresArg: true,
          })
          .option('peer-url', { type: 'string', describe: 'http(s)://HOST:PORT other replicas reach --peer-listen at (the pod IP; https with peer TLS)  [env: VCS_GATEWAY_PEER_URL]  [default: from --peer-listen]', requiresArg: true })
          .option('peer-tls-cert', { type: 'string', describe: 'PEM certificate this replica presents to peers, as server and client (mutual TLS; with --peer-tls-key and --peer-tls-ca)  [env: VCS_GATEWAY_PEER_TLS_CERT]', requiresArg: true })
          .option('peer-tls-key', { type: 'string', describe: 'PEM private key for --peer-tls-cert  [env: VCS_GATEWAY_PEER_TLS_KEY]', requiresArg: true })
          .option('peer-tls-ca', { type: 'string', describe: 'PEM CA certificate(s) peer certificates must chain to  [env: VCS_GATEWAY_PEER_TLS_CA]', requiresArg: true })
          .option('peer-tls-reload-interval', { type: 'number', describe: 'Seconds between looks at the peer TLS files; changed files that load together are used for new connections (0: off)  [env: VCS_GATEWAY_PEER_TLS_RELOAD_INTERVAL]  [default: 60]', requiresArg: true })
          .option('peer-tls-servername', { type: 'string', describe: "Name peer certificates are checked against (a certificate shared by every replica)  [env: VCS_GATEWAY_PEER_TLS_SERVERNAME]  [default: each peer URL's host]", requiresArg: true })
          .option('peer-token', { type: 'string', describe: 'Token the replicas share, at least 16 characters (prefer the variable or the file)  [env: VCS_GATEWAY_PEER_TOKEN]', requiresArg: true })
          .option('peer-token-file', { type: 'string', describe: 'File holding the peer token', requiresArg: true })
          .option('replica-id', { type: 'string', describe: 'Name of this replica in the shared state (with --redis)  [default: hostname and a random suffix]', requiresArg: true })
          .option('revalidate-interval', { type: 'number', default: 30, describe: 'Seconds between checks that live connections still have a pool and a valid key (changes made by other processes)', requiresArg: true })
          .option('log-format', { choices: LOG_FORMATS, default: 'json' as const })
          .option('log-level', { choices: LOG_LEVELS, default: 'info' as const }),
      (args) => {
        result = serve(args as Record<string, unknown>, env);
      },
    )
    .command('pool', 'Manage pools', (y) =>
      y
        .demandCommand(1, 'Give a pool command: create, list, update, rotate or delete')
        .command(
          'create',
          'Create a pool; prints its configuration token (and nothing else) on stdout',
          (c) =>
            c
              .option('name', { type: 'string', demandOption: true, describe: 'Unique pool name (lower-case letters, digits, hyphens)', requiresArg: true })
              .option('description', { type: 'string', default: '', describe: 'What the pool is for', requiresArg: true })
              .option('gateway-url', { type: 'string', describe: 'URL agents dial, written into the token  [env: VCS_GATEWAY_URL]  [default: http://127.0.0.1:8443]', requiresArg: true }),
          (args) => {
            result = withStore(args, env, (store) =>
              createPool(store, {
                name: args.name,
                description: args.description,
                gatewayUrl: args['gateway-url'] ?? env.VCS_GATEWAY_URL ?? 'http://127.0.0.1:8443',
              }),
            ).then(({ token }) => {
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
            result = withStore(args, env, (store) => store.list())
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
          'update',
          "Change a pool's description (through the admin API when --admin-url or VCS_GATEWAY_ADMIN_URL is set, else in the store)",
          (c) =>
            addAdminClientOptions(
              c
                .option('name', { type: 'string', demandOption: true, describe: 'Pool name or id', requiresArg: true })
                .option('description', { type: 'string', demandOption: true, describe: 'The new description', requiresArg: true }),
            ),
          (args) => {
            const flags = args as Record<string, unknown>;
            result = (async () => {
              const pool = viaAdminApi(flags, env)
                ? await (await adminClient(flags, env)).updatePool(args.name, args.description).catch((error: unknown) => adminFailure(error, args.name))
                : await withStore(args, env, (store) => updatePoolDescription(store, args.name, args.description)).catch((error: unknown) => {
                    if (error instanceof VcsAgentError && error.code === 'VCS_POOL_NOT_FOUND') throw new ConfigError(`Invalid --name: no pool named "${args.name}"`);
                    throw error;
                  });
              out(`Updated pool ${pool.name} (${pool.id}).`);
              return ExitCode.Ok;
            })();
          },
        )
        .command(
          'rotate',
          'Give a pool a new key; prints the new configuration token (and nothing else) on stdout. The old key keeps working for --grace seconds',
          (c) =>
            addAdminClientOptions(
              c
                .option('name', { type: 'string', demandOption: true, describe: 'Pool name or id', requiresArg: true })
                .option('grace', { type: 'number', default: DEFAULT_GRACE_SECONDS, describe: 'Seconds the old key stays valid; then connections made with it are closed', requiresArg: true })
                .option('gateway-url', { type: 'string', describe: 'URL agents dial, written into the token when working on the store  [env: VCS_GATEWAY_URL]  [default: http://127.0.0.1:8443]', requiresArg: true }),
            ),
          (args) => {
            const flags = args as Record<string, unknown>;
            result = (async () => {
              const grace = positiveSeconds(args.grace, 'grace', true);
              let token: string;
              if (viaAdminApi(flags, env)) {
                token = (await (await adminClient(flags, env)).rotatePool(args.name, grace).catch((error: unknown) => adminFailure(error, args.name))).token;
              } else {
                // Straight to the store: a running gateway closes the old key's connections at its next
                // revalidation (the file store), or at once (Redis publishes the change to every replica).
                const rotated = await withStore(args, env, (store) =>
                  rotatePoolKey(store, args.name, {
                    graceMs: Math.round(grace * 1000),
                    gatewayUrl: args['gateway-url'] ?? env.VCS_GATEWAY_URL ?? 'http://127.0.0.1:8443',
                  }),
                ).catch((error: unknown) => {
                  if (error instanceof VcsAgentError && error.code === 'VCS_POOL_NOT_FOUND') throw new ConfigError(`Invalid --name: no pool named "${args.name}"`);
                  if (error instanceof InvalidOptionError && error.option === 'grace') throw new ConfigError(`Invalid --grace: ${error.message}`);
                  throw error;
                });
                token = rotated.token;
              }
              out(token);
              return ExitCode.Ok;
            })();
          },
        )
        .command(
          'delete',
          'Delete a pool (by name or id)',
          (c) => c.option('name', { type: 'string', demandOption: true, describe: 'Pool name or id', requiresArg: true }),
          (args) => {
            result = withStore(args, env, (store) => store.delete(args.name))
              .then((removed) => {
                if (removed === undefined) throw new ConfigError(`Invalid --name: no pool named "${args.name}"`);
                out(`Deleted pool ${removed.name} (${removed.id}).`);
                return ExitCode.Ok;
              });
          },
        ),
    )
    .command(
      'connections',
      "List the live agent connections of a running gateway (through its admin API)",
      (y) =>
        addAdminClientOptions(
          y
            .option('pool', { type: 'string', describe: 'Only this pool (name or id)', requiresArg: true })
            .option('json', { type: 'boolean', default: false, describe: 'JSON output for scripts' }),
        ),
      (args) => {
        const flags = args as Record<string, unknown>;
        result = (async () => {
          const connections = await (await adminClient(flags, env)).connections(args.pool).catch((error: unknown) => adminFailure(error, args.pool, 'pool'));
          if (args.pool !== undefined && connections.length === 0 && !args.json) out(`No agent is connected to pool ${args.pool}.`);
          else out(args.json ? JSON.stringify(connections, null, 2) : connectionsTable(connections));
          return ExitCode.Ok;
        })();
      },
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
    } else if (error instanceof VcsAgentError) {
      process.stderr.write(`vcs-gateway: ${error.message} (${error.code})\n`);
      process.exitCode = ExitCode.Failure;
    } else {
      process.stderr.write(`vcs-gateway: unexpected failure: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = ExitCode.Failure;
    }
    // A start-up that failed halfway (a listener could not bind after Redis was reached, or
    // after another listener) holds sockets and timers that would keep the process alive;
    // stderr is written synchronously (files, pipes and terminals on Linux).
    process.exit();
  },
);
