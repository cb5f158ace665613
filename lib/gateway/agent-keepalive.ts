import { InvalidOptionError } from '../errors.js';
import { probeLiveness } from '../protocol/liveness.js';
import { positiveInteger } from '../util/positive-integer.js';
import type { AgentConnection } from './agent-connection.js';

/** How often the gateway checks that an agent connection still answers, and how long it waits. */
export interface AgentKeepaliveOptions {
  intervalMs: number;
  timeoutMs: number;
}

/*
 * 30 s / 10 s: the agent pings every 20 s by default, so a healthy connection is never idle
 * for a whole interval, and 10 s is ample for a PING ACK, which nghttp2 sends ahead of any
 * queued DATA (RFC 9113 §6.7 asks for it "as soon as possible"). A dead agent is therefore
 * dropped within 40 s instead of after the many minutes a TCP write takes to time out.
 */
export const DEFAULT_AGENT_KEEPALIVE: Readonly<AgentKeepaliveOptions> = Object.freeze({ intervalMs: 30_000, timeoutMs: 10_000 });

/** `GatewayOptions.keepalive` checked, defaults filled in; undefined when turned off (`false`). */
export function keepaliveOptions(option: Partial<AgentKeepaliveOptions> | false | undefined): AgentKeepaliveOptions | undefined {
  if (option === false) return undefined;
  if (option !== undefined && (option === null || typeof option !== 'object')) {
    throw new InvalidOptionError('keepalive', 'Invalid keepalive: expected { intervalMs, timeoutMs } or false');
  }
  return {
    intervalMs: positiveInteger(option?.intervalMs, DEFAULT_AGENT_KEEPALIVE.intervalMs, 'keepalive.intervalMs'),
    timeoutMs: positiveInteger(option?.timeoutMs, DEFAULT_AGENT_KEEPALIVE.timeoutMs, 'keepalive.timeoutMs'),
  };
}

/**
 * The gateway's half-open check on agent connections. An agent whose host froze, or whose
 * NAT entry or route vanished, still looks connected to TCP, and the router would keep
 * handing requests to its streams, where they hang until the queue or VCS timeout. Every
 * `intervalMs` each connection gets an HTTP/2 PING; no ACK within `timeoutMs` and the
 * connection is declared dead.
 */
export class AgentKeepalive {
  private readonly timer: NodeJS.Timeout;
  private readonly pending = new WeakSet<AgentConnection>();

  constructor(
    readonly options: AgentKeepaliveOptions,
    private readonly connections: () => Iterable<AgentConnection>,
    private readonly onUnresponsive: (connection: AgentConnection) => void,
  ) {
    this.timer = setInterval(() => this.check(), options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Pings every connection that has no ping outstanding (also callable directly). */
  check(): void {
    for (const connection of this.connections()) {
      const session = connection.session;
      if (this.pending.has(connection) || session.closed || session.destroyed) continue;
      this.pending.add(connection);
      probeLiveness(session, this.options.timeoutMs, (result) => {
        this.pending.delete(connection);
        // 'gone': the session's own 'close' takes it out of the routes.
        if (result === 'silent') this.onUnresponsive(connection);
      });
    }
  }
}
