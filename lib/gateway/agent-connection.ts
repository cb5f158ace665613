import type { ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { ExchangeRequest } from './exchange.js';
import type { ExchangeResult, GatewayStream, GatewayStreamOwner } from './gateway-stream.js';
import type { PoolRoute } from './pool-route.js';

export type ExchangeListener = (connection: AgentConnection, request: ExchangeRequest, result: ExchangeResult) => void;

/** What the gateway shows about one live agent connection. */
export interface AgentConnectionInfo {
  readonly id: string;
  readonly poolId: string;
  readonly poolName: string;
  readonly agentId: string;
  readonly agentVersion: string;
  readonly vendor: string;
  readonly remoteAddress: string;
  readonly connectedAt: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly streamsBusy: number;
  readonly streamsIdle: number;
  readonly requestsServed: number;
  readonly draining: boolean;
  /** Which pool key generation authenticated it (1 until the pool's key is first rotated). */
  readonly keyGeneration: number;
}

/** An authenticated agent session and its tunnel streams. */
export class AgentConnection implements GatewayStreamOwner {
  readonly streams = new Set<GatewayStream>();
  readonly idle: GatewayStream[] = [];
  busy = 0;
  requestsServed = 0;
  draining = false;
  readonly connectedAt = new Date();
  /** Which pool key generation authenticated this connection (set once, at authentication). */
  keyGeneration = 1;

  constructor(
    readonly id: string,
    readonly session: ServerHttp2Session,
    readonly control: ServerHttp2Stream,
    readonly poolId: string,
    readonly poolName: string,
    readonly agentId: string,
    readonly agentVersion: string,
    readonly vendor: string,
    readonly metadata: Readonly<Record<string, string>>,
    readonly remoteAddress: string,
    readonly route: PoolRoute,
    private readonly onExchange: ExchangeListener,
  ) {}

  /** Adds a freshly opened tunnel stream and offers it to the pool. */
  addStream(stream: GatewayStream): void {
    this.streams.add(stream);
    if (this.draining) stream.close();
    else this.route.offer(stream, this);
  }

  /** Stops new work: idle streams close now, busy ones when their exchange ends. */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    for (const stream of this.streams) stream.retire = true;
    for (const stream of this.idle.splice(0)) stream.close();
  }

  onStreamIdle(stream: GatewayStream): void {
    this.route.offer(stream, this);
  }

  onStreamClosed(stream: GatewayStream): void {
    this.streams.delete(stream);
    const index = this.idle.indexOf(stream);
    if (index !== -1) this.idle.splice(index, 1);
  }

  onExchangeDone(_stream: GatewayStream, request: ExchangeRequest, result: ExchangeResult): void {
    // Every assigned exchange ends here exactly once, whether the stream goes idle or dies.
    this.busy--;
    this.requestsServed++;
    this.onExchange(this, request, result);
  }

  info(): AgentConnectionInfo {
    return {
      id: this.id,
      poolId: this.poolId,
      poolName: this.poolName,
      agentId: this.agentId,
      agentVersion: this.agentVersion,
      vendor: this.vendor,
      remoteAddress: this.remoteAddress,
      connectedAt: this.connectedAt.toISOString(),
      metadata: this.metadata,
      streamsBusy: this.busy,
      streamsIdle: this.idle.length,
      requestsServed: this.requestsServed,
      draining: this.draining,
      keyGeneration: this.keyGeneration,
    };
  }
}
