import type { ClientDuplexStream, StatusObject } from '@grpc/grpc-js';
import type { SpaceliftRequest, SpaceliftResponse } from '../../protocol/spacelift/privatevcs-schema.js';
import { AgentStream, type AgentStreamContext } from '../agent-stream.js';
import { SpaceliftExchange } from './spacelift-exchange.js';

/** How long a half-closed call waits for the gateway to end it before cancelling it. */
const HALF_CLOSE_GRACE_MS = 2_000;

/** What a call reports to its connection. */
export interface SpaceliftCallOwner {
  /** The gateway answered the call (headers or a first message): the credentials were taken. */
  onAccepted(call: SpaceliftCall): void;
  /** The call ended; `status` is gRPC's; `byUs` when this side cancelled it. */
  onEnded(call: SpaceliftCall, status: StatusObject, byUs: boolean): void;
  /** An answer was written out: a drain waiting on it may go on. */
  onFlushed(call: SpaceliftCall): void;
  /** Per-call stream context (records, exchange ends) with this call's stream callbacks added. */
  streamContext(call: SpaceliftCall): AgentStreamContext;
}

/**
 * One `Connect` call: Spacelift's equivalent of our tunnel stream. The gateway sends
 * Requests, one exchange at a time as the Go agent serves them; each HTTP request runs
 * through an `AgentStream` over a `SpaceliftExchange`, pings are answered at once.
 */
export class SpaceliftCall {
  accepted = false;
  ended = false;
  private exchange: SpaceliftExchange | undefined;
  private stream: AgentStream | undefined;
  /** End the call once its exchange is done (drain). */
  private endWhenIdle = false;
  /** Responses handed to grpc-js and not yet written to the HTTP/2 stream. */
  private unflushed = 0;
  /** Half-closed (drain): waiting for the gateway to end the call. */
  private halfClosedTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly call: ClientDuplexStream<SpaceliftResponse, SpaceliftRequest>,
    private readonly owner: SpaceliftCallOwner,
    private readonly maxMessageBytes: number,
  ) {
    call.on('metadata', () => this.accept());
    call.on('data', (request: SpaceliftRequest) => this.onRequest(request));
    // Every end, OK or not, arrives as 'status'; 'error' repeats it for non-OK codes.
    call.on('error', () => {});
    call.on('status', (status: StatusObject) => this.onStatus(status));
  }

  /** Serving a request, or its answer is not yet written, or a drain waits for the gateway to end the call. */
  get busy(): boolean {
    return this.serving || this.halfClosedTimer !== undefined;
  }

  private get serving(): boolean {
    return this.stream?.busy === true || this.exchange?.busy === true || this.unflushed > 0;
  }

  /** Marks the call accepted without a message (see SpaceliftProtocolOptions.acceptAfterMs). */
  accept(): void {
    if (this.accepted || this.ended) return;
    this.accepted = true;
    this.owner.onAccepted(this);
  }

  /** Drain: no new request after the current one; the call ends once idle. */
  endAfterExchange(): void {
    this.endWhenIdle = true;
    this.maybeEnd();
  }

  /*
   * Ending gracefully is a half-close once the last answer is written: a cancel would reset
   * the HTTP/2 stream, and nghttp2 drops DATA still queued for a reset stream (the answer
   * just sent). The gateway ends the call when it reads the half-close (the Go gateway's
   * Recv returns EOF); one that does not is cancelled after HALF_CLOSE_GRACE_MS.
   */
  private maybeEnd(): void {
    if (!this.endWhenIdle || this.serving || this.ended || this.halfClosedTimer !== undefined) return;
    this.halfClosedTimer = setTimeout(() => this.cancel(), HALF_CLOSE_GRACE_MS);
    this.halfClosedTimer.unref();
    this.call.end();
  }

  /** Ends the call now; an exchange in progress is aborted (its VCS request too). */
  cancel(): void {
    clearTimeout(this.halfClosedTimer);
    if (this.ended) return;
    this.ended = true;
    this.stream?.close();
    this.exchange?.destroy();
    this.call.cancel();
  }

  /** The AgentStream finished an exchange. */
  onExchangeDone(): void {
    this.maybeEnd();
  }

  /** The AgentStream's transport closed (a reset, a message too large): the next request gets a fresh one. */
  onStreamClosed(stream: AgentStream): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    this.exchange = undefined;
    this.onExchangeDone();
  }

  private onRequest(request: SpaceliftRequest): void {
    this.accept();
    if (this.ended) return;
    const id = typeof request.id === 'string' ? request.id : '';
    if (request.request === 'pingRequest' || (request.pingRequest !== undefined && request.pingRequest !== null && request.httpRequest == null)) {
      this.send({ id, pingResponse: {} });
      return;
    }
    const http = request.httpRequest;
    if (http === undefined || http === null) {
      this.send({ id, error: 'VCS_PROTOCOL_ERROR: The Request carries neither an HTTP request nor a ping' });
      return;
    }
    if (this.busy || this.endWhenIdle) {
      // The Go agent reads the next Request only after answering; a gateway that sends two
      // at once on one call is broken, and this one is refused rather than queued.
      this.send({ id, error: 'VCS_PROTOCOL_ERROR: A request arrived on a Connect call that is still serving one' });
      return;
    }
    if (this.exchange === undefined || this.exchange.destroyed) {
      const exchange = new SpaceliftExchange(this.maxMessageBytes, (response) => this.send(response));
      this.exchange = exchange;
      this.stream = new AgentStream(exchange, this.owner.streamContext(this));
    }
    this.exchange.deliver(id, http);
  }

  private send(response: SpaceliftResponse): void {
    if (this.ended) return;
    this.unflushed++;
    this.call.write(response, () => {
      this.unflushed--;
      this.owner.onFlushed(this);
    });
  }

  private onStatus(status: StatusObject): void {
    clearTimeout(this.halfClosedTimer);
    this.halfClosedTimer = undefined;
    const wasEnded = this.ended || this.endWhenIdle;
    this.ended = true;
    if (this.stream !== undefined && this.stream.busy) this.stream.close();
    this.exchange?.destroy();
    this.owner.onEnded(this, status, wasEnded);
  }
}
