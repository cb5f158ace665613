import { Readable } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import { RequestAbortedError, type VcsAgentError } from '../errors.js';
import type { ExchangeHandler } from './exchange.js';

/** A response from `Gateway.request`: status and headers now, the body as a stream. */
export interface GatewayResponse {
  readonly status: number;
  /** Header pairs exactly as the VCS sent them (hop-by-hop headers removed). */
  readonly rawHeaders: readonly string[];
  /** Lower-cased names; repeated headers become arrays (`set-cookie`) or are joined with `, `. */
  readonly headers: IncomingHttpHeaders;
  /** Emits 'error' (never a clean end) if the tunnel fails before the body is complete. */
  readonly body: Readable;
}

export function headersObject(rawHeaders: readonly string[]): IncomingHttpHeaders {
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    const value = rawHeaders[i + 1] as string;
    const existing = headers[name];
    if (existing === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(existing)) existing.push(value);
    else headers[name] = `${existing}, ${value}`;
  }
  return headers as IncomingHttpHeaders;
}

/** Adapts the handler callbacks to a promise of a response with a streaming body. */
export class ResponseCollector implements ExchangeHandler {
  private body: Readable | undefined;
  private settled = false;
  resumeStream: () => void = () => {};
  /** Aborts the exchange when the caller destroys or abandons the body before its end. */
  abortStream: (error: VcsAgentError) => void = () => {};
  readonly promise: Promise<GatewayResponse>;
  private resolve!: (response: GatewayResponse) => void;
  private reject!: (error: VcsAgentError) => void;

  constructor() {
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  onHeaders(status: number, rawHeaders: string[]): void {
    const body = new Readable({
      read: () => this.resumeStream(),
      destroy: (error, callback) => {
        // A caller that stops reading (destroy, or `break` out of for-await) gives up the
        // exchange: without this the tunnel stream would stay paused and held for ever.
        if (!this.settled) this.abortStream(new RequestAbortedError('The caller destroyed the response body', { cause: error ?? undefined }));
        callback(error);
      },
    });
    this.body = body;
    this.resolve({ status, rawHeaders, headers: headersObject(rawHeaders), body });
  }

  onData(chunk: Buffer): boolean {
    return (this.body as Readable).push(chunk);
  }

  onComplete(): void {
    this.settled = true;
    this.body?.push(null);
  }

  onError(error: VcsAgentError): void {
    this.settled = true;
    if (this.body === undefined) this.reject(error);
    else this.body.destroy(error);
  }
}
