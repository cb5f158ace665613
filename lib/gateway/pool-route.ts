import { NoAgentError, PoolBusyError, RequestAbortedError, type VcsAgentError } from '../errors.js';
import type { AgentConnection } from './agent-connection.js';
import type { ExchangeHandler, ExchangeRequest } from './exchange.js';
import type { GatewayStream } from './gateway-stream.js';

export interface PoolRouteOptions {
  queueTimeoutMs: number;
  maxQueue: number;
  /** A request failed before any stream took it (no agent, busy, aborted while queued). */
  onRejected(request: ExchangeRequest, error: VcsAgentError): void;
}

/** A request the caller can still abort or resume, wherever it is (queued or on a stream). */
export class PendingExchange {
  stream: GatewayStream | undefined;
  timer: NodeJS.Timeout | undefined;
  done = false;

  constructor(
    readonly request: ExchangeRequest,
    readonly handler: ExchangeHandler,
    private readonly route: PoolRoute,
  ) {}

  /** Resumes the tunnel stream after the handler returned false from onData. */
  resume(): void {
    this.stream?.resume(this.request);
  }

  abort(error: VcsAgentError = new RequestAbortedError()): void {
    if (this.done) return;
    this.done = true;
    if (this.stream !== undefined) this.stream.abort(this.request, error);
    else {
      this.route.unqueue(this);
      this.route.reject(this, error);
    }
  }
}

/**
 * Routing for one pool: its live connections, their idle streams and a bounded wait
 * queue. A request goes to the least-busy connection that has an idle stream (ties go
 * round-robin), so load spreads across agents and connections rather than filling one.
 */
export class PoolRoute {
  readonly connections: AgentConnection[] = [];
  private queue: PendingExchange[] = [];
  private queueHead = 0;
  private next = 0;

  constructor(
    readonly id: string,
    readonly name: string,
    private readonly options: PoolRouteOptions,
  ) {}

  get queued(): number {
    return this.queue.length - this.queueHead;
  }

  dispatch(request: ExchangeRequest, handler: ExchangeHandler): PendingExchange {
    const pending = new PendingExchange(request, handler, this);
    const stream = this.takeIdle();
    if (stream !== undefined) {
      pending.stream = stream;
      stream.assign(request, handler);
      return pending;
    }
    if (!this.connections.some((connection) => !connection.draining)) {
      pending.done = true;
      this.reject(pending, new NoAgentError(this.name));
      return pending;
    }
    if (this.queued >= this.options.maxQueue) {
      pending.done = true;
      this.reject(pending, new PoolBusyError(this.name, `All streams of pool "${this.name}" are busy and ${this.options.maxQueue} requests are already waiting`, 1));
      return pending;
    }
    pending.timer = setTimeout(() => {
      if (pending.done) return;
      pending.done = true;
      this.unqueue(pending);
      this.reject(pending, new PoolBusyError(this.name, `All streams of pool "${this.name}" stayed busy for ${this.options.queueTimeoutMs} ms`, 1));
    }, this.options.queueTimeoutMs);
    pending.timer.unref();
    this.queue.push(pending);
    return pending;
  }

  reject(pending: PendingExchange, error: VcsAgentError): void {
    this.options.onRejected(pending.request, error);
    pending.handler.onError(error);
  }

  unqueue(pending: PendingExchange): void {
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    const index = this.queue.indexOf(pending, this.queueHead);
    if (index !== -1) this.queue.splice(index, 1);
  }

  /** A stream became available: give it to the oldest waiter, or park it. */
  offer(stream: GatewayStream, connection: AgentConnection): void {
    while (this.queueHead < this.queue.length) {
      const pending = this.queue[this.queueHead] as PendingExchange;
      this.queueHead++;
      if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.queueHead);
        this.queueHead = 0;
      }
      if (pending.done) continue;
      if (pending.timer !== undefined) clearTimeout(pending.timer);
      pending.stream = stream;
      connection.busy++;
      stream.assign(pending.request, pending.handler);
      return;
    }
    connection.idle.push(stream);
  }

  /** Fails every queued request (no agent left, or the gateway is shutting down). */
  failQueued(error: () => VcsAgentError): void {
    const waiting = this.queue.slice(this.queueHead);
    this.queue = [];
    this.queueHead = 0;
    for (const pending of waiting) {
      if (pending.done) continue;
      pending.done = true;
      if (pending.timer !== undefined) clearTimeout(pending.timer);
      this.reject(pending, error());
    }
  }

  addConnection(connection: AgentConnection): void {
    this.connections.push(connection);
  }

  removeConnection(connection: AgentConnection): void {
    const index = this.connections.indexOf(connection);
    if (index !== -1) this.connections.splice(index, 1);
    if (!this.connections.some((c) => !c.draining)) this.failQueued(() => new NoAgentError(this.name));
  }

  private takeIdle(): GatewayStream | undefined {
    const connections = this.connections;
    const count = connections.length;
    let best: AgentConnection | undefined;
    for (let i = 0; i < count; i++) {
      const connection = connections[(this.next + i) % count] as AgentConnection;
      if (connection.idle.length > 0 && !connection.draining && (best === undefined || connection.busy < best.busy)) best = connection;
    }
    if (best === undefined) return undefined;
    this.next = (this.next + 1) % count;
    best.busy++;
    return best.idle.pop();
  }
}
