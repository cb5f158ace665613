import { Duplex } from 'node:stream';
import { ProtocolError, ResponseTooLargeError } from '../../errors.js';
import { FrameParser, FrameType, decodeResponseHead, encodeRequestHead, type ResponseHead } from '../../protocol/frame.js';
import { mapToRawHeaders, rawHeadersToMap } from '../../protocol/spacelift/header-map.js';
import type { SpaceliftHttpRequest, SpaceliftResponse } from '../../protocol/spacelift/privatevcs-schema.js';
import type { TunnelStreamIO } from '../agent-stream.js';

/** Framing headers of the message are replaced: the body's own length is the truth. */
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding']);

/*
 * What a Response costs beyond its body on the wire: protobuf tags and varint lengths
 * (a few bytes per field and per map entry) plus the id. The check stays conservative so
 * that a response we accept is never refused by the receiver's gRPC limit instead.
 */
const MESSAGE_OVERHEAD_BYTES = 256;
const HEADER_ENTRY_OVERHEAD_BYTES = 16;

/** The response header that lists header names the single-valued map could not carry whole. */
export const REDUCED_HEADERS_HEADER = 'vcs-agent-reduced-headers';

/**
 * One Spacelift `HTTPRequest` → `Response` exchange, presented to an `AgentStream` as the
 * frames of our own protocol: the request arrives as a head (with its whole body), the
 * stream's response frames are collected here and leave as one `Response` message. So a
 * Spacelift request meets exactly the policy, framing checks, redirects, logging and
 * debug output of ours; only the wire differs. One exchange at a time; an instance is
 * reused for the call's next request unless it was destroyed (reset, too large).
 */
export class SpaceliftExchange extends Duplex implements TunnelStreamIO {
  closeReason: string | undefined;
  private readonly parser: FrameParser;
  private id: string | undefined;
  private head: ResponseHead | undefined;
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private answered = false;

  constructor(
    private readonly maxMessageBytes: number,
    private readonly send: (response: SpaceliftResponse) => void,
  ) {
    super({ allowHalfOpen: true });
    this.parser = new FrameParser({
      onHead: (type, raw) => this.onHead(type, raw),
      onBody: (chunk) => this.onBody(chunk),
      onEnd: () => this.finish(),
    });
  }

  /** Whether a request was delivered and not yet answered. */
  get busy(): boolean {
    return this.id !== undefined && !this.answered;
  }

  /** Hands the gateway's request to the stream reading this exchange. */
  deliver(id: string, request: SpaceliftHttpRequest): void {
    this.id = id;
    this.head = undefined;
    this.chunks.length = 0;
    this.size = 0;
    this.answered = false;
    const headers: string[] = [];
    const raw = mapToRawHeaders(request.headers);
    for (let i = 0; i < raw.length; i += 2) if (!FRAMING_HEADERS.has(raw[i] as string)) headers.push(raw[i] as string, raw[i + 1] as string);
    const body = request.body;
    const hasBody = body.length > 0;
    if (hasBody) headers.push('content-length', String(body.length));
    this.push(encodeRequestHead({ id, method: request.method, path: request.path, headers, body: hasBody }, hasBody ? body : undefined));
  }

  override _read(): void {
    // Requests are pushed whole by deliver(); nothing to pull.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    try {
      if (!this.answered) this.parser.push(chunk);
    } catch (error) {
      this.fail('VCS_PROTOCOL_ERROR', (error as Error).message);
    }
    callback();
  }

  /** The stream resets the exchange (the VCS failed mid-response, a cap was exceeded). */
  close(): void {
    if (this.busy) this.fail('VCS_STREAM_RESET', this.closeReason ?? 'The agent reset the exchange before the response was complete');
    this.destroy();
  }

  private onHead(type: FrameType, raw: unknown): void {
    if (type !== FrameType.ResponseHead || this.head !== undefined) throw new ProtocolError('Unexpected head frame from the agent stream');
    const head = decodeResponseHead(raw);
    this.head = head;
    const length = declaredLength(head.headers);
    if (length !== undefined && length > this.maxMessageBytes) return this.tooLarge();
    if (!head.body) this.finish();
  }

  private onBody(chunk: Buffer): void {
    if (this.answered) return;
    this.size += chunk.length;
    if (this.size > this.maxMessageBytes) return this.tooLarge();
    this.chunks.push(chunk);
  }

  private finish(): void {
    const head = this.head;
    if (head === undefined || this.answered) return;
    const body = Buffer.concat(this.chunks, this.size);
    const localCode = headerValue(head.headers, 'vcs-agent-error');
    if (localCode !== undefined) {
      // The agent answered itself (a denial, an unreachable VCS): Spacelift's agents report
      // those as the Response's `error`; ours carries the code in front of the reason.
      return this.answer({ id: this.id as string, error: `${localCode}: ${localMessage(body)}` });
    }
    const { map, unjoinable } = rawHeadersToMap(head.headers);
    // Repeated Set-Cookie cannot be joined (RFC 6265 §3): the first value is kept and the
    // reduction is named in a header, never dropped without a trace (docs/spacelift-compatibility.md).
    if (unjoinable.length > 0) map[REDUCED_HEADERS_HEADER] = unjoinable.join(', ');
    let size = MESSAGE_OVERHEAD_BYTES + body.length;
    for (const name of Object.keys(map)) size += name.length + (map[name] as string).length + HEADER_ENTRY_OVERHEAD_BYTES;
    if (size > this.maxMessageBytes) return this.tooLarge();
    this.answer({ id: this.id as string, httpResponse: { status: head.status, headers: map, body } });
  }

  private tooLarge(): void {
    const error = new ResponseTooLargeError(this.maxMessageBytes);
    this.closeReason = error.message;
    this.fail(error.code, error.message);
    // Stop reading the VCS: the rest of the body could not be sent anyway.
    this.destroy();
  }

  private fail(code: string, message: string): void {
    this.answer({ id: this.id as string, error: `${code}: ${message}` });
  }

  private answer(response: SpaceliftResponse): void {
    if (this.answered || this.id === undefined) return;
    this.answered = true;
    this.chunks.length = 0;
    this.send(response);
  }
}

function headerValue(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if ((headers[i] as string).toLowerCase() === name) return headers[i + 1];
  return undefined;
}

function declaredLength(headers: readonly string[]): number | undefined {
  const value = headerValue(headers, 'content-length');
  return value === undefined || !/^\d+$/.test(value) ? undefined : Number(value);
}

/** The message of our JSON error body (`{"error": {"message"}}`), or the body as text. */
function localMessage(body: Buffer): string {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { error?: { message?: unknown } };
    if (typeof parsed.error?.message === 'string') return parsed.error.message;
  } catch {
    // Not our JSON: fall through.
  }
  return body.toString('utf8').slice(0, 1024);
}
