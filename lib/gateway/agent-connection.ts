import type { ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import { ControlChannel } from '../protocol/control-channel.js';
import { destroySession } from '../protocol/session-socket.js';
import type { ExchangeRequest } from './exchange.js';
import type { ExchangeResult, GatewayStream, GatewayStreamOwner } from './gateway-stream.js';
import { TunnelConnectionBase, type GatewayRoute } from './tunnel-connection.js';

export type { GatewayRoute } from './tunnel-connection.js';

/** Which wire protocol an agent connection speaks: ours (HTTP/2 tunnel) or Spacelift's gRPC. */
export type AgentProtocol = 'vcs-agent' | 'spacelift';

/** Who an agent connection is, as established by the connect stream. */
export interface AgentIdentity {
  readonly id: string;
  /** `vcs-agent` for our agents, `spacelift` for Spacelift's own (gRPC) agents. */
  readonly protocol: AgentProtocol;
  readonly poolId: string;
  readonly poolName: string;
  readonly agentId: string;
  readonly agentVersion: string;
  readonly vendor: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly remoteAddress: string;
  /** Which pool key generation authenticated this connection. */
  readonly keyGeneration: number;
}

/** What the gateway shows about one live agent connection. */
export interface AgentConnectionInfo extends AgentIdentity {
  readonly connectedAt: string;
  readonly streamsBusy: number;
  readonly streamsIdle: number;
  readonly requestsServed: number;
  readonly draining: boolean;
  /** Replicated gateway, in the admin API: the replica that holds the connection. */
  readonly replica?: string;
}

/**
 * The gateway's end of one authenticated agent session: its control channel and tunnel
 * streams (the agent's `GatewayConnection` is the other end). Routing state (idle, busy,
 * served) lives in the pool's route, not here.
 */
export class AgentConnection extends TunnelConnectionBase<GatewayStream> implements GatewayStreamOwner {
  readonly control: ControlChannel;

  constructor(
    identity: AgentIdentity,
    readonly session: ServerHttp2Session,
    controlStream: ServerHttp2Stream,
    route: GatewayRoute,
  ) {
    super(identity, route);
    this.control = new ControlChannel(controlStream, {
      onDrain: () => {
        this.drain();
        // The ack tells the agent that every request sent to it is already in its hands.
        // HTTP/2 orders frames within a stream only (RFC 9113 §5.1), and Node 24 does put a
        // request head written earlier on a tunnel stream after an ack on the control stream;
        // so ack once each busy stream's response has begun (or its exchange ended).
        const seen = [...this.streams].filter((stream) => stream.busy).map((stream) => stream.seenByAgent);
        void Promise.all(seen).then(() => this.control.send({ type: 'drain-ack' }));
      },
      onProtocolError: () => destroySession(session),
    });
    // The control stream lives as long as the connection; if it goes, so does the session.
    controlStream.once('close', () => {
      if (!session.closed) session.close();
    });
  }

  get open(): boolean {
    return !this.session.closed && !this.session.destroyed;
  }

  close(graceMs: number): void {
    const session = this.session;
    // GOAWAY first, so the agent takes the control stream's end that follows as part of
    // the goodbye (it redials at once) rather than as a lost connection; busy streams finish.
    session.close();
    if (!this.control.stream.destroyed) this.control.stream.close();
    const timer = setTimeout(() => {
      destroySession(session);
    }, graceMs);
    timer.unref();
    session.once('close', () => clearTimeout(timer));
  }

  /** The session is gone: the route lets go of it and its streams close. */
  closed(): void {
    this.route.removeConnection(this);
    for (const stream of this.streams) stream.close();
  }

  onStreamClosed(stream: GatewayStream): void {
    this.streams.delete(stream);
    this.route.release(this, stream);
  }

  onExchangeDone(stream: GatewayStream, _request: ExchangeRequest, result: ExchangeResult): void {
    // Every assigned exchange ends here exactly once, whether the stream goes idle or dies.
    this.route.settle(stream, result);
  }
}
