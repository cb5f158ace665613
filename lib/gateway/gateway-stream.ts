import { constants as h2constants, type ServerHttp2Stream } from 'node:http2';
import type { Readable } from 'node:stream';
import { BodyIdleTimeoutError, ProtocolError, RequestAbortedError, TunnelStreamError, type VcsAgentError } from '../errors.js';
import { WAKE_BYTES, wakeWindows } from '../protocol/flow-window.js';
import { RELAY_BUFFER_BYTES } from '../protocol/http2-settings.js';
import { FrameParser, FrameType, decodeResponseHead, encodeRequestHead, endFrame, writeBodyFrame } from '../protocol/frame.js';
import type { ExchangeHandler, ExchangeRequest } from './exchange.js';
import { listenToBody } from '../util/request-body.js';

/** What a stream tells its owner about its life. */
export interface GatewayStreamOwner {
  /** The stream finished an exchange and can take the next one. */
  onStreamIdle(stream: GatewayStream): void;
  /** The stream is gone (reset by either side or its session closed). */
  onStreamClosed(stream: GatewayStream): void;
  /** An exchange ended (for access logs and counters). */
  onExchangeDone(stream: GatewayStream, request: ExchangeRequest, result: ExchangeResult): void;
}

export interface ExchangeResult {
  status: number;
  bytesIn: number;
  bytesOut: number;
  error?: VcsAgentError;
}

/**
 * The gateway's end of one long-lived agent stream. It writes a request as frames
 * (head, body, end) down the stream and parses the response frames coming up, honouring
 * HTTP/2 flow control both ways: the body source is paused while the stream's write
 * buffer is full, and the stream is paused while the handler's sink is full.
 */
export class GatewayStream {
  private readonly parser: FrameParser;
  private request: ExchangeRequest | undefined;
  private handler: ExchangeHandler | undefined;
  private requestDone = true;
  private responseStarted = false;
  private responseDone = true;
  private status = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  private body: Readable | undefined;
  /** Stops listening to `body` (listenToBody). */
  private stopBody: (() => void) | undefined;
  /** The body-idle bound of the current request (ExchangeRequest.bodyIdleTimeoutMs). */
  private bodyIdleTimer: NodeJS.Timeout | undefined;
  private lastBodyAt = 0;
  private bodyWaitsForDrain = false;
  private closed = false;
  /** The current request (if any) has reached the agent; see seenByAgent. */
  private seen = true;
  /** Who waits for that (draining only: no promise is made per request). */
  private seenWaiters: Array<() => void> | undefined;
  /** Set by the owner when the connection drains: close instead of going idle. */
  retire = false;

  constructor(
    readonly stream: ServerHttp2Stream,
    private readonly owner: GatewayStreamOwner,
    /** GatewayOptions.onBodyChunk. */
    private readonly onBodyChunk?: (bytes: number) => void,
  ) {
    this.parser = new FrameParser({
      onHead: (type, head) => this.onHead(type, head),
      onBody: (chunk) => this.onBody(chunk),
      onEnd: () => this.onEnd(),
    });
    stream.on('data', (chunk: Buffer) => {
      if (chunk.length >= WAKE_BYTES) wakeWindows(stream.session ?? undefined);
      try {
        this.parser.push(chunk);
      } catch (error) {
        this.fail(error as VcsAgentError, h2constants.NGHTTP2_PROTOCOL_ERROR);
      }
    });
    stream.on('error', () => {}); // surfaced through 'close' and rstCode
    stream.on('close', () => this.onClose());
  }

  get busy(): boolean {
    return this.request !== undefined;
  }

  /**
   * Settles once the agent has shown it holds the current request (its response head came
   * back) or the exchange is over: from then on the agent counts the stream as busy.
   */
  get seenByAgent(): Promise<void> {
    if (this.seen) return Promise.resolve();
    return new Promise<void>((resolve) => (this.seenWaiters ??= []).push(resolve));
  }

