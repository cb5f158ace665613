import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidOptionError, PoolExistsError, PoolNotFoundError, VcsAgentError } from '../../errors.js';
import { silentLogger, type Logger } from '../../logger.js';
import { escapeLogValue } from '../../policy/log-sanitize.js';
import { MAX_ROTATION_GRACE_MS, createPool, poolSummary, rotatePoolKey, updatePoolDescription, validateGatewayUrl, type PoolSummary } from '../../pools/pool-service.js';
import type { PoolRecord, PoolStore } from '../../pools/pool-store.js';
import { AccessLog, DECISIONS, OUTCOMES, type AccessDecision, type AccessLogFilter, type AccessOutcome } from '../access-log.js';
import type { AgentConnectionInfo } from '../agent-connection.js';
import { ClusterView } from '../cluster/cluster-view.js';
import type { Gateway, PoolLiveStats } from '../gateway.js';
import { GatewayMetrics } from '../gateway-metrics.js';
import { AdminBodyError, AdminMethodNotAllowedError, AdminRateLimitedError, AdminRouteNotFoundError, AdminUnauthorizedError } from './admin-errors.js';
import { AuthFailureThrottle, DEFAULT_AUTH_FAILURE_THROTTLE } from './auth-failure-throttle.js';
import { ADMIN_CSS, ADMIN_HTML, ADMIN_SCRIPT } from './admin-page.js';
import { listenServer } from '../../util/listen-server.js';
import { positiveInteger } from '../../util/positive-integer.js';

/** Options of an `AdminServer`. */
export interface AdminServerOptions {
  gateway: Gateway;
  /** The same store the gateway authenticates against. */
  store: PoolStore;
  /**
   * Bearer token of the admin API (at least 16 characters), compared in constant time.
   * Without one the API and the page are disabled (every call 401); `/healthz`, `/readyz`
   * and, with `publicMetrics`, `/metrics` still answer.
   */
  token?: string;
  /** The URL agents dial, written into the configuration tokens of created and rotated pools. */
  gatewayUrl: string;
  /** The access log to serve; by default one of 1 000 records is created and attached. */
  accessLog?: AccessLog;
  /** The metrics to serve on `/metrics`; by default created for `gateway`. */
  metrics?: GatewayMetrics;
  /** Serve `/metrics` without the admin token (for scrapers on a trusted network; default false). */
  publicMetrics?: boolean;
  /** Grace period of a rotation that names none (default 24 h). */
  defaultGraceMs?: number;
  /**
   * Wrong admin tokens allowed per remote address (default 10 per 60 000 ms); past it the
   * address gets 429 with `Retry-After` until its window ends, whatever it presents.
   * Requests without an `Authorization` header do not count. `false` turns it off.
   */
  authFailureLimit?: { maxFailures?: number; windowMs?: number } | false;
  logger?: Logger;
}

const MAX_BODY_BYTES = 64 * 1024;
const DEFAULT_GRACE_MS = 24 * 3600 * 1000;
const MAX_LIMIT = 10_000;

const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  VCS_INVALID_OPTION: 400,
  VCS_ADMIN_UNAUTHORIZED: 401,
  VCS_POOL_NOT_FOUND: 404,
  VCS_ADMIN_NOT_FOUND: 404,
  VCS_ADMIN_METHOD_NOT_ALLOWED: 405,
  VCS_POOL_EXISTS: 409,
  VCS_ADMIN_RATE_LIMITED: 429,
  VCS_STORE_FAILED: 500,
  VCS_STORE_UNAVAILABLE: 503,
};

/** The pages are static: data only ever comes from the API, which needs the token. */
const PAGE_SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

type Json = Record<string, unknown>;
type Handler = (context: RequestContext) => Promise<[number, unknown]>;

interface RequestContext {
  req: IncomingMessage;
  url: URL;
  params: string[];
}

interface Route {
  pattern: RegExp;
  methods: Record<string, Handler>;
}

/** A pool as the admin API shows it: the record without key hashes, plus live numbers. */
export interface AdminPool extends PoolSummary {
  connections: number;
  streamsBusy: number;
  streamsIdle: number;
  queued: number;
}

