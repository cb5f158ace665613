import type { Socket } from 'node:net';
import { buildConnector } from 'undici';
import { RELAY_BUFFER_BYTES } from '../protocol/http2-settings.js';

interface StreamMarks {
  highWaterMark: undefined;
  readableHighWaterMark: number;
  writableHighWaterMark: number;
}

/*
 * undici's own `highWaterMark` (64 KiB) would set both sides; cleared, each side gets its own.
 * Reading stays at 64 KiB: a socket paused with a 1 MiB readable buffer kept up to 1 MiB of a
 * download per connection, and handed it over joined into one copy (peak RSS streaming 1 GiB
 * rose by 7 MiB in the agent).
 */
const SOCKET_MARKS: StreamMarks = { highWaterMark: undefined, readableHighWaterMark: 64 * 1024, writableHighWaterMark: RELAY_BUFFER_BYTES };

/**
 * The default VCS client's connector, keeping the sockets it opens, and a per-turn cork on
 * them: `corkTurn()` corks every live socket until the end of the event-loop turn.
 *
 * Why: nghttp2 hands the agent an upload as 16 KiB DATA frames, each its own 'data' event,
 * and undici writes each body chunk with its own socket write: 64 writes per MiB to the VCS
 * where a plain relay makes 16, and each loopback write cost ~15 µs of the agent's CPU, plus
 * the VCS's read of each (docs/performance.md, run 12: `writeBuffer` was 967 of the agent's
 * 1 184 µs of JavaScript per uploaded MiB). Corked for the turn, the chunks that arrived in it
 * leave as one writev when the turn's I/O is done, without a copy. undici does not say which
 * socket a request is on, so every socket of the pool is corked: one that writes nothing in
 * the turn is uncorked with nothing to send.
 */
export class CorkingConnector {
  private readonly sockets = new Set<Socket>();
  private corked: Socket[] | undefined;
  readonly connect: buildConnector.connector;

  constructor(options: buildConnector.BuildOptions) {
    /*
     * undici opens its sockets with a 64 KiB highWaterMark (lib/core/connect.js passes these
     * options on to net.connect; its types leave the stream options out). A socket corked for
     * the turn reported itself full after four 16 KiB chunks, undici paused the body, and the
     * rest of the turn's chunks waited for 'drain'. With a writable mark of RELAY_BUFFER_BYTES,
     * the bound every relay buffer here keeps, a turn's chunks fit. An upload of 128 MiB went to the VCS in
     * 194 writes instead of 9 902 (docs/performance.md § Run 21).
     */
    const withBuffer: buildConnector.BuildOptions & StreamMarks = { ...options, ...SOCKET_MARKS };
    const base = buildConnector(withBuffer);
    this.connect = (connectOptions, callback) =>
      base(connectOptions, (error, socket) => {
        if (socket !== null && error === null) {
          const tracked = socket as Socket;
          this.sockets.add(tracked);
          tracked.once('close', () => this.sockets.delete(tracked));
        }
        (callback as (error: Error | null, socket: Socket | null) => void)(error, socket as Socket | null);
      });
  }

  /** Corks every socket until setImmediate (once per turn). */
  corkTurn(): void {
    if (this.corked !== undefined) return;
    const corked = [...this.sockets];
    this.corked = corked;
    for (const socket of corked) socket.cork();
    setImmediate(this.uncork);
  }

  /**
   * Corks every socket until the current tick's queued callbacks have run: call it right after
   * resuming a request body, whose buffered chunks then flow in one nextTick and leave as one
   * writev (see RequestBody.resume).
   */
  corkTick(): void {
    const corked = [...this.sockets];
    for (const socket of corked) socket.cork();
    process.nextTick(uncorkAll, corked);
  }

  private readonly uncork = (): void => {
    const corked = this.corked;
    this.corked = undefined;
    if (corked !== undefined) for (const socket of corked) socket.uncork();
  };
}

function uncorkAll(sockets: Socket[]): void {
  for (const socket of sockets) socket.uncork();
}
