import { status as GrpcStatus, type ServerDuplexStream } from '@grpc/grpc-js';
import type { Readable } from 'node:stream';
import { BodyIdleTimeoutError, BodyTooLargeError, HeaderNotRepresentableError, ProtocolError, RequestAbortedError, TunnelStreamError, type VcsAgentError } from '../../errors.js';
import { rawHeadersToMap } from '../../protocol/spacelift/header-map.js';
import type { SpaceliftRequest, SpaceliftResponse } from '../../protocol/spacelift/privatevcs-schema.js';
import type { ExchangeHandler, ExchangeRequest } from '../exchange.js';
import type { ExchangeResult } from '../gateway-stream.js';
import type { TunnelStream } from '../tunnel-connection.js';
import { errorAnswer, httpAnswer, type AgentAnswer } from './agent-answer.js';
import { encodedRequestSize } from './request-size.js';
import { listenToBody } from '../../util/request-body.js';

/** The gRPC call as the gateway sees it: it receives Responses and sends Requests. */
export type ConnectCall = ServerDuplexStream<SpaceliftResponse, SpaceliftRequest>;

/** What a call tells its connection about its life (the GatewayStreamOwner of this protocol). */
export interface SpaceliftCallOwner {
  onStreamIdle(call: SpaceliftCall): void;
  onStreamClosed(call: SpaceliftCall): void;
  onExchangeDone(call: SpaceliftCall, result: ExchangeResult): void;
  /** A call went silent or broke the protocol: for the log. */
  onCallFailed(call: SpaceliftCall, reason: string): void;
}

interface Exchange {
  readonly request: ExchangeRequest;
  readonly handler: ExchangeHandler;
  /** `reading`: the caller's body is being collected; `sent`: the Request is with the agent. */
  phase: 'reading' | 'sent';
  bytesOut: number;
}

/**
 * One `Connect` call of a Spacelift agent: a tunnel stream that carries one exchange at a
 * time, as the Go agent loops Recv → handle → Send. A request goes out whole in one
 * Request message (its body read to the end first, bounded by the message limit) and its
 * answer comes back whole in one Response with the same id.
 *
 * The protocol has no cancel: a caller that gives up is answered at once, but the call
 * stays busy (never offered) until the agent's late Response arrives and is dropped.
 */
export class SpaceliftCall implements TunnelStream {
  private exchange: Exchange | undefined;
  /** The id of a request whose caller gave up; its Response is still due. */
  private orphan: string | undefined;
  private body: Readable | undefined;
  /** Stops listening to `body` (listenToBody). */
  private stopBody: (() => void) | undefined;
  private chunks: Buffer[] = [];
  private bodyTimer: NodeJS.Timeout | undefined;
  private pingId: string | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private pings = 0;
  private closed = false;
  /** Set by the connection when it drains: end the call instead of going idle. */
  retire = false;

  constructor(
    readonly call: ConnectCall,
    private readonly owner: SpaceliftCallOwner,
    private readonly maxMessageBytes: number,
    private readonly onBodyChunk?: ((bytes: number) => void) | undefined,
  ) {
    call.on('data', (message: SpaceliftResponse) => this.onMessage(message));
    // The agent half-closed (CloseSend): it takes no more requests; end our side too.
    call.on('end', () => this.end());
    call.on('error', () => this.onGone());
    call.on('cancelled', () => this.onGone());
    call.on('close', () => this.onGone());
  }

