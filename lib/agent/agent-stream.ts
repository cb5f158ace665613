import { constants as h2constants } from 'node:http2';
import type { Duplex } from 'node:stream';
import { ProtocolError, type VcsAgentError } from '../errors.js';
import { escapeLogValue, redactPathForLog } from '../policy/log-sanitize.js';
import { checkRequestFraming } from './request-framing.js';
import { redirectAction } from './follow-redirects.js';
import type { PolicyDecision, RequestPolicy } from '../policy/request-policy.js';
import { agentErrorResponse } from '../protocol/error-response.js';
import { FrameParser, FrameType, decodeRequestHead, encodeResponseHead, endFrame, writeBodyFrame, type RequestHead } from '../protocol/frame.js';
import { stripHopByHop } from '../protocol/hop-by-hop.js';
import { contentLength } from '../protocol/content-length.js';
import type { UpstreamClient, UpstreamHandler, UpstreamRequest } from './upstream-request.js';
import { RELAY_BUFFER_BYTES } from '../protocol/http2-settings.js';
import { WAKE_BYTES } from '../protocol/flow-window.js';

/** One line of the agent's request log. */
export interface AgentRequestRecord {
  id: string;
  method: string;
  path: string;
  project?: string;
  decision: 'allow' | 'deny';
  /** The rule's description when allowed, the reason when denied. */
  description: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  error?: string;
  /** Which of the client's gateway connections carried it (`TunnelClient.connections`). */
  slot?: number;
}

/**
 * What `--debug-print-all` sees of each exchange. Only produced when a listener is set
 * (`TunnelClientOptions.onDebug`); consumers must redact secrets and bound body sizes.
 */
export type ExchangeDebugEvent =
  | { type: 'request'; id: string; method: string; path: string; headers: readonly string[] }
  | { type: 'upstream-request'; id: string; method: string; url: string; headers: readonly string[] }
  | { type: 'request-body'; id: string; chunk: Buffer }
  | { type: 'response'; id: string; status: number; headers: readonly string[] }
  | { type: 'response-body'; id: string; chunk: Buffer }
  | { type: 'end'; id: string; status: number; error?: string };

/**
 * The byte stream an exchange runs on: an HTTP/2 tunnel stream, or any transport that
 * carries the same frames (the Spacelift adapter). `close(code)` resets it; `closeReason`,
 * when set, says why the transport itself ended an exchange (logged instead of a guess).
 */
export type TunnelStreamIO = Duplex & { close(code?: number): void; readonly closeReason?: string };

/** What a stream needs from the client that owns it. */
export interface AgentStreamContext {
  readonly policy: RequestPolicy;
  readonly target: URL;
  /** Target path prefix without trailing slash (`/gitlab` for https://host/gitlab/). */
  readonly basePath: string;
  /** The HTTP client for the VCS (undici by default, node:http with an `upstreamAgent`). */
  readonly upstream: UpstreamClient;
  /** Optional caps (bytes); `Infinity` when not configured: bodies are unlimited by default. */
  readonly maxRequestBodyBytes: number;
  readonly maxResponseBodyBytes: number;
  /** Outbound header builder (allowlist, Host from the target). */
  readonly outboundHeaders: (rawHeaders: readonly string[]) => string[];
  onRecord(record: AgentRequestRecord): void;
  /** The stream is gone; the client decides whether to open a replacement. */
  onStreamClosed(stream: AgentStream, hadError: boolean): void;
  /** A stream finished an exchange (used by draining). */
  onExchangeDone(stream: AgentStream): void;
  /** A chunk of WAKE_BYTES or more arrived: the connection's window sizing measures now (flow-window.ts). */
  readonly onBulkData?: () => void;
  /** Set only with --debug-print-all: every exchange event, unredacted (the consumer redacts). */
  readonly onDebug: ((event: ExchangeDebugEvent) => void) | undefined;
  /** TunnelClientOptions.onBodyChunk. */
  readonly onBodyChunk?: ((bytes: number) => void) | undefined;
}

/*
 * Responses at most this large (by Content-Length) are collected and sent as one
 * head+body+end write: one DATA frame instead of three for the common small API call
 * (perf-facts: coalescing is what makes small requests cheap).
 */
const COALESCE_LIMIT = 32 * 1024;


