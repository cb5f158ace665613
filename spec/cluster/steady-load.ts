/*
 * Steady load through the front doors of a set of replicas that changes while it runs (a
 * replica is taken out of the rotation when it is killed and put back once ready again),
 * recording every request's outcome for the specs to account for.
 */
import { call, type CallResult } from './cluster-vcs.js';
import type { Replica } from './pool-replicas.js';

export interface LoadResult extends CallResult {
  replica: string;
  pool: string;
  /** performance.now() when it was sent and when its outcome was known. */
  startedAt: number;
  endedAt: number;
}

export class SteadyLoad {
  readonly results: LoadResult[] = [];
  /** The replicas whose front doors take traffic now (what a load balancer would send to). */
  rotation: Replica[];
  private running = false;
  private loops: Array<Promise<void>> = [];
  private next = 0;

  constructor(
    rotation: readonly Replica[],
    private readonly pools: readonly string[],
    private readonly path: string,
  ) {
    this.rotation = [...rotation];
  }

  start(concurrency: number): void {
    this.running = true;
    for (let i = 0; i < concurrency; i++) this.loops.push(this.loop());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const n = this.next++;
      const replica = this.rotation[n % this.rotation.length] as Replica;
      const pool = this.pools[Math.floor(n / this.rotation.length) % this.pools.length] as string;
      const startedAt = performance.now();
      const result = await call(replica, `/${pool}${this.path}`, { timeoutMs: 15_000 });
      this.results.push({ ...result, replica: replica.id, pool, startedAt, endedAt: performance.now() });
    }
  }
}

/** One kill -9: of which replica, when the signal was sent and when the process was seen gone. */
export interface Kill {
  victim: string;
  sentAt: number;
  goneAt: number;
}

/**
 * Sorts the results around kills: what may fail is a request in flight on a killed replica,
 * at its own front door (the connection broke) or forwarded to it (502 with a code naming it).
 */
export function accountFor(results: readonly LoadResult[], kills: readonly Kill[]): { ok: number; failedOnVictim: number; forwardedToVictim: number; unexplained: LoadResult[] } {
  let ok = 0;
  let failedOnVictim = 0;
  let forwardedToVictim = 0;
  const unexplained: LoadResult[] = [];
  const coded = (result: LoadResult, kill: Kill): boolean =>
    result.status === 502 && (result.code === 'VCS_PEER_FAILED' || result.code === 'VCS_STREAM_RESET') && (result.message ?? '').includes(kill.victim) && result.startedAt <= kill.goneAt && result.endedAt >= kill.sentAt;
  for (const result of results) {
    if (result.status === 200) ok++;
    else if (kills.some((kill) => result.replica === kill.victim && result.startedAt <= kill.goneAt && result.endedAt >= kill.sentAt)) failedOnVictim++;
    else if (kills.some((kill) => coded(result, kill))) forwardedToVictim++;
    else unexplained.push(result);
  }
  return { ok, failedOnVictim, forwardedToVictim, unexplained };
}
