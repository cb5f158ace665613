import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { InvalidOptionError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { TunnelConnectionInfo } from './connection-slot.js';
import type { TunnelClientState } from './tunnel-client.js';
import { listenServer } from '../util/listen-server.js';

/** What the health endpoints read from a `TunnelClient`. */
export interface HealthSource {
  readonly state: TunnelClientState;
  readonly streamCounts: { open: number; busy: number };
  /** Each gateway connection; when given, readiness needs one connected with an open stream. */
  readonly connections?: readonly TunnelConnectionInfo[];
}

/** Options of {@link HealthServer}. */
export interface HealthServerOptions {
  source: HealthSource;
  /** Served on `/metrics`; without it `/metrics` answers 404. */
  registry?: Registry;
  logger?: Logger;
}

/**
 * The agent's optional health listener (`--health-listen`):
 *
 * - `GET /healthz`: 200 while the process runs, including while it reconnects. A liveness
 *   probe must not restart agents during a gateway outage: a restart cannot fix the
 *   gateway, and a whole fleet restarting at once is worse than waiting.
 * - `GET /readyz`: 200 while at least one gateway connection is connected with an open
 *   stream (one of several lost still serves the pool), 503 otherwise (connecting,
 *   draining, closed). The body names the state and how many connections are up.
 * - `GET /metrics`: the registry in Prometheus text format.
 *
 * Other paths answer 404, other methods 405. Bodies never carry configuration or secrets.
 */
export class HealthServer {
  private readonly server: Server;
  private readonly source: HealthSource;
  private readonly registry: Registry | undefined;
  private readonly logger: Logger;

  constructor(options: HealthServerOptions) {
    if (options?.source === undefined) throw new InvalidOptionError('source', 'HealthServer needs a source (the TunnelClient)');
    this.source = options.source;
    this.registry = options.registry;
    this.logger = options.logger ?? silentLogger;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        this.logger.warn('health endpoint failed', { error: error instanceof Error ? error.message : String(error) });
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
    });
    // Probes are short; nothing should hold the listener open during shutdown.
    this.server.keepAliveTimeout = 5_000;
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 10_000;
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  listen(options: { host: string; port: number }): Promise<AddressInfo> {
    return listenServer(this.server, options);
  }

  /** Stops listening and closes open connections. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** Whether `/readyz` answers 200 right now. */
  ready(): boolean {
    if (this.source.state !== 'connected') return false;
    const connections = this.source.connections;
    if (connections === undefined) return this.source.streamCounts.open >= 1;
    return connections.some((connection) => connection.state === 'connected' && connection.streams.open >= 1);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/healthz' && path !== '/readyz' && path !== '/metrics') {
      send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
      return;
    }
    if (path === '/healthz') {
      send(res, 200, 'text/plain; charset=utf-8', 'ok\n', req.method === 'HEAD');
      return;
    }
    if (path === '/readyz') {
      const ready = this.ready();
      const { open, busy } = this.source.streamCounts;
      const connections = this.source.connections;
      const up = connections === undefined ? '' : ` connections=${connections.filter((connection) => connection.state === 'connected').length}/${connections.length}`;
      send(res, ready ? 200 : 503, 'text/plain; charset=utf-8', `${ready ? 'ready' : 'not ready'}: state=${this.source.state} streams=${open} busy=${busy}${up}\n`, req.method === 'HEAD');
      return;
    }
    if (this.registry === undefined) {
      send(res, 404, 'text/plain; charset=utf-8', 'metrics are not enabled\n');
      return;
    }
    const body = await this.registry.metrics();
    send(res, 200, this.registry.contentType, body, req.method === 'HEAD');
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string, headOnly = false): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(headOnly ? undefined : body);
}