  private markSeen(): void {
    this.seen = true;
    const waiters = this.seenWaiters;
    this.seenWaiters = undefined;
    if (waiters !== undefined) for (const resolve of waiters) resolve();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Starts an exchange on this (idle) stream. */
  assign(request: ExchangeRequest, handler: ExchangeHandler): void {
    this.request = request;
    this.seen = false;
    this.handler = handler;
    this.status = 0;
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.responseStarted = false;
    this.responseDone = false;
    const body = request.body;
    const head = { id: request.id, method: request.method, path: request.path, headers: request.rawHeaders, body: body !== null };
    if (body === null) {
      this.requestDone = true;
      this.stream.write(encodeRequestHead(head));
      return;
    }
    this.requestDone = false;
    if (Buffer.isBuffer(body)) {
      this.bytesOut = body.length;
      // Head, whole body and end in one write: the caller handed us the body whole already.
      this.stream.write(encodeRequestHead(head, body));
      this.requestDone = true;
      return;
    }
    if (body.destroyed || body.readableEnded) {
      // Nothing will ever come out of it: fail now rather than wait for the VCS to time out.
      this.stream.write(encodeRequestHead(head));
      this.onBodyError(new Error('The request body stream was already destroyed or consumed'));
      return;
    }
    this.stream.write(encodeRequestHead(head));
    this.body = body;
    this.stopBody = listenToBody(body, { onData: this.onBodyData, onEnd: this.onBodyEnd, onError: this.onBodyError });
    const idleMs = request.bodyIdleTimeoutMs ?? 0;
    if (idleMs > 0) {
      this.lastBodyAt = performance.now();
      // Checked four times per bound: a silence is noticed within 1.25 × the bound, without
      // re-arming a timer on every chunk.
      this.bodyIdleTimer = setInterval(() => this.checkBodyIdle(request, idleMs), Math.max(5, Math.floor(idleMs / 4)));
      this.bodyIdleTimer.unref();
    }
  }

  /** Fails the exchange when its body sent nothing for `idleMs` while we were ready to read it. */
  private checkBodyIdle(request: ExchangeRequest, idleMs: number): void {
    if (this.request !== request || this.body === undefined) return this.stopBodyIdle();
    const now = performance.now();
    if (this.bodyWaitsForDrain) this.lastBodyAt = now; // our own backpressure, not the caller's silence
    else if (now - this.lastBodyAt >= idleMs) {
      this.detachBody();
      this.fail(new BodyIdleTimeoutError(idleMs), h2constants.NGHTTP2_CANCEL);
    }
  }

  private stopBodyIdle(): void {
    if (this.bodyIdleTimer === undefined) return;
    clearInterval(this.bodyIdleTimer);
    this.bodyIdleTimer = undefined;
  }

  /**
   * The caller gave up: reset the stream so the agent aborts its VCS request. Names the
   * request, because by the time a caller gives up the stream may serve another one.
   */
  abort(request: ExchangeRequest, error: VcsAgentError = new RequestAbortedError()): void {
    if (this.request !== request) return;
    this.fail(error, h2constants.NGHTTP2_CANCEL);
  }

  /** Resumes a stream paused because the request's handler had a full sink. */
  resume(request: ExchangeRequest): void {
    if (this.request === request && !this.closed) this.stream.resume();
  }

  /** Closes the stream (idle streams only, when draining). */
  // CANCEL, not NO_ERROR: Node only destroys a stream the peer reset with NO_ERROR once its
  // own writable side has ended, which a long-lived tunnel stream never does.
  close(code: number = h2constants.NGHTTP2_CANCEL): void {
    if (!this.closed) this.stream.close(code);
  }

  private readonly onBodyData = (chunk: Buffer | string): void => {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (buffer.length === 0) return;
    this.bytesOut += buffer.length;
    this.onBodyChunk?.(buffer.length);
    this.lastBodyAt = performance.now();
    // Pause the caller only past RELAY_BUFFER_BYTES queued on the stream, as every relay here does
    // (http2-settings.ts says why, and why 16 KiB no longer holds chunks too long).
    if (!writeBodyFrame(this.stream, buffer) && this.stream.writableLength >= RELAY_BUFFER_BYTES) {
      this.body?.pause();
      this.bodyWaitsForDrain = true;
      this.stream.once('drain', this.drainBody);
    }
  };

  private readonly drainBody = (): void => {
    this.bodyWaitsForDrain = false;
    this.lastBodyAt = performance.now();
    this.body?.resume();
  };

  private readonly onBodyEnd = (): void => {
    this.detachBody();
    this.requestDone = true;
    if (!this.closed) this.stream.write(endFrame());
    this.maybeIdle();
  };

  private readonly onBodyError = (error: Error): void => {
    this.detachBody();
    this.fail(new RequestAbortedError('The request body failed before it was complete', { cause: error }), h2constants.NGHTTP2_CANCEL);
  };

  private detachBody(): void {
    this.stopBodyIdle();
    this.bodyWaitsForDrain = false;
    if (this.body === undefined) return;
    this.body = undefined;
    this.stopBody?.();
    this.stopBody = undefined;
    this.stream.off('drain', this.drainBody);
  }

  private onHead(type: FrameType, raw: unknown): void {
    if (type !== FrameType.ResponseHead || this.handler === undefined || this.responseStarted) {
      throw new ProtocolError('Unexpected head frame from the agent');
    }
    const head = decodeResponseHead(raw);
    this.responseStarted = true;
    this.markSeen();
    this.status = head.status;
    this.handler.onHeaders(head.status, head.headers);
    if (!head.body) this.onEnd();
  }

  private onBody(chunk: Buffer): void {
    if (this.handler === undefined || !this.responseStarted || this.responseDone) {
      throw new ProtocolError('Body frame outside a response');
    }
    this.bytesIn += chunk.length;
    this.onBodyChunk?.(chunk.length);
    if (!this.handler.onData(chunk)) this.stream.pause();
  }

  private onEnd(): void {
    if (this.handler === undefined || !this.responseStarted || this.responseDone) {
      throw new ProtocolError('End frame outside a response');
    }
    this.responseDone = true;
    const handler = this.handler;
    handler.onComplete();
    if (!this.requestDone) {
      // The agent answered before the whole request body was sent (a denial, a VCS that
      // answered early): stop uploading and cancel the stream (RFC 9113 §8.1 lets the
      // request end early once the response is complete); the agent opens a fresh one.
      this.detachBody();
      this.requestDone = true;
      this.finish(undefined);
      this.close(h2constants.NGHTTP2_CANCEL);
      return;
    }
    this.maybeIdle();
  }

  private maybeIdle(): void {
    if (!this.requestDone || !this.responseDone || this.request === undefined) return;
    this.finish(undefined);
    if (this.retire) this.close();
    else if (!this.closed) this.owner.onStreamIdle(this);
  }

  private finish(error: VcsAgentError | undefined): void {
    const request = this.request;
    if (request === undefined) return;
    this.markSeen();
    this.request = undefined;
    this.handler = undefined;
    // The finished response may have left the stream paused (its sink was full when its
    // last bytes arrived); they are all delivered now, so the next exchange must flow.
    if (this.stream.isPaused()) this.stream.resume();
    this.owner.onExchangeDone(this, request, {
      status: this.status,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      ...(error === undefined ? {} : { error }),
    });
  }

  private fail(error: VcsAgentError, code: number): void {
    const handler = this.handler;
    this.detachBody();
    this.finish(error);
    this.close(code);
    handler?.onError(error);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.handler !== undefined && !this.responseDone) {
      const code = this.stream.rstCode;
      this.fail(new TunnelStreamError(`The agent stream closed before the response was complete (HTTP/2 code ${code ?? 'none'})`), h2constants.NGHTTP2_CANCEL);
    } else {
      this.detachBody();
      this.finish(undefined);
    }
    this.owner.onStreamClosed(this);
  }
}
