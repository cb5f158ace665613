import Transport from 'winston-transport';

const MESSAGE = Symbol.for('message');

/** Flush at once past this many pending characters, so a burst never piles up in memory. */
const MAX_PENDING_CHARS = 256 * 1024;

/*
 * How long a line may wait for company before it is written. stdout is synchronous on
 * Linux (files, pipes and TTYs alike), so every write is a syscall in the middle of request
 * handling; flushing once per event-loop turn still wrote about once per request under load
 * (16 connections spread over many short turns: 13 µs per request in the agent's profile,
 * docs/performance.md). 10 ms batches a busy second's lines into about 100 writes, is
 * invisible to a person reading the log, and is what a SIGKILL can lose. A line that comes
 * after a quiet spell of that long is written in the same event-loop turn: sparse lines
 * (a connection, an eviction, a lone request) are never late, only bursts wait.
 */
const FLUSH_AFTER_MS = 10;

/**
 * The CLI's winston transport: collects formatted lines and hands them to the real stream
 * in batches (see FLUSH_AFTER_MS). Pending lines are flushed synchronously on process
 * exit, so `process.exit()` and crashes keep them.
 */
export class LineBatchTransport extends Transport {
  private pending: string[] = [];
  private pendingChars = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private lastWriteAt = 0;
  private readonly flushOnExit = (): void => this.flush();

  constructor(private readonly target: NodeJS.WritableStream) {
    super();
    process.once('exit', this.flushOnExit);
  }

  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    const line = info[MESSAGE] as string;
    this.pending.push(line);
    this.pendingChars += line.length + 1;
    if (this.pendingChars >= MAX_PENDING_CHARS) this.flush();
    else if (this.timer === undefined && this.immediate === undefined) {
      if (performance.now() - this.lastWriteAt >= FLUSH_AFTER_MS) {
        // After a quiet spell: written in this event-loop turn, but after the turn's I/O. The
        // agent logs a request as its response completes; a synchronous stdout write here
        // went out before the response's HTTP/2 frame (Node sends session data from its own
        // immediate queue), adding the write to every sparse request's latency.
        this.immediate = setImmediate(this.flush);
        this.immediate.unref();
      } else {
        this.timer = setTimeout(this.flush, FLUSH_AFTER_MS);
        // A pending line must not keep the process alive; exit flushes it.
        this.timer.unref();
      }
    }
    next();
  }

  /** Writes everything pending as one chunk. */
  readonly flush = (): void => {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    if (this.pending.length === 0) return;
    const text = `${this.pending.join('\n')}\n`;
    this.pending = [];
    this.pendingChars = 0;
    this.lastWriteAt = performance.now();
    this.target.write(text);
  };

  override close(): void {
    this.flush();
    process.off('exit', this.flushOnExit);
  }
}
