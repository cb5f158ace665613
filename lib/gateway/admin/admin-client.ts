import { InvalidOptionError, VcsAgentError } from '../../errors.js';
import type { AccessLogEntry } from '../access-log.js';
import type { AgentConnectionInfo } from '../agent-connection.js';
import type { AdminPool } from './admin-server.js';

/** The admin API answered with an error, or could not be reached (`VCS_ADMIN_UNREACHABLE`). */
export class AdminApiError extends VcsAgentError {
  constructor(
    code: string,
    message: string,
    /** HTTP status (0 when the API could not be reached). */
    readonly status: number,
    /** The request field the API named, for 400 answers. */
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

export interface AdminClientOptions {
  /** Base URL of the admin listener, e.g. `http://127.0.0.1:8444`. */
  url: string;
  token: string;
  /** Per-call timeout (default 10 000 ms). */
  timeoutMs?: number;
}

/** A small client of the gateway's admin API (what `vcs-gateway connections|pool rotate|pool update` use). */
export class AdminClient {
  private readonly base: URL;
  private readonly token: string;
  private readonly timeoutMs: number;

  constructor(options: AdminClientOptions) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw new InvalidOptionError('admin-url', `Invalid admin-url "${String(options.url).slice(0, 80)}": expected an http:// or https:// URL`);
    }
    if ((base.protocol !== 'http:' && base.protocol !== 'https:') || base.username !== '' || base.password !== '') {
      throw new InvalidOptionError('admin-url', 'Invalid admin-url: expected an http:// or https:// URL without credentials');
    }
    if (typeof options.token !== 'string' || options.token === '') throw new InvalidOptionError('admin-token', 'Missing admin token: expected the admin API bearer token');
    this.base = base;
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  async listPools(): Promise<AdminPool[]> {
    return ((await this.call('GET', '/api/v1/pools')) as { pools: AdminPool[] }).pools;
  }

  async createPool(name: string, description?: string): Promise<{ pool: AdminPool; token: string }> {
    return (await this.call('POST', '/api/v1/pools', description === undefined ? { name } : { name, description })) as { pool: AdminPool; token: string };
  }

  async getPool(pool: string): Promise<AdminPool> {
    return ((await this.call('GET', `/api/v1/pools/${encodeURIComponent(pool)}`)) as { pool: AdminPool }).pool;
  }

  async updatePool(pool: string, description: string): Promise<AdminPool> {
    return ((await this.call('PATCH', `/api/v1/pools/${encodeURIComponent(pool)}`, { description })) as { pool: AdminPool }).pool;
  }

  async rotatePool(pool: string, graceSeconds?: number): Promise<{ pool: AdminPool; token: string; previousKeyExpiresAt: string }> {
    const body = graceSeconds === undefined ? {} : { graceSeconds };
    return (await this.call('POST', `/api/v1/pools/${encodeURIComponent(pool)}/rotate`, body)) as { pool: AdminPool; token: string; previousKeyExpiresAt: string };
  }

  async deletePool(pool: string): Promise<{ disconnected: number }> {
    return (await this.call('DELETE', `/api/v1/pools/${encodeURIComponent(pool)}`)) as { disconnected: number };
  }

  async connections(pool?: string): Promise<AgentConnectionInfo[]> {
    const path = pool === undefined ? '/api/v1/connections' : `/api/v1/pools/${encodeURIComponent(pool)}/connections`;
    return ((await this.call('GET', path)) as { connections: AgentConnectionInfo[] }).connections;
  }

  /** Reads the access log; `query` takes the API's parameters (pool, status, decision, outcome, since, until, limit). */
  async accessLog(query: Record<string, string> = {}): Promise<AccessLogEntry[]> {
    const params = new URLSearchParams(query).toString();
    return ((await this.call('GET', `/api/v1/access-log${params === '' ? '' : `?${params}`}`)) as { entries: AccessLogEntry[] }).entries;
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const url = new URL(path.replace(/^\//, ''), this.base.href.endsWith('/') ? this.base : new URL(`${this.base.href}/`));
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }), signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      throw new AdminApiError('VCS_ADMIN_UNREACHABLE', `Cannot reach the admin API at ${this.base.origin}: ${(error as Error).message}`, 0, undefined, { cause: error });
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new AdminApiError('VCS_ADMIN_BAD_RESPONSE', `The admin API at ${this.base.origin} answered ${res.status} without JSON`, res.status);
    }
    if (!res.ok) {
      const error = (parsed as { error?: { code?: unknown; message?: unknown; field?: unknown } }).error;
      throw new AdminApiError(
        typeof error?.code === 'string' ? error.code : 'VCS_ADMIN_BAD_RESPONSE',
        typeof error?.message === 'string' ? error.message : `The admin API answered ${res.status}`,
        res.status,
        typeof error?.field === 'string' ? error.field : undefined,
      );
    }
    return parsed;
  }
}
