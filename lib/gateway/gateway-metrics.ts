import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AgentConnectionInfo } from './agent-connection.js';
import type { AccessLogRecord, DisconnectReason, Gateway, PoolLiveStats } from './gateway.js';

export interface GatewayMetricsOptions {
  /** Also export the process metrics (CPU, memory, event loop lag) of prom-client (default true). */
  processMetrics?: boolean;
}

/** Request durations: from 1 ms (a cached API answer) to 2 min (a large clone). */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const QUEUE_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10];

/**
 * Prometheus metrics of one gateway, in a registry of its own (never prom-client's global
 * one, so several gateways in a process, or the embedding application, do not collide).
 * Live numbers (connections, streams, queue depth) are read at scrape time; counters and
 * histograms are fed from the gateway's events.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly detachers: Array<() => void> = [];

  constructor(gateway: Gateway, options: GatewayMetricsOptions = {}) {
    const registers = [this.registry];
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'vcs_gateway_' });
    // One gauge per pool-level figure, read from poolStats() at scrape time.
    const perPool = (name: string, help: string, value: (stats: PoolLiveStats) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['pool'] as const,
        registers,
        collect() {
          this.reset();
          for (const stats of gateway.poolStats()) this.set({ pool: stats.name }, value(stats));
        },
      });
    };
    perPool('vcs_gateway_connections', 'Live agent connections per pool', (stats) => stats.connections);
    new Gauge({
      name: 'vcs_gateway_streams',
      help: 'Tunnel streams per pool, busy (carrying a request) or idle',
      labelNames: ['pool', 'state'] as const,
      registers,
      collect() {
        this.reset();
        for (const stats of gateway.poolStats()) {
          this.set({ pool: stats.name, state: 'busy' }, stats.streamsBusy);
          this.set({ pool: stats.name, state: 'idle' }, stats.streamsIdle);
        }
      },
    });
    perPool('vcs_gateway_queue_depth', 'Requests waiting for an idle stream, per pool', (stats) => stats.queued);
    new Gauge({
      name: 'vcs_gateway_ready',
      help: '1 while the gateway accepts agents and requests (and, replicated, reaches Redis), 0 while it shuts down or is not ready',
      registers,
      collect() {
        this.set(gateway.ready ? 1 : 0);
      },
    });
    const cluster = gateway.cluster;
    if (cluster !== undefined) {
      new Gauge({
        name: 'vcs_gateway_redis_up',
        help: '1 while this replica reaches Redis (pool store, change feed, shared access log), 0 while it does not',
        registers,
        collect() {
          this.set(cluster.health.ready ? 1 : 0);
        },
      });
      // A counter read from the shared log at scrape time: it only ever grows.
      new Counter({
        name: 'vcs_gateway_access_log_dropped_total',
        help: 'Access records this replica could not append to the shared access log (Redis unreachable)',
        registers,
        collect() {
          this.reset();
          this.inc(cluster.accessLog.dropped);
        },
      });
    }
    const requests = new Counter({
      name: 'vcs_gateway_requests_total',
      help: 'Requests through the gateway by pool, status (0: no response) and outcome',
      labelNames: ['pool', 'status', 'outcome'] as const,
      registers,
    });
    const bytes = new Counter({
      name: 'vcs_gateway_body_bytes_total',
      help: 'Body bytes through the gateway by pool and direction (request: caller to agent; response: agent to caller)',
      labelNames: ['pool', 'direction'] as const,
      registers,
    });
    const duration = new Histogram({
      name: 'vcs_gateway_request_duration_seconds',
      help: 'Time from receiving a request to its last response byte (or failure), per pool',
      labelNames: ['pool'] as const,
      buckets: DURATION_BUCKETS,
      registers,
    });
    const queueWait = new Histogram({
      name: 'vcs_gateway_queue_wait_seconds',
      help: 'Time a request waited for an idle stream, per pool (requests rejected after waiting included)',
      labelNames: ['pool'] as const,
      buckets: QUEUE_BUCKETS,
      registers,
    });
    const connects = new Counter({ name: 'vcs_gateway_agent_connects_total', help: 'Agent connections accepted, per pool', labelNames: ['pool'] as const, registers });
    const refusals = new Counter({ name: 'vcs_gateway_agent_refusals_total', help: 'Agent connections refused, by reason', labelNames: ['reason'] as const, registers });
    const evictions = new Counter({
      name: 'vcs_gateway_agent_evictions_total',
      help: 'Agent connections the gateway closed itself (pool deleted, key expired, unresponsive), by reason',
      labelNames: ['reason'] as const,
      registers,
    });

    const onAccess = (record: AccessLogRecord): void => {
      requests.inc({ pool: record.pool, status: String(record.status), outcome: record.outcome });
      if (record.bytesOut > 0) bytes.inc({ pool: record.pool, direction: 'request' }, record.bytesOut);
      if (record.bytesIn > 0) bytes.inc({ pool: record.pool, direction: 'response' }, record.bytesIn);
      duration.observe({ pool: record.pool }, record.durationMs / 1000);
      if (record.queueMs !== undefined) queueWait.observe({ pool: record.pool }, record.queueMs / 1000);
      else if (record.errorCode === 'VCS_POOL_BUSY') queueWait.observe({ pool: record.pool }, record.durationMs / 1000);
    };
    const onConnected = (info: AgentConnectionInfo): void => {
      connects.inc({ pool: info.poolName });
    };
    const onRefused = (event: { reason: string }): void => {
      refusals.inc({ reason: event.reason });
    };
    const onEvicted = (event: { reason: DisconnectReason }): void => {
      evictions.inc({ reason: event.reason });
    };
    gateway.on('access', onAccess);
    gateway.on('agent-connected', onConnected);
    gateway.on('agent-refused', onRefused);
    gateway.on('agent-evicted', onEvicted);
    this.detachers.push(
      () => gateway.off('access', onAccess),
      () => gateway.off('agent-connected', onConnected),
      () => gateway.off('agent-refused', onRefused),
      () => gateway.off('agent-evicted', onEvicted),
    );
  }

  /** The exposition text and its content type, for `/metrics`. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Stops listening to the gateway. */
  detach(): void {
    for (const detach of this.detachers.splice(0)) detach();
  }
}
