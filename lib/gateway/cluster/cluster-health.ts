import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';

/** What a cluster component reports its state into (the Redis clients, the live registry, …). */
export interface HealthReporter {
  /** `ok: false` with a short reason (`redis unreachable`); the time it started is added. */
  report(component: string, ok: boolean, reason?: string): void;
}

/** One component's state as {@link ClusterHealth} keeps it. */
export interface ComponentHealth {
  component: string;
  ok: boolean;
  /** ISO-8601 time of the last change between ok and not ok. */
  since: string;
  /** Why it is not ok, with the time it started: `redis unreachable since 2026-…Z`. */
  reason?: string;
}

interface StoredHealth extends ComponentHealth {
  /** The reason as reported, without the time. */
  bare?: string;
}

function publicState({ bare: _bare, ...state }: StoredHealth): ComponentHealth {
  return state;
}

interface HealthEvents {
  change: [ComponentHealth];
}

/**
 * A replica's readiness as far as its shared parts go: each component reports in, and the
 * replica is ready while every component that reported is ok. `/readyz` shows the reasons.
 */
export class ClusterHealth extends EventEmitter<HealthEvents> implements HealthReporter {
  private readonly components = new Map<string, StoredHealth>();

  constructor(private readonly now: () => number = Date.now) {
    super();
  }

  report(component: string, ok: boolean, reason?: string): void {
    const previous = this.components.get(component);
    const bare = ok ? undefined : (reason ?? `${component} failing`);
    // A repeated report keeps the time the outage started: that is what the reason tells.
    if (previous !== undefined && previous.ok === ok && previous.bare === bare) return;
    const since = previous !== undefined && previous.ok === ok ? previous.since : new Date(this.now()).toISOString();
    const state: StoredHealth = ok ? { component, ok, since } : { component, ok, since, bare, reason: `${bare} since ${since}` };
    this.components.set(component, state);
    this.emit('change', publicState(state));
  }

  /** Whether every component that reported is ok. */
  get ready(): boolean {
    for (const state of this.components.values()) if (!state.ok) return false;
    return true;
  }

  /** The reasons of the components that are not ok, joined (`undefined` when ready). */
  get reason(): string | undefined {
    // Both Redis connections usually fail together with the same reason: say it once, from the earliest.
    const earliest = new Map<string, string>();
    for (const state of this.components.values()) {
      if (state.ok || state.bare === undefined) continue;
      const known = earliest.get(state.bare);
      if (known === undefined || state.since < known) earliest.set(state.bare, state.since);
    }
    return earliest.size === 0 ? undefined : [...earliest].map(([bare, since]) => `${bare} since ${since}`).join('; ');
  }

  /** Every component's state. */
  snapshot(): ComponentHealth[] {
    return [...this.components.values()].map(publicState);
  }
}

/**
 * Reports an ioredis client into `health`: not ok (`redis unreachable`) from the start and
 * whenever the connection is lost, ok once it is ready. Returns a function that stops it.
 */
export function watchRedis(client: Redis, health: HealthReporter, component: string): () => void {
  const down = (): void => health.report(component, false, 'redis unreachable');
  const up = (): void => health.report(component, true);
  if (client.status === 'ready') up();
  else down();
  client.on('ready', up);
  client.on('close', down);
  client.on('end', down);
  return () => {
    client.off('ready', up);
    client.off('close', down);
    client.off('end', down);
  };
}