/** Methods whose responses have no body whatever the headers say (RFC 9110 §6.4.1). */
function responseHasBody(method: string, status: number): boolean {
  return method !== 'HEAD' && status >= 200 && status !== 204 && status !== 304;
}

/**
 * The agent's end of one long-lived tunnel stream: it reads a request (head, body
 * frames, end) from the gateway, asks the policy, forwards allowed requests to the VCS
 * and streams the response back as frames. One exchange at a time.
 */
export class AgentStream {
  private readonly stream: TunnelStreamIO;
  private readonly parser: FrameParser;
  private head: RequestHead | undefined;
  private decision: PolicyDecision | undefined;
  private upstream: UpstreamRequest | undefined;
  /** The VCS's response head arrived (what an upstream failure means depends on it). */
  private responding = false;
  /** The response head, kept for a coalesced response (written with its body at the end). */
  private responseHeaders: string[] = [];
  private requestDone = true;
  private responseDone = true;
  private startedAt = 0;
  private status = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  private coalesced: Buffer[] | undefined;
  /** A body the policy must see before deciding (GraphQL), collected up to its bound. */
  private inspecting: { readonly maxBodyBytes: number; decide(body: Buffer): PolicyDecision; readonly chunks: Buffer[]; size: number } | undefined;
  private closed = false;
  /** Set once the exchange follows a VCS redirect (archive rules): where it is and how far it went. */
  private redirects: { url: URL; hops: number; readonly headers: string[] } | undefined;
  /** Final frames written but not yet flushed (see writeLast). */
  private unflushed = 0;
  /** The gateway answered the stream open with something other than 200 (set by the opener). */
  refused = false;
  /** How the VCS client reports back; one per stream, its requests are one at a time. */
  private readonly upstreamHandler: UpstreamHandler = {
    onResponse: (status, rawHeaders) => this.onUpstreamResponse(status, rawHeaders),
    onData: (chunk) => this.onUpstreamData(chunk),
    onEnd: () => this.onUpstreamEnd(),
    onError: (error) => this.onUpstreamError(error),
    onDrain: () => this.resumeGatewayStream(),
  };

  constructor(
    stream: TunnelStreamIO,
    private readonly context: AgentStreamContext,
  ) {
    this.stream = stream;
    this.parser = new FrameParser({
      onHead: (type, head) => this.onHead(type, head),
      onBody: (chunk) => this.onRequestBody(chunk),
      onEnd: () => this.onRequestEnd(),
    });
    this.stream.on('data', (chunk: Buffer) => {
      if (chunk.length >= WAKE_BYTES) this.context.onBulkData?.();
      try {
        this.parser.push(chunk);
      } catch (error) {
        this.reset(h2constants.NGHTTP2_PROTOCOL_ERROR, (error as VcsAgentError).message);
      }
    });
    this.stream.on('error', () => {}); // surfaced through 'close'
    this.stream.on('close', () => this.onClose());
  }

  /** Carrying an exchange, or its last frames are not yet handed to the socket. */
  get busy(): boolean {
    return this.head !== undefined || (this.unflushed > 0 && !this.closed);
  }

  /** Closes the stream: when idle during a drain, or when the session goes away. */
  // CANCEL, not NO_ERROR: Node only destroys a stream the peer reset with NO_ERROR once its
  // own writable side has ended, which a long-lived tunnel stream never does.
  close(code: number = h2constants.NGHTTP2_CANCEL): void {
    if (!this.closed) this.stream.close(code);
  }

