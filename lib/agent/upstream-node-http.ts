import { request as httpRequest, type Agent as HttpAgent, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { silenceMessage, type UpstreamClient, type UpstreamHandler, type UpstreamRequest, type UpstreamRequestHead } from './upstream-request.js';
import { RELAY_BUFFER_BYTES } from '../protocol/http2-settings.js';

/**
 * The VCS client on `node:http` / `node:https` through a caller's `http.Agent` (the
 * `upstreamAgent` option, the CLI's proxy agents). Kept for compatibility; the default is
 * upstream-undici.ts.
 */
export function nodeHttpUpstream(agent: HttpAgent, timeoutMs: number): UpstreamClient {
  return {
    request: (head, handler) => new NodeHttpRequest(agent, timeoutMs, head, handler),
    // The agent is the caller's: it may serve others, so closing it is theirs to do.
    destroy: () => {},
  };
}

/** A module-level callback, so the per-turn uncork needs no closure per request. */
function uncorkRequest(request: NodeHttpRequest): void {
  request.uncork();
}

class NodeHttpRequest implements UpstreamRequest {
  private readonly request: ClientRequest;
  private response: IncomingMessage | undefined;
  private corked: Socket | undefined;
  /** No more callbacks (released, aborted, failed or ended). */
  private detached = false;

  constructor(
    agent: HttpAgent,
    private readonly timeoutMs: number,
    head: UpstreamRequestHead,
    private readonly handler: UpstreamHandler,
  ) {
    const { origin } = head;
    const request = (origin.protocol === 'https:' ? httpsRequest : httpRequest)({
      protocol: origin.protocol,
      hostname: origin.hostname,
      port: origin.port,
      method: head.method,
      path: head.path,
      headers: head.headers as string[],
      agent,
      timeout: timeoutMs,
    });
    // A body longer or shorter than its Content-Length must fail, not spill into the next
    // request on the keep-alive connection (Node throws ERR_HTTP_CONTENT_LENGTH_MISMATCH).
    (request as ClientRequest & { strictContentLength: boolean }).strictContentLength = true;
    this.request = request;
    request.on('response', (response) => this.onResponse(response));
    request.on('timeout', () => request.destroy(new Error(silenceMessage(timeoutMs))));
    request.on('error', (error) => this.fail(error));
    request.on('drain', () => {
      if (!this.detached) handler.onDrain();
    });
    if (head.body !== 'stream') request.end(head.body ?? undefined);
  }

  write(chunk: Buffer): boolean {
    const request = this.request;
    if (request.destroyed) return true;
    // The upload arrives as 16 KiB DATA frames, one 'data' event each, and node:http writes
    // each chunk (with its chunked framing) in its own socket write: corked until the end of
    // the turn, the turn's chunks leave as one writev, as with the undici client
    // (upstream-corking.ts). The socket is corked, not the request: since Node 22 a corked
    // OutgoingMessage buffers chunks itself, and end() while corked wrote the chunked
    // terminator ahead of them (front-door.ts). Before the socket is assigned, node:http
    // buffers the chunks itself and sends them together.
    const socket = request.socket;
    if (this.corked === undefined && socket !== null) {
      this.corked = socket;
      socket.cork();
      setImmediate(uncorkRequest, this);
    }
    return request.write(chunk) || request.writableLength < RELAY_BUFFER_BYTES;
  }

  /** Sends what was written since write() corked the socket (from setImmediate). */
  uncork(): void {
    const socket = this.corked;
    this.corked = undefined;
    socket?.uncork();
  }

  end(): void {
    if (!this.request.destroyed) this.request.end();
  }

  resume(): void {
    if (this.detached) return;
    this.request.setTimeout(this.timeoutMs);
    this.response?.resume();
  }

  release(): void {
    this.detached = true;
    this.response?.resume();
  }

  abort(): void {
    this.detached = true;
    this.request.destroy();
    this.response?.destroy();
  }

  private onResponse(response: IncomingMessage): void {
    this.response = response;
    if (this.detached) {
      response.resume();
      return;
    }
    const handler = this.handler;
    handler.onResponse(response.statusCode ?? 502, response.rawHeaders);
    if (this.detached) {
      response.resume();
      return;
    }
    response.on('data', (chunk: Buffer) => {
      if (this.detached || handler.onData(chunk)) return;
      // Waiting for a slow caller is not the VCS being silent: the idle timeout is
      // suspended while the response is held back.
      response.pause();
      this.request.setTimeout(0);
    });
    response.on('end', () => {
      if (this.detached) return;
      this.detached = true;
      handler.onEnd();
    });
    response.on('aborted', () => this.fail(new Error('The VCS closed the connection mid-response')));
    response.on('error', (error) => this.fail(error));
  }

  private fail(error: Error): void {
    if (this.detached) return;
    this.detached = true;
    this.request.destroy();
    this.handler.onError(error);
  }
}