/**
 * The gateway's admin listener (HTTP/1.1, loopback by default): a JSON API under `/api/v1`
 * behind a bearer token, the pools web page, `/healthz`, `/readyz` and `/metrics`.
 * docs/gateway.md has the reference.
 */
export class AdminServer {
  readonly accessLog: AccessLog;
  readonly metrics: GatewayMetrics;
  private readonly server: Server;
  private readonly gateway: Gateway;
  private readonly store: PoolStore;
  private readonly tokenDigest: Buffer | undefined;
  private readonly gatewayUrl: string;
  private readonly publicMetrics: boolean;
  private readonly defaultGraceMs: number;
  private readonly logger: Logger;
  private readonly cleanups: Array<() => void> = [];
  private readonly routes: Route[];
  private readonly throttle: AuthFailureThrottle | undefined;
  /** A replicated gateway's view of every replica (connections and pool numbers); undefined alone. */
  private readonly view: ClusterView | undefined;

  constructor(options: AdminServerOptions) {
    if (options.token !== undefined && (typeof options.token !== 'string' || options.token.length < 16)) {
      throw new InvalidOptionError('admin-token', 'Invalid admin token: expected at least 16 characters');
    }
    validateGatewayUrl(options.gatewayUrl, 'gateway-url');
    this.gateway = options.gateway;
    this.store = options.store;
    this.tokenDigest = options.token === undefined ? undefined : createHash('sha256').update(options.token).digest();
    this.gatewayUrl = options.gatewayUrl;
    this.publicMetrics = options.publicMetrics ?? false;
    this.defaultGraceMs = options.defaultGraceMs ?? DEFAULT_GRACE_MS;
    this.logger = options.logger ?? silentLogger;
    if (options.authFailureLimit !== false) {
      const limit = options.authFailureLimit;
      if (limit !== undefined && (limit === null || typeof limit !== 'object')) {
        throw new InvalidOptionError('authFailureLimit', 'Invalid authFailureLimit: expected { maxFailures, windowMs } or false');
      }
      this.throttle = new AuthFailureThrottle({
        maxFailures: positiveInteger(limit?.maxFailures, DEFAULT_AUTH_FAILURE_THROTTLE.maxFailures, 'authFailureLimit.maxFailures'),
        windowMs: positiveInteger(limit?.windowMs, DEFAULT_AUTH_FAILURE_THROTTLE.windowMs, 'authFailureLimit.windowMs'),
      });
    }
    const cluster = this.gateway.cluster;
    this.view = cluster === undefined ? undefined : new ClusterView(this.gateway, cluster.registry, cluster.replicaId, this.logger);
    if (options.accessLog === undefined) {
      this.accessLog = new AccessLog();
      this.cleanups.push(this.accessLog.attach(this.gateway));
    } else this.accessLog = options.accessLog;
    if (options.metrics === undefined) {
      this.metrics = new GatewayMetrics(this.gateway);
      this.cleanups.push(() => this.metrics.detach());
    } else this.metrics = options.metrics;
    const pool = '([^/]+)';
    this.routes = [
      { pattern: /^\/api\/v1\/pools$/, methods: { GET: () => this.listPools(), POST: (c) => this.createPool(c) } },
      {
        pattern: new RegExp(`^/api/v1/pools/${pool}$`),
        methods: { GET: (c) => this.getPool(c), PATCH: (c) => this.updatePool(c), DELETE: (c) => this.deletePool(c) },
      },
      { pattern: new RegExp(`^/api/v1/pools/${pool}/rotate$`), methods: { POST: (c) => this.rotatePool(c) } },
      { pattern: new RegExp(`^/api/v1/pools/${pool}/connections$`), methods: { GET: (c) => this.poolConnections(c) } },
      { pattern: /^\/api\/v1\/connections$/, methods: { GET: (c) => this.allConnections(c) } },
      { pattern: /^\/api\/v1\/access-log$/, methods: { GET: (c) => this.readAccessLog(c) } },
    ];
    this.server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        this.logger.error('admin request failed', { error: error instanceof Error ? error.message : String(error) });
        if (!res.headersSent) sendError(res, new VcsAgentError('VCS_STORE_FAILED', 'The admin request failed'));
        else res.destroy();
      });
    });
  }

  /** Starts the listener (default 127.0.0.1, any free port). */
  listen(options: { host?: string; port?: number } = {}): Promise<AddressInfo> {
    return listenServer(this.server, options);
  }

  /** Stops listening; open requests finish. Detaches what this server attached to the gateway. */
  close(): Promise<void> {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }

  destroy(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    this.server.close();
    this.server.closeAllConnections();
  }

  private authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization;
    if (this.tokenDigest === undefined || header === undefined || !header.startsWith('Bearer ')) return false;
    // Hash first so the comparison takes the same time whatever the presented length.
    return timingSafeEqual(createHash('sha256').update(header.slice(7)).digest(), this.tokenDigest);
  }

  /**
   * The token check with its throttle: true when the caller may go on; otherwise the answer
   * (401, or 429 for an address that presented too many wrong tokens) has been sent.
   */
  private admitted(req: IncomingMessage, res: ServerResponse): boolean {
    const address = req.socket.remoteAddress ?? 'unknown';
    const wait = this.throttle?.retryAfterSeconds(address) ?? 0;
    if (wait > 0) {
      req.resume();
      sendError(res, new AdminRateLimitedError(wait));
      return false;
    }
    if (this.authorized(req)) {
      this.throttle?.succeed(address);
      return true;
    }
    if (req.headers.authorization !== undefined && this.throttle?.fail(address) === true) {
      // Once per window and address: the refusals that follow are not logged one by one.
      this.logger.warn('admin token refused too often; refusing the address for a while', { remoteAddress: escapeLogValue(address), retryAfterSeconds: this.throttle.retryAfterSeconds(address) });
    }
    req.resume();
    sendError(res, new AdminUnauthorizedError());
    return false;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const method = req.method ?? 'GET';
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://admin.invalid');
    } catch {
      req.resume();
      return sendError(res, new AdminRouteNotFoundError('?'));
    }
    const path = url.pathname;
    res.once('finish', () => {
      // No query string (filters are harmless, but keep the habit), never a header.
      this.logger.debug('admin request', { method: escapeLogValue(method.slice(0, 16)), path: escapeLogValue(path.slice(0, 200)), status: res.statusCode, durationMs: Math.round(performance.now() - started) });
    });
    if (method === 'GET' || method === 'HEAD') {
      if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
      if (path === '/readyz') return this.readyz(res);
      if (path === '/' || /^\/pools\/[^/]+$/.test(path)) return sendAsset(res, 'text/html; charset=utf-8', ADMIN_HTML);
      if (path === '/assets/admin.css') return sendAsset(res, 'text/css; charset=utf-8', ADMIN_CSS);
      if (path === '/assets/admin.js') return sendAsset(res, 'text/javascript; charset=utf-8', ADMIN_SCRIPT);
      if (path === '/metrics') {
        if (!this.publicMetrics && !this.admitted(req, res)) return;
        const { contentType, body } = await this.metrics.render();
        res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
        res.end(body);
        return;
      }
    }
    if (!path.startsWith('/api/')) {
      req.resume();
      return sendError(res, new AdminRouteNotFoundError(path));
    }
    // Authentication comes before routing, so an unauthenticated caller learns nothing, not even which paths exist.
    if (!this.admitted(req, res)) return;
    for (const route of this.routes) {
      const match = route.pattern.exec(path);
      if (match === null) continue;
      const handler = route.methods[method];
      if (handler === undefined) {
        req.resume();
        return sendError(res, new AdminMethodNotAllowedError(method, Object.keys(route.methods)));
      }
      let params: string[];
      try {
        params = match.slice(1).map((segment) => decodeURIComponent(segment));
      } catch {
        req.resume();
        return sendError(res, new PoolNotFoundError(match[1] ?? ''));
      }
      try {
        const [status, body] = await handler({ req, url, params });
        return sendJson(res, status, body);
      } catch (error) {
        req.resume();
        if (error instanceof VcsAgentError) return sendError(res, error);
        throw error;
      }
    }
    req.resume();
    return sendError(res, new AdminRouteNotFoundError(path));
  }

  private async readyz(res: ServerResponse): Promise<void> {
    const notReady = this.gateway.notReadyReason;
    if (notReady !== undefined) return sendJson(res, 503, { status: 'not-ready', reason: notReady });
    try {
      await this.store.list();
    } catch {
      // A Redis outage fails the read before the client's event has reported it: ask again.
      return sendJson(res, 503, { status: 'not-ready', reason: this.gateway.notReadyReason ?? 'the pool store cannot be read' });
    }
    return sendJson(res, 200, { status: 'ready' });
  }

  private adminPool(record: PoolRecord, stats: Map<string, PoolLiveStats>): AdminPool {
    const live = stats.get(record.name);
    const connected = live !== undefined && live.id === record.id;
    return {
      ...poolSummary(record),
      connections: connected ? live.connections : 0,
      streamsBusy: connected ? live.streamsBusy : 0,
      streamsIdle: connected ? live.streamsIdle : 0,
      queued: connected ? live.queued : 0,
    };
  }

  /** Live numbers per pool name: summed over every replica of a replicated gateway. */
  private async liveStats(): Promise<Map<string, PoolLiveStats>> {
    const stats = this.view === undefined ? this.gateway.poolStats() : await this.view.poolStats();
    return new Map(stats.map((entry) => [entry.name, entry]));
  }

  /** The connections of one pool (its record) or of all: every replica's, each marked with its replica, on a replicated gateway. */
  private async connectionsOf(record?: PoolRecord): Promise<AgentConnectionInfo[]> {
    const name = record?.name;
    const list = this.view === undefined ? this.gateway.connections(name) : await this.view.connections(name);
    return (record === undefined ? list : list.filter((c) => c.poolId === record.id)).map(connectionView);
  }

  private async findPool(idOrName: string): Promise<PoolRecord> {
    const record = await this.store.get(idOrName);
    if (record === undefined) throw new PoolNotFoundError(idOrName.slice(0, 80));
    return record;
  }

  private async listPools(): Promise<[number, unknown]> {
    const stats = await this.liveStats();
    const pools = (await this.store.list()).map((record) => this.adminPool(record, stats));
    pools.sort((a, b) => a.name.localeCompare(b.name));
    return [200, { pools }];
  }

  private async createPool({ req }: RequestContext): Promise<[number, unknown]> {
    const body = await readJsonObject(req, ['name', 'description']);
    const name = stringField(body, 'name', true);
    const description = stringField(body, 'description', false) ?? '';
    const { pool, token } = await createPool(this.store, { name, description, gatewayUrl: this.gatewayUrl });
    this.logger.info('pool created', { pool: pool.name, poolId: pool.id });
    return [201, { pool: this.adminPool(pool, await this.liveStats()), token }];
  }

  private async getPool({ params }: RequestContext): Promise<[number, unknown]> {
    const record = await this.findPool(params[0] as string);
    return [200, { pool: this.adminPool(record, await this.liveStats()) }];
  }

  private async updatePool({ req, params }: RequestContext): Promise<[number, unknown]> {
    const record = await this.findPool(params[0] as string);
    const body = await readJsonObject(req, ['description']);
    const description = stringField(body, 'description', true);
    const updated = await updatePoolDescription(this.store, record.id, description);
    this.logger.info('pool updated', { pool: updated.name, poolId: updated.id });
    return [200, { pool: this.adminPool(updated, await this.liveStats()) }];
  }

  private async deletePool({ params }: RequestContext): Promise<[number, unknown]> {
    const record = await this.findPool(params[0] as string);
    const removed = await this.store.delete(record.id);
    if (removed === undefined) throw new PoolNotFoundError(record.name);
    const disconnected = this.gateway.disconnectPool(removed.id, 'pool_deleted');
    this.logger.info('pool deleted', { pool: removed.name, poolId: removed.id, disconnected });
    return [200, { pool: poolSummary(removed), disconnected }];
  }

  private async rotatePool({ req, params }: RequestContext): Promise<[number, unknown]> {
    const record = await this.findPool(params[0] as string);
    const body = await readJsonObject(req, ['graceSeconds']);
    let graceMs = this.defaultGraceMs;
    if (body.graceSeconds !== undefined) {
      const grace = body.graceSeconds;
      if (typeof grace !== 'number' || !Number.isFinite(grace) || grace < 0 || grace * 1000 > MAX_ROTATION_GRACE_MS) {
        throw new InvalidOptionError('graceSeconds', `Invalid graceSeconds: expected a number of seconds from 0 to ${MAX_ROTATION_GRACE_MS / 1000} (30 days)`);
      }
      graceMs = Math.round(grace * 1000);
    }
    const rotated = await rotatePoolKey(this.store, record.id, { graceMs, gatewayUrl: this.gatewayUrl });
    // Connections made with a key older than the one just replaced go now; the replaced key's at the end of the grace period.
    await this.gateway.revalidate(rotated.pool.id);
    this.gateway.schedulePreviousKeyExpiry(rotated.pool);
    this.logger.info('pool key rotated', { pool: rotated.pool.name, poolId: rotated.pool.id, keyGeneration: rotated.pool.keyGeneration, previousKeyExpiresAt: rotated.previousKeyExpiresAt });
    return [200, { pool: this.adminPool(rotated.pool, await this.liveStats()), token: rotated.token, previousKeyExpiresAt: rotated.previousKeyExpiresAt }];
  }

  private async poolConnections({ params }: RequestContext): Promise<[number, unknown]> {
    const record = await this.findPool(params[0] as string);
    return [200, { connections: await this.connectionsOf(record) }];
  }

  private async allConnections({ url }: RequestContext): Promise<[number, unknown]> {
    rejectUnknownParams(url, ['pool']);
    const pool = url.searchParams.get('pool');
    if (pool !== null) {
      return [200, { connections: await this.connectionsOf(await this.findPool(pool)) }];
    }
    return [200, { connections: await this.connectionsOf() }];
  }

  private async readAccessLog({ url }: RequestContext): Promise<[number, unknown]> {
    const filter = parseAccessLogQuery(url.searchParams);
    if (filter.pool !== undefined) {
      // Filter by name; an id is accepted too and turned into the name.
      const record = await this.store.get(filter.pool);
      if (record !== undefined) filter.pool = record.name;
    }
    const shared = this.gateway.cluster?.accessLog;
    if (shared !== undefined) {
      try {
        return [200, { entries: await shared.query(filter), capacity: shared.capacity, scope: 'service' }];
      } catch (error) {
        // Redis down: this replica's own records are better than none; `scope` tells which.
        this.logger.warn('cannot read the shared access log; serving this replica\'s', { error: error instanceof Error ? error.message : String(error) });
      }
    }
    return [200, { entries: this.accessLog.query(filter), capacity: this.accessLog.capacity, scope: 'replica' }];
  }
}

