import { Readable } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { contentLength } from '../protocol/content-length.js';
import { silenceMessage, type UpstreamClient, type UpstreamHandler, type UpstreamRequest, type UpstreamRequestHead } from './upstream-request.js';
import { RELAY_BUFFER_BYTES } from '../protocol/http2-settings.js';

/** Corking of the VCS sockets (upstream-corking.ts), for the default client. */
export interface UpstreamCorking {
  turn(): void;
  tick(): void;
}

/**
 * The default VCS client: undici's `Dispatcher.dispatch()` (an `undici.Agent` unless the caller
 * passes `upstreamDispatcher`). The dispatcher's own `strictContentLength` (on by default)
 * fails a request body longer or shorter than its Content-Length instead of letting it
 * spill into the next request on the connection.
 */
export function undiciUpstream(dispatcher: Dispatcher, timeoutMs: number, owned: boolean, corking?: UpstreamCorking): UpstreamClient {
  return {
    request: (head, handler) => new UndiciRequest(dispatcher, timeoutMs, head, handler, corking),
    destroy: () => void (owned && dispatcher.destroy().catch(() => {})),
  };
}

/** A streamed request body: chunks are pushed as the gateway sends them, undici reads them. */
class RequestBody extends Readable {
  /** A push was refused: tell the handler when undici asks for more. */
  waiting = false;

  constructor(
    private readonly onDrain: () => void,
    private readonly corkTick?: () => void,
  ) {
    // Full at RELAY_BUFFER_BYTES, not a Readable's 16 KiB (http2-settings.ts says why).
    super({ highWaterMark: RELAY_BUFFER_BYTES });
  }

  /*
   * undici pauses the body when its socket write reports a full buffer and resumes it on the
   * socket's 'drain'. The chunks held meanwhile then flow in one nextTick, each written alone:
   * after a burst from the gateway, one write(2) per 16 KiB DATA frame. Corked over that tick
   * they leave as one writev, as soon as the flow is done.
   */
  override resume(): this {
    const held = this.isPaused() && this.readableLength > 0;
    super.resume();
    if (held) this.corkTick?.();
    return this;
  }

  override _read(): void {
    if (!this.waiting) return;
    this.waiting = false;
    this.onDrain();
  }
}

const TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

