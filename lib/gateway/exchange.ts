import type { Readable } from 'node:stream';
import type { VcsAgentError } from '../errors.js';

/**
 * Receives one response from the tunnel (the undici dispatcher-handler shape): the
 * front door writes it to an HTTP/1.1 response, `Gateway.request` to a Readable.
 */
export interface ExchangeHandler {
  onHeaders(status: number, rawHeaders: string[]): void;
  /** Returns false to pause the tunnel stream until `Exchange.resume()` is called. */
  onData(chunk: Buffer): boolean;
  onComplete(): void;
  /** Called at most once, instead of `onComplete`, before or after `onHeaders`. */
  onError(error: VcsAgentError): void;
  /**
   * The request was handed to an agent connection's stream: from now on the agent may act on
   * it, so it must not be sent anywhere else. Called at most once, before `onHeaders`.
   */
  onAssigned?(connection: { readonly id: string; readonly agentId: string }): void;
}

/** One proxied request on its way through the gateway. */
export interface ExchangeRequest {
  readonly id: string;
  readonly pool: string;
  readonly method: string;
  /** Origin-form target, byte for byte. */
  readonly path: string;
  readonly rawHeaders: string[];
  /** The request body, or null when there is none. */
  readonly body: Readable | Buffer | null;
  /** `performance.now()` when the gateway received it, for durations in the access log. */
  readonly startedAt: number;
  /**
   * Longest silence of a streamed body while the stream reads it (not while paused by a
   * full stream); then the exchange fails with `VCS_BODY_IDLE_TIMEOUT`. Absent or 0: none.
   * (issue 13, bug 5: `Gateway.request()` bodies; the front door bounds its own.)
   */
  readonly bodyIdleTimeoutMs?: number;
  /**
   * The replica that forwarded this request here (replicated gateway, docs/scaling.md): it is
   * served by this replica's agents or refused, never forwarded again (one hop at most).
   */
  readonly forwardedFrom?: string;
}

export type ExchangeOutcome = 'completed' | 'failed' | 'aborted';