/** What the API shows of a connection. */
function connectionView(info: AgentConnectionInfo): AgentConnectionInfo {
  return { ...info, metadata: { ...info.metadata } };
}

function rejectUnknownParams(url: URL, known: readonly string[]): void {
  for (const name of url.searchParams.keys()) {
    if (!known.includes(name)) throw new InvalidOptionError(name.slice(0, 40), `Unknown query parameter "${name.slice(0, 40)}": expected ${known.join(', ')}`);
  }
}

/**
 * Parses the access log's query parameters: `pool`, `status` (`404` or `4xx`), `decision`,
 * `outcome`, `since` / `until` (ISO-8601 or epoch milliseconds), `limit`. Errors name the
 * parameter; a parameter given twice is refused rather than guessed at.
 */
export function parseAccessLogQuery(params: URLSearchParams): AccessLogFilter {
  const known = ['pool', 'status', 'decision', 'outcome', 'since', 'until', 'limit'];
  const filter: AccessLogFilter = {};
  for (const name of new Set(params.keys())) {
    if (!known.includes(name)) throw new InvalidOptionError(name.slice(0, 40), `Unknown query parameter "${name.slice(0, 40)}": expected one of ${known.join(', ')}`);
    const values = params.getAll(name);
    if (values.length > 1) throw new InvalidOptionError(name, `Invalid ${name}: give it once`);
    const value = values[0] as string;
    switch (name) {
      case 'pool':
        if (value === '') throw new InvalidOptionError('pool', 'Invalid pool: expected a pool name or id');
        filter.pool = value;
        break;
      case 'status': {
        const exact = /^(0|[1-5][0-9]{2})$/.exec(value);
        const klass = /^([1-5])xx$/i.exec(value);
        if (exact !== null) filter.status = { exact: Number(exact[1]) };
        else if (klass !== null) filter.status = { class: Number(klass[1]) };
        else throw new InvalidOptionError('status', 'Invalid status: expected a status code (404, 0 for none) or a class (1xx-5xx)');
        break;
      }
      case 'decision':
        if (!DECISIONS.includes(value as AccessDecision)) throw new InvalidOptionError('decision', `Invalid decision: expected one of ${DECISIONS.join(', ')}`);
        filter.decision = value as AccessDecision;
        break;
      case 'outcome':
        if (!OUTCOMES.includes(value as AccessOutcome)) throw new InvalidOptionError('outcome', `Invalid outcome: expected one of ${OUTCOMES.join(', ')}`);
        filter.outcome = value as AccessOutcome;
        break;
      case 'since':
      case 'until': {
        const time = /^[0-9]{1,15}$/.test(value) ? Number(value) : /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
        if (!Number.isFinite(time)) throw new InvalidOptionError(name, `Invalid ${name}: expected an ISO-8601 time (2026-01-31T12:00:00Z) or epoch milliseconds`);
        filter[name] = time;
        break;
      }
      case 'limit': {
        if (!/^[0-9]{1,6}$/.test(value) || Number(value) < 1 || Number(value) > MAX_LIMIT) {
          throw new InvalidOptionError('limit', `Invalid limit: expected a whole number from 1 to ${MAX_LIMIT}`);
        }
        filter.limit = Number(value);
        break;
      }
    }
  }
  return filter;
}