class UndiciRequest implements UpstreamRequest, Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private readonly body: RequestBody | undefined;
  /** Declared Content-Length of a streamed body, -1 without one, and the bytes written so far. */
  private readonly declared: number;
  private written = 0;
  /** No more callbacks (released, aborted, failed or ended). */
  private detached = false;
  /** abort() came before undici handed over the controller. */
  private abortPending = false;
  private aborted = false;
  private responding = false;
  private dispatching = true;
  /*
   * With a streamed body, until the response head: how long the VCS may stay silent, counted
   * from the last byte written (as node:http's socket timeout did). undici's headersTimeout
   * counts from the start of the request and does not fire while a body is being written, so
   * a long upload would leave the VCS a shortened, then an unbounded, wait. It serves requests
   * whose body is whole at once; after the head, undici's bodyTimeout does the job, and does
   * not run while the response is paused.
   */
  private timer: NodeJS.Timeout | undefined;

  constructor(
    dispatcher: Dispatcher,
    private readonly timeoutMs: number,
    head: UpstreamRequestHead,
    private readonly handler: UpstreamHandler,
    /** Corks the pool's sockets (CorkingConnector), so a turn's body chunks leave as one write. */
    private readonly corking?: UpstreamCorking,
  ) {
    let body: Buffer | RequestBody | null;
    if (head.body === 'stream') {
      body = this.body = new RequestBody(() => this.onDrain(), corking === undefined ? undefined : () => corking.tick());
      this.declared = contentLength(head.headers);
    } else {
      body = head.body;
      this.declared = -1;
    }
    // undici sends a whole body with its real length even for methods that take none (GET…):
    // a declared length must agree, or the request fails as node:http's strict mode made it.
    const declared = body instanceof Buffer ? contentLength(head.headers) : -1;
    if (declared >= 0 && declared !== (body as Buffer).length) {
      this.fail(new Error('The request body does not match its Content-Length'));
    } else {
      if (this.body !== undefined) this.timer = setTimeout(this.onSilence, timeoutMs).unref();
      const headersTimeout = this.body === undefined ? timeoutMs : 0;
      try {
        dispatcher.dispatch(
          { origin: head.origin.origin, path: head.path, method: head.method as Dispatcher.HttpMethod, headers: head.headers as string[], body, headersTimeout, bodyTimeout: timeoutMs },
          this,
        );
      } catch (error) {
        this.fail(error as Error);
      }
    }
    this.dispatching = false;
  }

  write(chunk: Buffer): boolean {
    const body = this.body;
    if (body === undefined || this.detached) return true;
    this.written += chunk.length;
    if (this.declared >= 0 && this.written > this.declared) {
      this.fail(new Error('The request body is longer than its Content-Length'));
      return true;
    }
    this.timer?.refresh();
    this.corking?.turn();
    if (body.push(chunk)) return true;
    body.waiting = true;
    return false;
  }

  end(): void {
    const body = this.body;
    if (body === undefined || this.detached) return;
    if (this.declared >= 0 && this.written !== this.declared) {
      this.fail(new Error('The request body is shorter than its Content-Length'));
      return;
    }
    this.timer?.refresh();
    body.push(null);
  }

  resume(): void {
    if (!this.detached) this.controller?.resume();
  }

  release(): void {
    this.detached = true;
    this.stopTimer();
    // Read the rest and drop it: the connection goes back to the pool for the next request.
    this.controller?.resume();
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.detached = true;
    this.stopTimer();
    this.body?.destroy();
    if (this.controller === undefined) this.abortPending = true;
    else if (!this.controller.aborted) this.controller.abort(new Error('The exchange was aborted'));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortPending) controller.abort(new Error('The exchange was aborted'));
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    // 1xx informational answers (103 Early Hints…) precede the real one: skip them.
    if (status < 200 || this.detached) return;
    this.stopTimer();
    this.responding = true;
    this.handler.onResponse(status, rawPairs(controller.rawHeaders, headers));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.detached) return;
    // Paused, undici reads nothing more from the VCS and its bodyTimeout does not run.
    if (!this.handler.onData(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    this.stopTimer();
    if (this.detached) return;
    this.detached = true;
    this.handler.onEnd();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.stopTimer();
    if (this.detached) return;
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && TIMEOUT_CODES.has(code)) error = new Error(silenceMessage(this.timeoutMs), { cause: error });
    else if (code === 'ECONNRESET' || (code === 'UND_ERR_SOCKET' && error.message === 'other side closed')) {
      error = new Error(this.responding ? 'The VCS closed the connection mid-response' : 'The VCS closed the connection before answering', { cause: error });
    }
    this.fail(error);
  }

  private onDrain(): void {
    if (this.detached) return;
    this.timer?.refresh();
    this.handler.onDrain();
  }

  private readonly onSilence = (): void => {
    this.timer = undefined;
    if (this.detached) return;
    const error = new Error(silenceMessage(this.timeoutMs));
    this.abort();
    this.handler.onError(error);
  };

  private stopTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private fail(error: Error): void {
    if (this.detached) return;
    this.abort();
    // An error raised inside dispatch() (a header undici refuses, a closed dispatcher) must not
    // reach the handler before the caller holds this request.
    if (this.dispatching) queueMicrotask(() => this.handler.onError(error));
    else this.handler.onError(error);
  }
}

/** undici's raw header list (Buffers, latin1 as on the wire) as string pairs; parsed headers when a dispatcher gave no list. */
function rawPairs(raw: Dispatcher.DispatchController['rawHeaders'], parsed: IncomingHttpHeaders): string[] {
  if (Array.isArray(raw)) {
    const pairs = new Array<string>(raw.length);
    for (let i = 0; i < raw.length; i++) {
      const item = raw[i] as Buffer | string;
      pairs[i] = typeof item === 'string' ? item : item.toString('latin1');
    }
    return pairs;
  }
  const pairs: string[] = [];
  for (const [name, value] of Object.entries(raw ?? parsed)) {
    if (Array.isArray(value)) for (const item of value) pairs.push(name, item);
    else if (value !== undefined) pairs.push(name, String(value));
  }
  return pairs;
}