  private onHead(type: FrameType, raw: unknown): void {
    if (type !== FrameType.RequestHead || this.head !== undefined) throw new ProtocolError('Unexpected head frame from the gateway');
    const head = decodeRequestHead(raw);
    this.head = head;
    this.startedAt = performance.now();
    this.context.onDebug?.({ type: 'request', id: head.id, method: head.method, path: head.path, headers: head.headers });
    this.status = 0;
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.requestDone = !head.body;
    this.responseDone = false;
    let decision: PolicyDecision;
    try {
      decision = this.context.policy.evaluate({ method: head.method, path: head.path, rawHeaders: head.headers, hasBody: head.body });
    } catch {
      // A policy that throws denies: never let an exception turn into an allow.
      decision = { allow: false, reason: 'The policy failed to evaluate the request' };
    }
    this.decision = decision;
    if (decision.allow || decision.inspectBody !== undefined) {
      // The bytes written to the VCS must parse as exactly this one request.
      const framing = checkRequestFraming(head.method, head.body, head.headers);
      if (framing !== undefined) {
        this.decision = { allow: false, reason: framing.reason, ...(decision.project === undefined ? {} : { project: decision.project }) };
        this.respondLocally(framing.status, 'VCS_BAD_FRAMING', framing.reason);
        return;
      }
    }
    if (!decision.allow) {
      if (decision.inspectBody !== undefined && head.body) {
        // Only the body can decide (a GraphQL operation): read it, bounded, then ask again.
        const { maxBodyBytes, decide } = decision.inspectBody;
        this.inspecting = { maxBodyBytes, decide: (body) => decide(body), chunks: [], size: 0 };
        return;
      }
      this.respondLocally(403, 'VCS_DENIED', decision.reason);
      return;
    }
    if (this.context.maxRequestBodyBytes !== Infinity && contentLength(head.headers) > this.context.maxRequestBodyBytes) {
      this.respondLocally(413, 'VCS_BODY_TOO_LARGE', `The request body exceeds the agent's limit of ${this.context.maxRequestBodyBytes} bytes`);
      return;
    }
    this.forward(head);
  }

  private forward(head: RequestHead, body?: Buffer, via?: { readonly url: URL; readonly headers: string[] }): void {
    const context = this.context;
    const headers = via?.headers ?? context.outboundHeaders(head.headers);
    context.onDebug?.({ type: 'upstream-request', id: head.id, method: head.method, url: via?.url.href ?? context.target.origin + context.basePath + head.path, headers });
    this.responding = false;
    this.upstream = context.upstream.request(
      {
        origin: via?.url ?? context.target,
        method: head.method,
        path: via === undefined ? context.basePath + head.path : via.url.pathname + via.url.search,
        headers,
        body: this.requestDone ? (body ?? null) : 'stream',
      },
      this.upstreamHandler,
    );
  }

  private readonly resumeGatewayStream = (): void => {
    if (!this.closed) this.stream.resume();
  };

  private onRequestBody(chunk: Buffer): void {
    if (this.head === undefined || this.requestDone) throw new ProtocolError('Body frame outside a request');
    this.bytesIn += chunk.length;
    this.context.onBodyChunk?.(chunk.length);
    this.context.onDebug?.({ type: 'request-body', id: this.head.id, chunk });
    const inspecting = this.inspecting;
    if (inspecting !== undefined) {
      inspecting.size += chunk.length;
      if (inspecting.size > inspecting.maxBodyBytes) {
        this.inspecting = undefined;
        this.respondLocally(413, 'VCS_BODY_TOO_LARGE', `The body the policy must inspect exceeds ${inspecting.maxBodyBytes} bytes`);
        return;
      }
      inspecting.chunks.push(chunk);
      return;
    }
    const upstream = this.upstream;
    // A denied request or a failed upstream discards the body while the stream is reset.
    if (upstream === undefined) return;
    if (this.bytesIn > this.context.maxRequestBodyBytes && !this.responding) {
      // Over the configured cap without a declared length: stop the upload, tell the caller.
      upstream.abort();
      this.upstream = undefined;
      this.respondLocally(413, 'VCS_BODY_TOO_LARGE', `The request body exceeds the agent's limit of ${this.context.maxRequestBodyBytes} bytes`);
      return;
    }
    if (!upstream.write(chunk)) this.stream.pause();
  }

  private onRequestEnd(): void {
    if (this.head === undefined || this.requestDone) throw new ProtocolError('End frame outside a request');
    this.requestDone = true;
    const inspecting = this.inspecting;
    if (inspecting !== undefined) {
      this.inspecting = undefined;
      const body = Buffer.concat(inspecting.chunks, inspecting.size);
      let decision: PolicyDecision;
      try {
        decision = inspecting.decide(body);
      } catch {
        decision = { allow: false, reason: 'The policy failed to evaluate the request body' };
      }
      this.decision = decision;
      if (decision.allow) this.forward(this.head, body);
      else this.respondLocally(403, 'VCS_DENIED', decision.reason);
      return;
    }
    this.upstream?.end();
    this.maybeDone();
  }

