import { ForwardLoopError, RequestAbortedError, type VcsAgentError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { LoggedExchange } from '../access-record.js';
import { NOOP_CONTROL } from '../deferred-control.js';
import type { ExchangeRequest } from '../exchange.js';
import type { ExchangeControl } from '../gateway-types.js';
import type { LiveRegistry, PeerCandidate } from './live-registry.js';
import { PeerAttempt, type AttemptOwner } from './peer-attempt.js';
import { carriesPeerHeader } from './peer-protocol.js';
import { PeerSessions, type PeerSessionsOptions } from './peer-sessions.js';

/** How loaded this replica is for a pool: an idle stream now, live connections only (a request would queue), or none. */
export type LocalLoad = 'idle' | 'busy' | 'none';

/** How the forwarder serves a request on this replica instead (the router's own path, which never forwards). */
export interface LocalRoute {
  load(pool: string): LocalLoad;
  dispatchHere(request: ExchangeRequest, handler: LoggedExchange): ExchangeControl;
}

/** Options of a {@link PeerForwarder}. */
export interface PeerForwarderOptions extends Partial<PeerSessionsOptions> {
  replicaId: string;
  token: string;
  registry: LiveRegistry;
  local: LocalRoute;
  logger: Logger;
  onBodyChunk?: ((bytes: number) => void) | undefined;
}

/** A local dispatch that may still wait in this replica's queue (PoolRoute's PendingExchange). */
interface QueuedHere extends ExchangeControl {
  readonly waiting: boolean;
  withdraw(): boolean;
}

function queuedHere(control: ExchangeControl): QueuedHere | undefined {
  const candidate = control as Partial<QueuedHere>;
  return typeof candidate.withdraw === 'function' && candidate.waiting === true ? (control as QueuedHere) : undefined;
}

/** One request the forwarder is placing: the replicas tried so far and the current attempt (or the local dispatch). */
class ForwardJob implements ExchangeControl, AttemptOwner {
  readonly tried = new Set<string>();
  current: ExchangeControl | undefined;
  /** The local dispatch while it waits in this replica's queue (the forwarder may move it). */
  here: QueuedHere | undefined;
  private aborted = false;

  constructor(
    private readonly forwarder: PeerForwarder,
    readonly request: ExchangeRequest,
    readonly handler: LoggedExchange,
    readonly replicaId: string,
    readonly token: string,
    readonly onBodyChunk: ((bytes: number) => void) | undefined,
  ) {}

  abort(error: VcsAgentError = new RequestAbortedError()): void {
    if (this.aborted) return;
    this.aborted = true;
    if (this.current !== undefined) this.current.abort(error);
    else this.handler.onError(error);
  }

  resume(): void {
    this.current?.resume();
  }

  retry(attempt: PeerAttempt, reason: string): void {
    this.forwarder.logger.info('forwarded request re-dispatched: the peer did not take it', { pool: this.request.pool, requestId: this.request.id, replica: attempt.target.replicaId, reason: reason.slice(0, 200) });
    if (this.aborted) return;
    this.forwarder.place(this);
  }

  settled(attempt: PeerAttempt): void {
    this.forwarder.count(attempt.url, this.request.pool, -1);
  }

  refusedToken(url: string): void {
    this.forwarder.refusedToken(url);
  }
}

/*
 * Defaults (docs/scaling.md § Failure modes): 1 s to reach a peer (TCP and its SETTINGS);
 * a PING a second, and 2 s without an answer means the peer froze or the link is cut; a peer
 * that could not be reached is skipped for 3 s, longer than the registry needs (≤ 2 s) to
 * drop a dead replica.
 */
const DEFAULTS: PeerSessionsOptions = { connectTimeoutMs: 1_000, pingIntervalMs: 1_000, pingTimeoutMs: 2_000, downMs: 3_000 };

/**
 * Sends requests this replica cannot serve at once to a replica that can (docs/scaling.md
 * § Forwarding), one hop at most. Chooses from the live registry's snapshot (no Redis call
 * per request), retries elsewhere while the peer has not taken the request, and falls back
 * to this replica's own route (its queue, or the store's answer: unknown pool, no agent).
 */
export class PeerForwarder {
  readonly logger: Logger;
  readonly sessions: PeerSessions;
  /** Requests out to each peer and pool that have not ended, to spread a burst before the next snapshot. */
  private readonly inflight = new Map<string, number>();
  private readonly tokenWarned = new Set<string>();
  /** Jobs queued on this replica, oldest first, looked at again on every registry snapshot (moveQueued). */
  private readonly queuedJobs = new Set<ForwardJob>();
  /** Size at which queuedJobs is next swept of jobs no longer waiting (it doubles, so sweeping stays O(1) per job). */
  private sweepAt = 64;

  constructor(private readonly options: PeerForwarderOptions) {
    this.logger = options.logger;
    this.sessions = new PeerSessions({
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
      pingIntervalMs: options.pingIntervalMs ?? DEFAULTS.pingIntervalMs,
      pingTimeoutMs: options.pingTimeoutMs ?? DEFAULTS.pingTimeoutMs,
      downMs: options.downMs ?? DEFAULTS.downMs,
      tls: options.tls,
    });
    options.registry.onSnapshot(() => this.moveQueued());
  }

  /** Places a request the local route cannot take at once: at a peer with a free stream, else here, else at a peer that will queue it. */
  forward(request: ExchangeRequest, handler: LoggedExchange): ExchangeControl {
    if (carriesPeerHeader(request.rawHeaders)) {
      handler.onError(new ForwardLoopError('The request carries a vcs-peer-* header, which only replicas may set'));
      return NOOP_CONTROL;
    }
    const job = new ForwardJob(this, request, handler, this.options.replicaId, this.options.token, this.options.onBodyChunk);
    this.place(job);
    return job;
  }

  /** The next place for `job`: each peer is tried once; without one, the local route decides. */
  place(job: ForwardJob): void {
    const { request } = job;
    const target = this.choose(request.pool, job.tried);
    if (target === undefined) {
      job.current = this.options.local.dispatchHere(request, job.handler);
      job.here = queuedHere(job.current);
      if (job.here !== undefined) this.remember(job);
      return;
    }
    this.send(job, target);
  }

  private send(job: ForwardJob, target: PeerCandidate): void {
    job.here = undefined;
    job.tried.add(target.peerUrl);
    this.count(target.peerUrl, job.request.pool, 1);
    job.current = new PeerAttempt(job, target, this.sessions.get(target.peerUrl));
  }

  /*
   * A request queued here waits for one of this replica's streams, even when another replica
   * frees one first. On every registry snapshot (each 500 ms) the queued requests, oldest
   * first, go to a peer the snapshot shows with a free stream, by the same choice as a new
   * request. Only a request still in the queue moves: no agent has seen it and no body byte
   * was read, so it is sent as if it had just arrived (and if the peer does not take it, it
   * is placed again, at the back of a queue).
   */
  private moveQueued(): void {
    for (const job of this.queuedJobs) {
      if (job.here === undefined || !job.here.waiting) {
        this.queuedJobs.delete(job);
        continue;
      }
      const target = this.choose(job.request.pool, job.tried);
      if (target === undefined) continue;
      this.queuedJobs.delete(job);
      if (!job.here.withdraw()) continue;
      this.logger.info('queued request moved to a replica with a free stream', { pool: job.request.pool, requestId: job.request.id, replica: target.replicaId });
      this.send(job, target);
    }
  }

  private remember(job: ForwardJob): void {
    this.queuedJobs.add(job);
    if (this.queuedJobs.size < this.sweepAt) return;
    // Jobs leave the set at the next snapshot; without snapshots (Redis unreachable) this bounds it.
    for (const queued of this.queuedJobs) if (queued.here === undefined || !queued.here.waiting) this.queuedJobs.delete(queued);
    this.sweepAt = Math.max(64, this.queuedJobs.size * 2);
  }

  count(url: string, pool: string, delta: number): void {
    const key = `${url} ${pool}`;
    const value = (this.inflight.get(key) ?? 0) + delta;
    if (value <= 0) this.inflight.delete(key);
    else this.inflight.set(key, value);
  }

  refusedToken(url: string): void {
    this.sessions.markDown(url);
    if (this.tokenWarned.has(url)) return;
    this.tokenWarned.add(url);
    this.logger.error('a peer replica refused this replica\'s peer token: give every replica the same --peer-token', { peerUrl: url });
  }

  close(): void {
    this.sessions.close();
  }

  destroy(): void {
    this.sessions.destroy();
  }

  /**
   * A peer with a free stream (by the snapshot, less what this replica already sent it);
   * else undefined when this replica has connections (it queues here); else the least loaded
   * peer holding the pool (it queues there); else undefined (the store decides).
   */
  private choose(pool: string, tried: ReadonlySet<string>): PeerCandidate | undefined {
    const local = this.options.local.load(pool);
    if (local === 'idle') return undefined;
    let best: PeerCandidate | undefined;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (const candidate of this.options.registry.candidates(pool)) {
      if (tried.has(candidate.peerUrl) || this.sessions.isDown(candidate.peerUrl)) continue;
      // Ties are broken at random, so replicas reading the same snapshot do not all pick the same peer.
      const score = candidate.load.streamsIdle - (this.inflight.get(`${candidate.peerUrl} ${pool}`) ?? 0) + Math.random() / 2;
      if (score > bestScore) {
        best = candidate;
        bestScore = score;
      }
    }
    if (best === undefined) return undefined;
    return bestScore >= 1 || local === 'none' ? best : undefined;
  }
}
