import { Writable } from 'node:stream';

/** Flush at once past this many pending bytes, so a burst never piles up in memory. */
const MAX_PENDING_BYTES = 256 * 1024;

/**
 * Collects log lines and hands them to the real stream once per event-loop turn, as one
 * write. stdout is synchronous on Linux (files, pipes and TTYs alike), so one `write()`
 * per request line costs a syscall each; batching makes it one per turn under load and
 * changes nothing when idle. Lines are flushed synchronously on process exit.
 */
export class BatchedLineStream extends Writable {
  private pending: string[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  private readonly flushOnExit = (): void => this.flush();

  constructor(private readonly target: NodeJS.WritableStream) {
    super({ decodeStrings: false, highWaterMark: MAX_PENDING_BYTES });
    process.once('exit', this.flushOnExit);
  }

  override _write(chunk: string | Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    this.pending.push(text);
    this.pendingBytes += text.length;
    if (this.pendingBytes >= MAX_PENDING_BYTES) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.flush();
    process.off('exit', this.flushOnExit);
    callback();
  }

  /** Writes everything pending as one chunk. */
  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending.length === 1 ? (this.pending[0] as string) : this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    this.target.write(text);
  }
}
