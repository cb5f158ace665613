/*
 * The seam between an AgentStream and the HTTP/1.1 client that talks to the VCS. The stream
 * only knows these three shapes; upstream-undici.ts (the default) and upstream-node-http.ts
 * (when the caller passes an `http.Agent`) are thin adapters behind them.
 */

/** One request to the VCS, as the agent sends it. */
export interface UpstreamRequestHead {
  /** Where to connect: only scheme, host and port are used. */
  readonly origin: URL;
  readonly method: string;
  /** Path and query, as sent on the request line. */
  readonly path: string;
  /** Raw header pairs `[name, value, …]`, `host` included. */
  readonly headers: readonly string[];
  /** `null`: no body; a Buffer: the whole body; `'stream'`: it follows through write() and end(). */
  readonly body: Buffer | null | 'stream';
}

/** What the client reports about one request; none is called after `onEnd` or `onError`. */
export interface UpstreamHandler {
  /** The final response head (1xx are skipped); raw pairs, repeated names kept in order. */
  onResponse(status: number, rawHeaders: string[]): void;
  /** A body chunk; `false` asks the client to stop reading the VCS until `resume()`. */
  onData(chunk: Buffer): boolean;
  onEnd(): void;
  /** The request failed, before or during the response. */
  onError(error: Error): void;
  /** The request body may take more after `write()` returned false. */
  onDrain(): void;
}

/** One request in flight. */
export interface UpstreamRequest {
  /** Sends a body chunk (`body: 'stream'`); `false`: wait for `onDrain` before the next. */
  write(chunk: Buffer): boolean;
  /** The streamed body is complete. */
  end(): void;
  /** Reads the VCS again after `onData` returned false; the idle timeout runs again. */
  resume(): void;
  /** No more callbacks; the rest of the response is read and dropped, so the connection may be reused. */
  release(): void;
  /** No more callbacks; the request and its connection are torn down. Idempotent. */
  abort(): void;
}

/** The HTTP client an agent sends its VCS requests with. */
export interface UpstreamClient {
  request(head: UpstreamRequestHead, handler: UpstreamHandler): UpstreamRequest;
  /** Closes the connections the client owns; a dispatcher or agent the caller passed is left alone. */
  destroy(): void;
}

/** The message of an idle timeout, the same whichever client runs it. */
export function silenceMessage(timeoutMs: number): string {
  return `No answer from the VCS within ${timeoutMs} ms`;
}
