import { InvalidOptionError } from '../errors.js';
import type { AccessLogRecord, Gateway } from './gateway.js';

/**
 * What the agent's policy decided, as far as the gateway can tell: `deny` when the agent
 * answered with its own 403 (`VCS_DENIED`), `allow` when an agent answered otherwise, `none`
 * when no agent saw the request (rejected or failed at the gateway).
 */
export type AccessDecision = 'allow' | 'deny' | 'none';

/** An access log record as kept in the ring and served by the admin API. */
export interface AccessLogEntry extends AccessLogRecord {
  decision: AccessDecision;
  /** The replica that served the request, in the shared log of a replicated gateway. */
  replica?: string;
}

export type AccessOutcome = AccessLogRecord['outcome'];

/** Which entries `AccessLog.query` returns (all given conditions must hold). */
export interface AccessLogFilter {
  pool?: string;
  /** An exact status (`404`, `0` for none) or a class (`4` for 4xx). */
  status?: { exact: number } | { class: number };
  decision?: AccessDecision;
  outcome?: AccessOutcome;
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
  /** At most this many entries (newest first). */
  limit?: number;
}

/** Where JSON lines go: a `Writable` (file or stdout) or anything with `write(string)`. */
export interface AccessLogSink {
  write(line: string): unknown;
}

export interface AccessLogOptions {
  /** How many records the in-memory ring keeps (default 1 000, at most 1 000 000). */
  capacity?: number;
  /** Receives every record as one JSON line. */
  sink?: AccessLogSink;
}

const DEFAULT_CAPACITY = 1_000;
const MAX_CAPACITY = 1_000_000;
export const DECISIONS: readonly AccessDecision[] = ['allow', 'deny', 'none'];
export const OUTCOMES: readonly AccessOutcome[] = ['completed', 'failed', 'aborted', 'rejected'];

/** Derives the policy decision from what the gateway saw (see `AccessDecision`). */
export function decisionOf(record: AccessLogRecord): AccessDecision {
  if (record.errorCode === 'VCS_DENIED') return 'deny';
  if (record.connectionId === undefined || record.status === 0) return 'none';
  // The gateway records the agent's `vcs-agent-error` code (VCS_DENIED above); a record
  // without one (written by an older gateway) still counts a 403 through an agent as a denial.
  return record.status === 403 ? 'deny' : 'allow';
}

/**
 * The gateway's access log: a bounded ring of the latest records for the admin API (oldest
 * dropped first), and optionally every record as a JSON line to a sink. Records never hold a
 * body or a secret: the gateway redacts token query values from paths before emitting them.
 */
export class AccessLog {
  readonly capacity: number;
  /*
   * Entries are kept as their JSON lines, not as objects: every entry outlives two
   * scavenges and is promoted, and one flat string costs the young-generation collector a
   * fraction of an object with its half-dozen strings (a 1000-entry ring of objects was
   * ~9 µs of GC per request in the gateway's profile, docs/performance.md). The admin API's
   * queries parse what they scan.
   */
  private readonly ring: (string | undefined)[];
  private next = 0;
  private count = 0;
  private readonly sink: AccessLogSink | undefined;

  constructor(options: AccessLogOptions = {}) {
    const capacity = options.capacity ?? DEFAULT_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY) {
      throw new InvalidOptionError('capacity', `Invalid access log capacity: expected a whole number from 1 to ${MAX_CAPACITY}`);
    }
    this.capacity = capacity;
    this.ring = new Array<string | undefined>(capacity);
    this.sink = options.sink;
  }

  /** Records every request of `gateway` from now on; returns a function that stops it. */
  attach(gateway: Gateway): () => void {
    const listener = (record: AccessLogRecord): void => {
      this.add(record);
    };
    gateway.on('access', listener);
    return () => gateway.off('access', listener);
  }

  /** Adds one record (the ring drops its oldest when full) and writes it to the sink. */
  add(record: AccessLogRecord): void {
    // The decision spliced onto the record's own JSON: no copy of the record per request.
    const line = `${JSON.stringify(record).slice(0, -1)},"decision":"${decisionOf(record)}"}`;
    this.ring[this.next] = line;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
    this.sink?.write(`${line}\n`);
  }

  /** How many records the ring holds now. */
  get size(): number {
    return this.count;
  }

  /** The records matching `filter`, newest first. */
  query(filter: AccessLogFilter = {}): AccessLogEntry[] {
    const out: AccessLogEntry[] = [];
    const limit = filter.limit ?? this.capacity;
    for (let i = 1; i <= this.count && out.length < limit; i++) {
      const entry = JSON.parse(this.ring[(this.next - i + this.capacity) % this.capacity] as string) as AccessLogEntry;
      if (matchesAccessLogFilter(entry, filter)) out.push(entry);
    }
    return out;
  }
}

/** Whether an entry passes `filter` (its `limit` aside). */
export function matchesAccessLogFilter(entry: AccessLogEntry, filter: AccessLogFilter): boolean {
  if (filter.pool !== undefined && entry.pool !== filter.pool) return false;
  if (filter.decision !== undefined && entry.decision !== filter.decision) return false;
  if (filter.outcome !== undefined && entry.outcome !== filter.outcome) return false;
  if (filter.status !== undefined) {
    if ('exact' in filter.status ? entry.status !== filter.status.exact : Math.floor(entry.status / 100) !== filter.status.class) return false;
  }
  if (filter.since !== undefined || filter.until !== undefined) {
    const time = Date.parse(entry.time);
    if (filter.since !== undefined && time < filter.since) return false;
    if (filter.until !== undefined && time >= filter.until) return false;
  }
  return true;
}