  private onUpstreamResponse(status: number, rawHeaders: string[]): void {
    const head = this.head as RequestHead;
    if (this.followRedirect(head, status, rawHeaders)) return;
    this.responding = true;
    this.status = status;
    const headers = stripHopByHop(rawHeaders);
    this.context.onDebug?.({ type: 'response', id: head.id, status, headers });
    if (!responseHasBody(head.method, status)) {
      this.upstream?.release();
      this.endResponse(encodeResponseHead({ status, headers, body: false }));
      return;
    }
    const length = contentLength(rawHeaders);
    if (length >= 0 && length <= COALESCE_LIMIT) {
      this.coalesced = [];
      this.responseHeaders = headers;
    } else {
      this.write(encodeResponseHead({ status, headers, body: true }));
    }
  }

  /** A response body chunk; false holds the VCS back until the tunnel stream drains. */
  private onUpstreamData(chunk: Buffer): boolean {
    const head = this.head as RequestHead;
    this.context.onDebug?.({ type: 'response-body', id: head.id, chunk });
    if (this.coalesced !== undefined) {
      this.coalesced.push(chunk);
      return true;
    }
    this.bytesOut += chunk.length;
    this.context.onBodyChunk?.(chunk.length);
    if (this.bytesOut > this.context.maxResponseBodyBytes) {
      this.upstream?.abort();
      this.reset(h2constants.NGHTTP2_INTERNAL_ERROR, `The VCS response exceeds the agent's limit of ${this.context.maxResponseBodyBytes} bytes`);
      return true;
    }
    // Pause the VCS only past RELAY_BUFFER_BYTES queued on the stream (not at its 16 KiB
    // mark), so bulk transfers keep HTTP/2 flow control, not stop-and-go, as the limit.
    if (writeBodyFrame(this.stream, chunk) || this.stream.writableLength < RELAY_BUFFER_BYTES) return true;
    // Waiting for a slow caller is not the VCS being silent: the client suspends its idle
    // timeout while the response is held back.
    const upstream = this.upstream;
    this.stream.once('drain', () => upstream?.resume());
    return false;
  }

  private onUpstreamEnd(): void {
    const coalesced = this.coalesced;
    if (coalesced === undefined) {
      this.endResponse(endFrame());
      return;
    }
    const body = Buffer.concat(coalesced);
    this.coalesced = undefined;
    this.bytesOut = body.length;
    this.endResponse(encodeResponseHead({ status: this.status, headers: this.responseHeaders, body: true }, body));
  }

  /** For rules that ask for it (archives): follows a redirect on the same VCS, or refuses it (follow-redirects.ts). */
  private followRedirect(head: RequestHead, status: number, rawHeaders: readonly string[]): boolean {
    const decision = this.decision;
    if (decision === undefined || !decision.allow || decision.redirects === undefined) return false;
    const { target, basePath } = this.context;
    const state = this.redirects ?? { url: new URL(basePath + head.path, target.origin), hops: 0, headers: this.context.outboundHeaders(head.headers) };
    const action = redirectAction(decision, head.method, status, rawHeaders, state.url, new URL(`${target.origin}${basePath}/`), state.hops, state.headers);
    if (action === undefined) return false;
    // The finished request must not fail the next one: its body is read and dropped.
    this.upstream?.release();
    this.upstream = undefined;
    if (action.kind === 'refuse') {
      this.decision = { allow: false, reason: action.reason, ...(decision.project === undefined ? {} : { project: decision.project }) };
      this.respondLocally(action.status, action.code, action.reason);
      return true;
    }
    this.redirects = { url: action.url, hops: state.hops + 1, headers: state.headers };
    this.decision = action.decision;
    this.forward(head, undefined, { url: action.url, headers: action.headers });
    return true;
  }

  private onUpstreamError(error: Error): void {
    if (this.head === undefined || this.responseDone) return;
    this.upstream = undefined;
    if (!this.responding) {
      // Nothing sent yet: the caller gets a proper 502 saying why.
      this.respondLocally(502, 'VCS_UPSTREAM_FAILED', `The VCS could not be reached: ${error.message}`);
      return;
    }
    // Mid-response: reset, so the gateway fails the caller instead of ending the body.
    this.reset(h2constants.NGHTTP2_INTERNAL_ERROR, `The VCS failed mid-response: ${error.message}`);
  }

