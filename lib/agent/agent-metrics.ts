import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EventEmitter } from 'node:events';
import type { AgentRequestRecord } from './agent-stream.js';
import type { HealthSource } from './health-server.js';
import type { TunnelClientEvents, TunnelClientState } from './tunnel-client.js';

/**
 * What the metrics read from a `TunnelClient`: its events, and the getters the health
 * endpoints read too (without `connections` the `gateway_connections*` gauges are left out).
 */
export interface MetricsSource extends EventEmitter<TunnelClientEvents>, HealthSource {}

/** Options of {@link AgentMetrics}. */
export interface AgentMetricsOptions {
  /** Vendor label of every request metric (e.g. `gitlab`). */
  vendor: string;
  /** Registry to register in (default: a new one, never prom-client's global registry). */
  registry?: Registry;
  /** Name prefix (default `vcs_agent_`). */
  prefix?: string;
}

const STATES: readonly TunnelClientState[] = ['idle', 'connecting', 'connected', 'draining', 'closed'];

/*
 * Buckets from 5 ms (a cached API call on a LAN VCS) to 5 min (the default upstream
 * timeout: a large clone or archive download).
 */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * Prometheus metrics of one agent, fed by a `TunnelClient`'s events (`request`,
 * `connected`, `disconnected`) and read from its getters (`state`, `streamCounts`) at
 * scrape time. Everything lives in its own `Registry`, exposed as `registry`.
 *
 * Metrics (with the default prefix): `vcs_agent_requests_total{vendor,decision,status}`,
 * `vcs_agent_request_bytes_total{direction}` (`in` from the gateway, `out` to it),
 * `vcs_agent_request_duration_seconds{vendor,decision}`, `vcs_agent_requests_in_flight`,
 * `vcs_agent_streams_open`, `vcs_agent_reconnects_total`,
 * `vcs_agent_disconnects_total{reason}` (`network` or `credentials`),
 * `vcs_agent_connection_state{state}` (1 for the client's state, 0 for the others),
 * `vcs_agent_connected` (1 while at least one gateway connection is connected),
 * `vcs_agent_gateway_connections` (connections the agent keeps, `gatewayConnections`) and
 * `vcs_agent_gateway_connections_connected` (how many of them are connected now).
 */
export class AgentMetrics {
  readonly registry: Registry;
  private readonly source: MetricsSource;
  /** Slots that connected once: their next connection is a reconnect. */
  private readonly connectedBefore = new Set<number>();
  private readonly onRequest: (record: AgentRequestRecord) => void;
  private readonly onConnected: (event: TunnelClientEvents['connected'][0]) => void;
  private readonly onDisconnected: (event: TunnelClientEvents['disconnected'][0]) => void;

  constructor(source: MetricsSource, options: AgentMetricsOptions) {
    this.source = source;
    this.registry = options.registry ?? new Registry();
    const prefix = options.prefix ?? 'vcs_agent_';
    const registers = [this.registry];
    const requests = new Counter({
      name: `${prefix}requests_total`,
      help: 'Requests proxied or denied by this agent, by vendor, policy decision and HTTP status',
      labelNames: ['vendor', 'decision', 'status'] as const,
      registers,
    });
    const bytes = new Counter({
      name: `${prefix}request_bytes_total`,
      help: 'Body bytes of requests (in: from the gateway to the VCS) and responses (out: back to the gateway)',
      labelNames: ['direction'] as const,
      registers,
    });
    const durations = new Histogram({
      name: `${prefix}request_duration_seconds`,
      help: 'Time from a request reaching the agent to its response being sent back',
      labelNames: ['vendor', 'decision'] as const,
      buckets: DURATION_BUCKETS,
      registers,
    });
    new Gauge({
      name: `${prefix}requests_in_flight`,
      help: 'Requests being served right now',
      registers,
      collect() {
        this.set(source.streamCounts.busy);
      },
    });
    new Gauge({
      name: `${prefix}streams_open`,
      help: 'Tunnel streams open to the gateway',
      registers,
      collect() {
        this.set(source.streamCounts.open);
      },
    });
    const reconnects = new Counter({
      name: `${prefix}reconnects_total`,
      help: 'Connections to the gateway established after the first one of each gateway connection',
      registers,
    });
    const disconnects = new Counter({
      name: `${prefix}disconnects_total`,
      help: 'Connections to the gateway lost, by reason (network, or credentials refused)',
      labelNames: ['reason'] as const,
      registers,
    });
    new Gauge({
      name: `${prefix}connection_state`,
      help: 'Connection state: 1 for the current state, 0 for the others',
      labelNames: ['state'] as const,
      registers,
      collect() {
        for (const state of STATES) this.set({ state }, source.state === state ? 1 : 0);
      },
    });
    new Gauge({
      name: `${prefix}connected`,
      help: '1 while at least one connection to the gateway is connected, else 0',
      registers,
      collect() {
        this.set(source.state === 'connected' ? 1 : 0);
      },
    });
    if (source.connections !== undefined) {
      new Gauge({
        name: `${prefix}gateway_connections`,
        help: 'Connections to the gateway this agent keeps (--gateway-connections)',
        registers,
        collect() {
          this.set(source.connections?.length ?? 0);
        },
      });
      new Gauge({
        name: `${prefix}gateway_connections_connected`,
        help: 'Connections to the gateway connected right now',
        registers,
        collect() {
          this.set(source.connections?.filter((connection) => connection.state === 'connected').length ?? 0);
        },
      });
    }
    // Pre-create the label sets dashboards alert on, so they read 0 rather than "no data".
    disconnects.inc({ reason: 'network' }, 0);
    disconnects.inc({ reason: 'credentials' }, 0);
    bytes.inc({ direction: 'in' }, 0);
    bytes.inc({ direction: 'out' }, 0);

    const vendor = options.vendor;
    this.onRequest = (record) => {
      requests.inc({ vendor, decision: record.decision, status: String(record.status) });
      bytes.inc({ direction: 'in' }, record.bytesIn);
      bytes.inc({ direction: 'out' }, record.bytesOut);
      durations.observe({ vendor, decision: record.decision }, record.durationMs / 1000);
    };
    this.onConnected = ({ slot }) => {
      if (this.connectedBefore.has(slot)) reconnects.inc();
      this.connectedBefore.add(slot);
    };
    this.onDisconnected = ({ error }) => {
      const credentials = error !== undefined && (error.code === 'VCS_AUTH_FAILED' || error.code === 'VCS_PROXY_AUTH_REQUIRED');
      disconnects.inc({ reason: credentials ? 'credentials' : 'network' });
    };
    source.on('request', this.onRequest);
    source.on('connected', this.onConnected);
    source.on('disconnected', this.onDisconnected);
  }

  /** Stops listening to the client (the registry keeps its values). */
  detach(): void {
    this.source.off('request', this.onRequest);
    this.source.off('connected', this.onConnected);
    this.source.off('disconnected', this.onDisconnected);
  }
}
