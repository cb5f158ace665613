/*
 * One agent process of `npm run bench:scale` (bench/scale.ts): many `TunnelClient`s in one
 * Node process, so that a thousand agent connections need a handful of processes and the
 * gateway, not the agents, is what the bench measures. Driven over the IPC channel:
 *
 *   start   {target, clients: [{token, agentId}], parallelism, keepaliveMs?}  → started
 *   status  → {connected, total}
 *   report  → every client's dial, connect and disconnect times (Date.now(), ms)
 *   destroy → destroyed (every client destroyed at once)
 *
 * Each dial is timed through the `connect` option (a plain net.connect, as http2.connect
 * would do itself), so the bench counts every connection attempt, failed or not.
 */
import * as net from 'node:net';
import { TunnelClient } from '../lib/agent/tunnel-client.js';
import { createVendorPolicy } from '../lib/vendors/index.js';

interface StartMessage {
  type: 'start';
  target: string;
  clients: Array<{ token: string; agentId: string }>;
  parallelism: number;
  /** The agent's keepalive interval (default: the library's, 20 s). */
  keepaliveMs?: number;
}

type Message = StartMessage | { type: 'status' } | { type: 'report' } | { type: 'destroy' };

/** What one client went through, as the parent reads it. */
export interface ClientReport {
  agentId: string;
  connected: boolean;
  dials: number[];
  connects: number[];
  disconnects: number[];
}

interface Tracked {
  client: TunnelClient;
  report: ClientReport;
}

const policy = createVendorPolicy('gitlab');
let tracked: Tracked[] = [];

function send(message: unknown): void {
  process.send?.(message);
}

function start(message: StartMessage): void {
  for (const { token, agentId } of message.clients) {
    const report: ClientReport = { agentId, connected: false, dials: [], connects: [], disconnects: [] };
    const client = new TunnelClient({
      token,
      target: message.target,
      policy,
      agentId,
      parallelism: message.parallelism,
      gatewayConnections: 1,
      ...(message.keepaliveMs === undefined ? {} : { keepalive: { intervalMs: message.keepaliveMs } }),
      connect: async (gateway) => {
        report.dials.push(Date.now());
        return net.connect({ host: gateway.hostname, port: Number(gateway.port) });
      },
    });
    client.on('connected', () => {
      report.connected = true;
      report.connects.push(Date.now());
    });
    client.on('disconnected', () => {
      if (report.connected) report.disconnects.push(Date.now());
      report.connected = false;
    });
    tracked.push({ client, report });
    // start() rejects only for refused credentials; the parent sees it as a client that never connected.
    client.start().catch((error: unknown) => process.stderr.write(`scale-agents: ${agentId}: ${(error as Error).message}\n`));
  }
  send({ type: 'started' });
}

process.on('message', (message: Message) => {
  switch (message.type) {
    case 'start':
      return start(message);
    case 'status':
      return send({ type: 'status', connected: tracked.filter((t) => t.report.connected).length, total: tracked.length });
    case 'report':
      return send({ type: 'report', clients: tracked.map((t) => t.report) });
    case 'destroy':
      for (const t of tracked) t.client.destroy();
      tracked = [];
      return send({ type: 'destroyed' });
  }
});

// The parent went away (killed, or the bench failed): nothing here may outlive it.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