  /** Busy with an exchange, or waiting for the Response of an abandoned one. */
  get busy(): boolean {
    return this.exchange !== undefined || this.orphan !== undefined;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  assign(request: ExchangeRequest, handler: ExchangeHandler): void {
    this.exchange = { request, handler, phase: 'reading', bytesOut: 0 };
    const body = request.body;
    if (body === null) return this.send(Buffer.alloc(0));
    if (Buffer.isBuffer(body)) {
      this.onBodyChunk?.(body.length);
      return this.send(body);
    }
    if (body.destroyed || body.readableEnded) return this.fail(new RequestAbortedError('The request body stream was already destroyed or consumed'));
    this.body = body;
    this.chunks = [];
    this.stopBody = listenToBody(body, { onData: this.onBodyData, onEnd: this.onBodyEnd, onError: this.onBodyError });
    const idleMs = request.bodyIdleTimeoutMs ?? 0;
    if (idleMs > 0) {
      this.bodyTimer = setTimeout(() => this.fail(new BodyIdleTimeoutError(idleMs)), idleMs);
      this.bodyTimer.unref();
    }
  }

  abort(request: ExchangeRequest, error: VcsAgentError = new RequestAbortedError()): void {
    const exchange = this.exchange;
    if (exchange?.request !== request) return;
    // Sent: nothing can call it back, so its Response is awaited (and dropped) before the call serves again.
    if (exchange.phase === 'sent') this.orphan = request.id;
    this.fail(error);
  }

  /** The whole body is handed over at once: there is nothing to resume. */
  resume(): void {}

  /** Ends the call with status OK (the agent's Recv sees EOF and it opens a new call later). */
  close(): void {
    this.end();
  }

  /** Ends the call with UNAVAILABLE at once (the grace period of an eviction is over). */
  destroy(details: string): void {
    if (this.closed) return;
    this.call.emit('error', Object.assign(new Error(details), { code: GrpcStatus.UNAVAILABLE, details }));
    this.onGone();
  }

  /** Sends a PingRequest on an idle call; no PingResponse within `timeoutMs` and the call is closed. */
  ping(timeoutMs: number): void {
    if (this.closed || this.busy || this.pingId !== undefined) return;
    this.pingId = `ping-${++this.pings}`;
    this.pingTimer = setTimeout(() => {
      this.owner.onCallFailed(this, `no PingResponse within ${timeoutMs} ms`);
      this.destroy('The agent did not answer the keepalive ping');
    }, timeoutMs);
    this.pingTimer.unref();
    this.call.write({ id: this.pingId, pingRequest: {} });
  }

  private readonly onBodyData = (chunk: Buffer | string): void => {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const exchange = this.exchange as Exchange;
    exchange.bytesOut += buffer.length;
    this.onBodyChunk?.(buffer.length);
    this.bodyTimer?.refresh();
    // Stop collecting past the limit: the rest is never held (the front door discards it).
    if (exchange.bytesOut > this.maxMessageBytes) return this.fail(new BodyTooLargeError(this.maxMessageBytes));
    this.chunks.push(buffer);
  };

  private readonly onBodyEnd = (): void => {
    const body = Buffer.concat(this.chunks);
    this.detachBody();
    this.send(body);
  };

  private readonly onBodyError = (error: Error): void => {
    this.fail(new RequestAbortedError('The request body failed before it was complete', { cause: error }));
  };

  private detachBody(): void {
    if (this.bodyTimer !== undefined) clearTimeout(this.bodyTimer);
    this.bodyTimer = undefined;
    this.chunks = [];
    if (this.body === undefined) return;
    this.body = undefined;
    this.stopBody?.();
    this.stopBody = undefined;
  }

  private send(body: Buffer): void {
    const exchange = this.exchange as Exchange;
    const { request } = exchange;
    exchange.bytesOut = body.length;
    const { map, unjoinable } = rawHeadersToMap(request.rawHeaders);
    if (unjoinable.length > 0) return this.fail(new HeaderNotRepresentableError(unjoinable));
    const message: SpaceliftRequest = { id: request.id, httpRequest: { path: request.path, method: request.method, headers: map, body } };
    if (encodedRequestSize(message) > this.maxMessageBytes) return this.fail(new BodyTooLargeError(this.maxMessageBytes));
    if (this.closed) return this.fail(new TunnelStreamError('The Spacelift agent call ended before the request was sent'));
    exchange.phase = 'sent';
    this.call.write(message);
  }

  private onMessage(message: SpaceliftResponse): void {
    if (this.closed) return;
    if (message.content === 'pingResponse' && message.id === this.pingId) {
      clearTimeout(this.pingTimer);
      this.pingId = undefined;
      return;
    }
    if (message.id === this.orphan && message.content !== 'pingResponse') {
      this.orphan = undefined;
      return this.idle();
    }
    const exchange = this.exchange;
    if (exchange === undefined || exchange.phase !== 'sent' || message.id !== exchange.request.id || message.content === 'pingResponse') {
      this.owner.onCallFailed(this, 'a Response that answers no pending Request');
      this.failExchange(new ProtocolError('The Spacelift agent sent a Response that answers no pending Request'));
      return this.destroy('Unexpected Response');
    }
    let answer: AgentAnswer;
    try {
      if (message.content === 'httpResponse' && message.httpResponse !== undefined && message.httpResponse !== null) answer = httpAnswer(message.httpResponse, exchange.request.method);
      else if (message.content === 'error') answer = errorAnswer(message.error ?? '');
      else throw new ProtocolError('The Spacelift agent sent a Response without content');
    } catch (error) {
      this.failExchange(error as VcsAgentError);
      return this.idle();
    }
    this.exchange = undefined;
    const { handler } = exchange;
    handler.onHeaders(answer.status, answer.rawHeaders);
    if (answer.body.length > 0) {
      this.onBodyChunk?.(answer.body.length);
      handler.onData(answer.body);
    }
    handler.onComplete();
    this.owner.onExchangeDone(this, { status: answer.status, bytesIn: answer.body.length, bytesOut: exchange.bytesOut });
    this.idle();
  }

  private idle(): void {
    if (this.closed || this.busy) return;
    if (this.retire) this.end();
    else this.owner.onStreamIdle(this);
  }

  /** Ends the current exchange with `error` and frees the call (unless a Response is still due). */
  private fail(error: VcsAgentError): void {
    this.failExchange(error);
    this.idle();
  }

  private failExchange(error: VcsAgentError): void {
    const exchange = this.exchange;
    if (exchange === undefined) return;
    this.detachBody();
    this.exchange = undefined;
    // Settled before the handler hears of it, as on our streams: the access record names the connection.
    this.owner.onExchangeDone(this, { status: 0, bytesIn: 0, bytesOut: exchange.phase === 'sent' ? exchange.bytesOut : 0, error });
    exchange.handler.onError(error);
  }

  private end(): void {
    if (this.closed) return;
    try {
      this.call.end();
    } catch {
      // Already ended by the peer's cancel: onGone follows.
    }
    this.onGone();
  }

  private onGone(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.pingTimer);
    this.failExchange(
      new TunnelStreamError(`The Spacelift agent's call ended before its response arrived (the agent went away, or its response exceeded the ${this.maxMessageBytes}-byte message limit)`),
    );
    this.orphan = undefined;
    this.owner.onStreamClosed(this);
  }
}
