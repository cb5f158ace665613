import { RequestAbortedError, type VcsAgentError } from '../errors.js';
import type { ExchangeHandler } from './exchange.js';
import type { ExchangeControl } from './gateway-types.js';
import type { PendingExchange } from './pool-route.js';
import type { TunnelConnection, TunnelStream } from './tunnel-connection.js';

/** The control of a request that was refused before any routing: nothing to abort or resume. */
export const NOOP_CONTROL: ExchangeControl = { abort: () => {}, resume: () => {} };

/** Control for a request whose pool is still being looked up. */
export class DeferredControl implements ExchangeControl {
  aborted = false;
  private pending: PendingExchange<TunnelConnection, TunnelStream> | undefined;

  constructor(private readonly handler: ExchangeHandler) {}

  attach(pending: PendingExchange<TunnelConnection, TunnelStream>): void {
    this.pending = pending;
  }

  abort(error: VcsAgentError = new RequestAbortedError()): void {
    if (this.pending !== undefined) return this.pending.abort(error);
    if (this.aborted) return;
    this.aborted = true;
    this.handler.onError(error);
  }

  resume(): void {
    this.pending?.resume();
  }
}
