import { NoAgentError, PoolBusyError, RequestAbortedError, type VcsAgentError } from '../errors.js';
import type { ExchangeHandler, ExchangeRequest } from './exchange.js';
import type { ExchangeResult } from './gateway-stream.js';

/** What the router needs of a tunnel stream. */
export interface RouteStream {
  assign(request: ExchangeRequest, handler: ExchangeHandler): void;
  abort(request: ExchangeRequest, error?: VcsAgentError): void;
  resume(request: ExchangeRequest): void;
}

/** What the router needs of an agent connection. */
export interface RouteConnection {
  /** A draining connection takes no new work. */
  readonly draining: boolean;
}

/** A handler the router can tell how a dispatched exchange ended, and on which connection. */
export interface RoutedHandler<C> extends ExchangeHandler {
  onSettled(connection: C, result: ExchangeResult): void;
  /** The exchange was handed to a stream of `connection` (the agent may act on it from now on). */
  onStarted?(connection: C): void;
}

/** Per-connection routing state. */
export interface ConnectionLoad {
  busy: number;
  idle: number;
  served: number;
}

interface Slot<C, S> {
  readonly connection: C;
  readonly idle: S[];
  busy: number;
  served: number;
  /** On the route: added and not removed since. */
  member: boolean;
  /** The busy level whose bucket holds the connection; -1 while it cannot take work (no idle stream, draining, off the route). */
  level: number;
  /** Neighbours in the level's bucket (an intrusive list: moving between buckets allocates nothing). */
  prev: Slot<C, S> | undefined;
  next: Slot<C, S> | undefined;
}

/** One busy level's connections, oldest arrival first. */
interface Bucket<C, S> {
  head: Slot<C, S> | undefined;
  tail: Slot<C, S> | undefined;
}

export interface PoolRouteOptions {
  queueTimeoutMs: number;
  maxQueue: number;
}

/** A request the caller can still abort or resume, wherever it is (queued or on a stream). */
export class PendingExchange<C extends RouteConnection, S extends RouteStream> {
  stream: S | undefined;
  connection: C | undefined;
  timer: NodeJS.Timeout | undefined;
  done = false;

  constructor(
    readonly request: ExchangeRequest,
    readonly handler: RoutedHandler<C>,
    private readonly route: PoolRoute<C, S>,
  ) {}

  /** Resumes the tunnel stream after the handler returned false from onData. */
  resume(): void {
    this.stream?.resume(this.request);
  }

  abort(error: VcsAgentError = new RequestAbortedError()): void {
    if (this.done) return;
    this.done = true;
    if (this.stream !== undefined) this.stream.abort(this.request, error);
    else this.route.dropQueued(this, error);
  }

  /** Still in the queue: no stream has taken it, and it has not failed or been aborted. */
  get waiting(): boolean {
    return !this.done && this.stream === undefined;
  }

  /**
   * Takes the request out of the queue without telling its handler anything, for the caller
   * to place it elsewhere (a replica that has a free stream). False when it is no longer
   * waiting: a stream took it meanwhile, or it failed.
   */
  withdraw(): boolean {
    if (!this.waiting) return false;
    this.done = true;
    this.route.withdrawQueued(this);
    return true;
  }
}

/**
 * Routing for one pool, and the one owner of its state: which connections serve it, which
 * of their streams are idle, how many are busy, and the bounded queue of requests waiting
 * for a stream. A request goes to the least-busy connection that has an idle stream (ties
 * go round-robin), so load spreads across agents and connections rather than filling one.
 */
