import { PoolNotFoundError, VcsAgentError } from '../errors.js';
import type { PoolStore } from '../pools/pool-store.js';
import type { LoggedExchange } from './access-record.js';
import type { AgentRegistry } from './agent-registry.js';
import type { LocalLoad, LocalRoute, PeerForwarder } from './cluster/peer-forwarder.js';
import { DeferredControl } from './deferred-control.js';
import type { ExchangeRequest } from './exchange.js';
import type { ExchangeControl } from './gateway-types.js';

/**
 * Where a request goes: an idle stream of this replica's route for its pool at once (the
 * hot path: nothing else is looked at); otherwise, on a replica with peer forwarding, to a
 * replica with a free stream (cluster/peer-forwarder.ts); otherwise this replica's queue, or
 * the store's answer for a pool without connections here (unknown pool, or no agent).
 */
export class RequestRouter implements LocalRoute {
  /** Set on a replicated gateway with peer forwarding. */
  private readonly forwarder: PeerForwarder | undefined;

  constructor(
    private readonly registry: AgentRegistry,
    private readonly store: PoolStore,
    forwarderFor: (local: LocalRoute) => PeerForwarder | undefined = () => undefined,
  ) {
    this.forwarder = forwarderFor(this);
  }

  dispatch(request: ExchangeRequest, logged: LoggedExchange): ExchangeControl {
    const route = this.registry.routes.get(request.pool);
    if (route !== undefined && route.hasIdle) return route.dispatch(request, logged);
    // A request that came from another replica is served here or refused: one hop at most.
    if (this.forwarder !== undefined && request.forwardedFrom === undefined) return this.forwarder.forward(request, logged);
    return this.dispatchHere(request, logged);
  }

  load(pool: string): LocalLoad {
    const route = this.registry.routes.get(pool);
    if (route === undefined || route.connections.length === 0) return 'none';
    return route.hasIdle ? 'idle' : 'busy';
  }

  /** This replica only: its route (queueing when every stream is busy), or the store's answer. */
  dispatchHere(request: ExchangeRequest, logged: LoggedExchange): ExchangeControl {
    const route = this.registry.routes.get(request.pool);
    if (route !== undefined && route.connections.length > 0) return route.dispatch(request, logged);
    // No live agent here: tell an unknown pool apart from a pool without agents.
    const deferred = new DeferredControl(logged);
    this.store.get(request.pool).then(
      (record) => {
        if (deferred.aborted) return;
        if (record === undefined || record.name !== request.pool) return logged.onError(new PoolNotFoundError(request.pool));
        deferred.attach(this.registry.routeFor(record.id, record.name).dispatch(request, logged));
      },
      (error: unknown) => {
        if (!deferred.aborted) logged.onError(error instanceof VcsAgentError ? error : new VcsAgentError('VCS_STORE_FAILED', 'The pool store failed', { cause: error }));
      },
    );
    return deferred;
  }
}