async function readJsonObject(req: IncomingMessage, fields: readonly string[]): Promise<Json> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new AdminBodyError(413, `The request body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  // An empty body counts as {} (a rotation with the default grace period needs nothing).
  if (size === 0) return {};
  if (type !== 'application/json') throw new AdminBodyError(415, 'Expected Content-Type: application/json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new AdminBodyError(400, 'The request body is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new AdminBodyError(400, 'Expected a JSON object');
  for (const key of Object.keys(parsed)) {
    if (!fields.includes(key)) throw new InvalidOptionError(key.slice(0, 40), `Unknown field "${key.slice(0, 40)}": expected ${fields.join(', ')}`);
  }
  return parsed as Json;
}

function stringField(body: Json, field: string, required: true): string;
function stringField(body: Json, field: string, required: false): string | undefined;
function stringField(body: Json, field: string, required: boolean): string | undefined {
  const value = body[field];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string') throw new InvalidOptionError(field, `Invalid ${field}: expected a string`);
  return value;
}

function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...extra,
  });
  res.end(text);
}

function sendError(res: ServerResponse, error: VcsAgentError): void {
  let status = STATUS_BY_CODE[error.code] ?? 500;
  const extra: Record<string, string> = {};
  const detail: Json = { code: error.code, message: error.message };
  if (error instanceof InvalidOptionError) detail.field = error.option;
  if (error instanceof AdminBodyError) status = error.status;
  if (error instanceof AdminUnauthorizedError) extra['www-authenticate'] = 'Bearer realm="vcs-gateway admin"';
  if (error instanceof AdminRateLimitedError) extra['retry-after'] = String(error.retryAfterSeconds);
  if (error instanceof AdminMethodNotAllowedError) extra.allow = error.allowed.join(', ');
  if (error instanceof PoolExistsError) detail.field = 'name';
  sendJson(res, status, { error: detail }, extra);
}

function sendAsset(res: ServerResponse, type: string, body: string): void {
  res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-cache', ...PAGE_SECURITY_HEADERS });
  res.end(body);
}