export class PoolRoute<C extends RouteConnection, S extends RouteStream> {
  readonly connections: C[] = [];
  private readonly slots = new WeakMap<C, Slot<C, S>>();
  /*
   * The exchange each busy stream carries, until it settles. An entry is made the first time
   * a stream takes work and kept, emptied, between exchanges. With an entry added and deleted
   * per request (V8 rebuilds such a table every few deletions) and the Sets below, the gateway
   * promoted 2.6 KB per request to the old generation, the request's own objects included;
   * without, 0.7 KB (docs/performance.md § Run 15). WeakMap: a stream that is gone takes its
   * entry with it.
   */
  private readonly active = new WeakMap<S, { pending: PendingExchange<C, S> | undefined }>();
  private queue: PendingExchange<C, S>[] = [];
  private queueHead = 0;
  /*
   * The connections that can take work, bucketed by how many of their streams are busy: the
   * least-busy one is the first of the lowest non-empty bucket, found in O(busy levels) (at
   * most the parallelism) however many connections serve the pool, where a scan of every
   * connection per request was O(connections). A connection leaves its bucket when it takes
   * work and rejoins one at the end, so ties go round-robin. The buckets are intrusive lists
   * through the slots, not Sets, for the same reason as `active` above.
   */
  private readonly levels: Bucket<C, S>[] = [];
  /** Idle streams over every connection, kept with the slots so `hasIdle` costs nothing. */
  private idleCount = 0;

  constructor(
    readonly id: string,
    readonly name: string,
    private readonly options: PoolRouteOptions,
  ) {}

  get queued(): number {
    return this.queue.length - this.queueHead;
  }

  /** Busy and idle streams and exchanges served of one connection (also after it left the route). */
  load(connection: C): ConnectionLoad {
    const slot = this.slots.get(connection);
    return slot === undefined ? { busy: 0, idle: 0, served: 0 } : { busy: slot.busy, idle: slot.idle.length, served: slot.served };
  }

  /** Whether a request would find an idle stream at once (no queueing). */
  get hasIdle(): boolean {
    return this.idleCount > 0;
  }

  dispatch(request: ExchangeRequest, handler: RoutedHandler<C>): PendingExchange<C, S> {
    const pending = new PendingExchange(request, handler, this);
    if (this.takeIdle(pending)) return pending;
    if (!this.connections.some((connection) => !connection.draining)) {
      pending.done = true;
      handler.onError(new NoAgentError(this.name));
      return pending;
    }
    if (this.queued >= this.options.maxQueue) {
      pending.done = true;
      handler.onError(new PoolBusyError(this.name, `All streams of pool "${this.name}" are busy and ${this.options.maxQueue} requests are already waiting`, 1));
      return pending;
    }
    pending.timer = setTimeout(() => {
      if (pending.done) return;
      pending.done = true;
      this.dropQueued(pending, new PoolBusyError(this.name, `All streams of pool "${this.name}" stayed busy for ${this.options.queueTimeoutMs} ms`, 1));
    }, this.options.queueTimeoutMs);
    pending.timer.unref();
    this.queue.push(pending);
    return pending;
  }

  /** Takes a waiting request out of the queue and fails it. */
  dropQueued(pending: PendingExchange<C, S>, error: VcsAgentError): void {
    this.withdrawQueued(pending);
    pending.handler.onError(error);
  }

  /** Takes a waiting request out of the queue (its owner says what becomes of it). */
  withdrawQueued(pending: PendingExchange<C, S>): void {
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    const index = this.queue.indexOf(pending, this.queueHead);
    if (index !== -1) this.queue.splice(index, 1);
  }

