import { RequestAbortedError, type VcsAgentError } from '../errors.js';
import { escapeLogValue, redactPathForLog } from '../policy/log-sanitize.js';
import { isoTime } from '../util/iso-time.js';
import type { ExchangeHandler, ExchangeRequest } from './exchange.js';
import type { AccessLogRecord } from './gateway-types.js';
import type { ExchangeResult } from './gateway-stream.js';
import type { RoutedHandler } from './pool-route.js';
import type { TunnelConnection } from './tunnel-connection.js';

export type AccessSink = (record: AccessLogRecord) => void;

const NO_RESULT = { status: 0, bytesIn: 0, bytesOut: 0 } as const;

/** The agent connection that carried a request, here or on another replica. */
type Carrier = { readonly id: string; readonly agentId: string };

/** Where a forwarded request was served: the peer replica and, once it said so, its agent connection. */
export interface ForwardedCarrier {
  readonly replicaId: string;
  readonly connection?: Carrier;
}

/**
 * The one place access records come from: it wraps the caller's handler for the whole life
 * of a request, so every request ends in exactly one record, whether it was rejected before
 * any stream took it (`rejected`, or `aborted` while queued) or ended on a stream
 * (`completed`, `failed`, `aborted`), with the connection that carried it.
 */
export class LoggedExchange implements RoutedHandler<TunnelConnection> {
  private logged = false;
  /** The code of an answer the agent made itself (`vcs-agent-error`: a denial, an unreachable VCS). */
  private agentError: string | undefined;

  constructor(
    private readonly request: ExchangeRequest,
    private readonly inner: ExchangeHandler,
    private readonly sink: AccessSink,
  ) {}

  onHeaders(status: number, rawHeaders: string[]): void {
    // Only error answers can carry it; a success costs no header scan.
    if (status >= 400) this.agentError = agentErrorCode(rawHeaders);
    this.inner.onHeaders(status, rawHeaders);
  }

  onData(chunk: Buffer): boolean {
    return this.inner.onData(chunk);
  }

  onComplete(): void {
    this.inner.onComplete();
  }

  onError(error: VcsAgentError): void {
    // A stream settles its exchange before it reports the error, so an unlogged error here
    // means no stream ever took the request.
    if (!this.logged) this.log(undefined, { ...NO_RESULT, error }, error instanceof RequestAbortedError ? 'aborted' : 'rejected');
    this.inner.onError(error);
  }

  onStarted(connection: TunnelConnection): void {
    this.inner.onAssigned?.(connection);
  }

  onSettled(connection: TunnelConnection, result: ExchangeResult): void {
    this.log(connection, result, outcomeOf(result));
  }

  /**
   * The request was sent to another replica: this replica's record names it (`forwardedTo`).
   * `rejected`: that replica answered without any agent taking the request.
   */
  onForwardSettled(peer: ForwardedCarrier, result: ExchangeResult, rejected = false): void {
    this.log(peer.connection, result, rejected ? 'rejected' : outcomeOf(result), peer.replicaId);
  }

  private log(connection: Carrier | undefined, result: ExchangeResult, outcome: AccessLogRecord['outcome'], forwardedTo?: string): void {
    if (this.logged) return;
    this.logged = true;
    const request = this.request;
    const record: AccessLogRecord = {
      time: isoTime(),
      requestId: request.id,
      pool: request.pool,
      method: escapeLogValue(request.method.slice(0, 32)),
      // No secret query values (private_token=…) and no control characters in the access log.
      path: escapeLogValue(redactPathForLog(request.path)),
      status: result.status,
      bytesIn: result.bytesIn,
      bytesOut: result.bytesOut,
      durationMs: Math.round((performance.now() - request.startedAt) * 1000) / 1000,
      outcome,
    };
    if (connection !== undefined) {
      record.connectionId = connection.id;
      record.agentId = connection.agentId;
    }
    if (forwardedTo !== undefined) record.forwardedTo = forwardedTo;
    if (request.forwardedFrom !== undefined) record.forwardedFrom = request.forwardedFrom;
    if (result.error !== undefined) record.errorCode = result.error.code;
    else if (this.agentError !== undefined) record.errorCode = escapeLogValue(this.agentError);
    this.sink(record);
  }
}

function outcomeOf(result: ExchangeResult): AccessLogRecord['outcome'] {
  const error = result.error;
  return error === undefined ? 'completed' : error instanceof RequestAbortedError ? 'aborted' : 'failed';
}

function agentErrorCode(rawHeaders: readonly string[]): string | undefined {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] as string).toLowerCase() === 'vcs-agent-error') return (rawHeaders[i + 1] as string).slice(0, 64);
  }
  return undefined;
}
