import type { Agent as HttpAgent } from 'node:http';
import { Agent, type Dispatcher } from 'undici';
import { InvalidOptionError } from '../errors.js';
import { nodeHttpUpstream } from './upstream-node-http.js';
import type { UpstreamClient } from './upstream-request.js';
import { undiciUpstream } from './upstream-undici.js';
import { CorkingConnector } from './upstream-corking.js';

/** The options that choose the VCS client (see TunnelClientOptions). */
export interface UpstreamClientOptions {
  upstreamAgent?: HttpAgent | undefined;
  upstreamDispatcher?: Dispatcher | undefined;
}

/**
 * The client the agent sends VCS requests with: the caller's undici `Dispatcher`, the
 * caller's `http.Agent` (node:http), or by default an undici `Agent` keeping up to
 * `connections` connections alive per origin. `timeoutMs` is how long the VCS may stay silent.
 */
export function createUpstreamClient(options: UpstreamClientOptions, connections: number, timeoutMs: number): UpstreamClient {
  const { upstreamAgent, upstreamDispatcher } = options;
  if (upstreamAgent !== undefined && upstreamDispatcher !== undefined) {
    throw new InvalidOptionError('upstreamDispatcher', 'Give either upstreamAgent (node:http) or upstreamDispatcher (undici), not both');
  }
  if (upstreamDispatcher !== undefined) {
    if (upstreamDispatcher === null || typeof upstreamDispatcher.dispatch !== 'function') {
      throw new InvalidOptionError('upstreamDispatcher', 'Invalid upstreamDispatcher: expected an undici Dispatcher (an object with dispatch())');
    }
    return undiciUpstream(upstreamDispatcher, timeoutMs, false);
  }
  if (upstreamAgent !== undefined) {
    if (upstreamAgent === null || typeof (upstreamAgent as { addRequest?: unknown }).addRequest !== 'function') {
      throw new InvalidOptionError('upstreamAgent', 'Invalid upstreamAgent: expected an http.Agent');
    }
    return nodeHttpUpstream(upstreamAgent, timeoutMs);
  }
  // Connecting counts as the VCS being silent too (node:http's socket timeout covered it).
  const connector = new CorkingConnector({ timeout: timeoutMs });
  const agent = new Agent({ connections, connect: connector.connect });
  return undiciUpstream(agent, timeoutMs, true, { turn: () => connector.corkTurn(), tick: () => connector.corkTick() });
}