  /** A stream of `connection` can take work (fresh or finished): give it to the oldest waiter, or park it. */
  offer(connection: C, stream: S): void {
    const slot = this.slotOf(connection);
    while (this.queueHead < this.queue.length) {
      const pending = this.queue[this.queueHead] as PendingExchange<C, S>;
      this.queueHead++;
      if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.queueHead);
        this.queueHead = 0;
      }
      if (pending.done) continue;
      if (pending.timer !== undefined) clearTimeout(pending.timer);
      this.start(pending, connection, slot, stream);
      return;
    }
    slot.idle.push(stream);
    this.idleCount++;
    this.place(connection, slot);
  }

  /** The exchange on `stream` ended (completed, failed or aborted): exactly once per dispatched exchange. */
  settle(stream: S, result: ExchangeResult): void {
    const entry = this.active.get(stream);
    const pending = entry?.pending;
    if (entry === undefined || pending === undefined) return;
    entry.pending = undefined;
    const connection = pending.connection as C;
    const slot = this.slotOf(connection);
    slot.busy--;
    slot.served++;
    this.place(connection, slot);
    pending.handler.onSettled(connection, result);
  }

  /** The stream is gone: it is no longer idle. */
  release(connection: C, stream: S): void {
    const slot = this.slots.get(connection);
    const index = slot === undefined ? -1 : slot.idle.indexOf(stream);
    if (slot === undefined || index === -1) return;
    slot.idle.splice(index, 1);
    this.idleCount--;
    this.place(connection, slot);
  }

  /** Takes every idle stream of `connection` away (it drains); the caller closes them. */
  takeIdleStreams(connection: C): S[] {
    const slot = this.slots.get(connection);
    if (slot === undefined) return [];
    const taken = slot.idle.splice(0);
    this.idleCount -= taken.length;
    this.place(connection, slot);
    return taken;
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
      pending.handler.onError(error());
    }
  }

  addConnection(connection: C): void {
    const slot = this.slotOf(connection);
    slot.member = true;
    this.connections.push(connection);
    this.place(connection, slot);
  }

  removeConnection(connection: C): void {
    const index = this.connections.indexOf(connection);
    if (index !== -1) this.connections.splice(index, 1);
    const slot = this.slots.get(connection);
    if (slot !== undefined) {
      slot.member = false;
      this.place(connection, slot);
    }
    if (!this.connections.some((c) => !c.draining)) this.failQueued(() => new NoAgentError(this.name));
  }

  private slotOf(connection: C): Slot<C, S> {
    let slot = this.slots.get(connection);
    if (slot === undefined) {
      slot = { connection, idle: [], busy: 0, served: 0, member: false, level: -1, prev: undefined, next: undefined };
      this.slots.set(connection, slot);
    }
    return slot;
  }

  private takeIdle(pending: PendingExchange<C, S>): boolean {
    for (const bucket of this.levels) {
      for (let slot = bucket.head; slot !== undefined; slot = bucket.head) {
        if (slot.connection.draining) {
          // It started draining since it was placed (the registry then takes its idle streams).
          this.unlink(slot);
          continue;
        }
        this.idleCount--;
        this.start(pending, slot.connection, slot, slot.idle.pop() as S);
        return true;
      }
    }
    return false;
  }

  /** Puts the connection in the bucket of its busy level, or in none while it cannot take work. */
  private place(connection: C, slot: Slot<C, S>): void {
    const level = slot.member && slot.idle.length > 0 && !connection.draining ? slot.busy : -1;
    if (level === slot.level) return;
    if (slot.level !== -1) this.unlink(slot);
    if (level === -1) return;
    while (this.levels.length <= level) this.levels.push({ head: undefined, tail: undefined });
    const bucket = this.levels[level] as Bucket<C, S>;
    slot.level = level;
    slot.prev = bucket.tail;
    if (bucket.tail === undefined) bucket.head = slot;
    else bucket.tail.next = slot;
    bucket.tail = slot;
  }

  private unlink(slot: Slot<C, S>): void {
    const bucket = this.levels[slot.level] as Bucket<C, S>;
    if (slot.prev === undefined) bucket.head = slot.next;
    else slot.prev.next = slot.next;
    if (slot.next === undefined) bucket.tail = slot.prev;
    else slot.next.prev = slot.prev;
    slot.prev = undefined;
    slot.next = undefined;
    slot.level = -1;
  }

  private start(pending: PendingExchange<C, S>, connection: C, slot: Slot<C, S>, stream: S): void {
    pending.stream = stream;
    pending.connection = connection;
    slot.busy++;
    this.place(connection, slot);
    const entry = this.active.get(stream);
    if (entry === undefined) this.active.set(stream, { pending });
    else entry.pending = pending;
    pending.handler.onStarted?.(connection);
    stream.assign(pending.request, pending.handler);
  }
}