  /** Answers the gateway without the VCS (denial, VCS unreachable): one coalesced write. */
  private respondLocally(status: number, code: string, message: string): void {
    const { headers, body } = agentErrorResponse(code, message);
    this.status = status;
    this.bytesOut = body.length;
    this.endResponse(encodeResponseHead({ status, headers, body: true }, body), status === 502 ? message : undefined);
  }

  /** Writes the response's last frame(s) and completes the response. */
  private endResponse(lastFrames: Buffer, error?: string): void {
    this.writeLast(lastFrames);
    this.responseDone = true;
    this.record(error);
    if (!this.requestDone) {
      // Answered before the request body was complete (a denial, a VCS that answered
      // early). The rest of the body is discarded as it arrives: either the gateway already
      // sent it all (End is on its way and the stream goes idle normally), or it sees the
      // complete response first and cancels the stream itself (docs/protocol.md § 3).
      // Resetting here instead would race a gateway that already reused the stream.
      this.upstream?.abort();
      this.upstream = undefined;
      // The stream may be paused for the upstream's backpressure, whose 'drain' will now
      // never come: read on, so the rest of the body (and End) is consumed and discarded.
      if (!this.closed && this.stream.isPaused()) this.stream.resume();
      return;
    }
    this.maybeDone();
  }

  private maybeDone(): void {
    if (!this.requestDone || !this.responseDone || this.head === undefined) return;
    this.clear();
    this.context.onExchangeDone(this);
  }

  private clear(): void {
    this.head = undefined;
    this.decision = undefined;
    this.upstream = undefined;
    this.responding = false;
    this.responseHeaders = [];
    this.coalesced = undefined;
    this.inspecting = undefined;
    this.redirects = undefined;
    if (this.stream.isPaused()) this.stream.resume();
  }

  private record(error?: string): void {
    const head = this.head;
    const decision = this.decision;
    if (head === undefined || decision === undefined) return;
    this.context.onDebug?.({ type: 'end', id: head.id, status: this.status, ...(error === undefined ? {} : { error }) });
    const record: AgentRequestRecord = {
      id: escapeLogValue(head.id.slice(0, 64)),
      method: escapeLogValue(head.method.slice(0, 32)),
      // Logged paths lose secret query values (private_token=…) and control characters.
      path: escapeLogValue(redactPathForLog(head.path)),
      decision: decision.allow ? 'allow' : 'deny',
      description: escapeLogValue(decision.allow ? decision.description : decision.reason),
      status: this.status,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      durationMs: Math.round((performance.now() - this.startedAt) * 1000) / 1000,
    };
    if (decision.project !== undefined) record.project = escapeLogValue(decision.project);
    if (error !== undefined) record.error = error;
    this.decision = undefined; // recorded once
    this.context.onRecord(record);
  }

  private write(buffer: Buffer): void {
    if (!this.closed) this.stream.write(buffer);
  }

  /**
   * Writes an exchange's last frames and counts the stream busy until Node has handed them
   * to the socket (the write callback). A drain or GOAWAY closes idle streams with
   * RST_STREAM and then the session: nghttp2 drops DATA still queued for a reset stream, so
   * closing as soon as the End was merely queued lost it, and the gateway failed a response
   * whose every byte it had already passed on (issue 13, bug 1).
   */
  private writeLast(buffer: Buffer): void {
    if (this.closed) return;
    this.unflushed++;
    this.stream.write(buffer, () => {
      this.unflushed--;
      if (this.unflushed === 0 && this.head === undefined && !this.closed) this.context.onExchangeDone(this);
    });
  }

  private reset(code: number, error?: string): void {
    if (this.head !== undefined && !this.responseDone) {
      this.status = this.status || 502;
      this.record(error ?? 'The tunnel stream was reset');
    }
    this.close(code);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    const hadExchange = this.head !== undefined;
    if (hadExchange) {
      // The caller gave up (gateway reset) or the connection died: abort the VCS request.
      if (!this.responseDone) this.record(this.stream.closeReason ?? 'The gateway closed the stream before the response was complete');
      this.upstream?.abort();
      this.clear();
      this.context.onExchangeDone(this);
    }
    this.context.onStreamClosed(this, hadExchange);
  }
}
