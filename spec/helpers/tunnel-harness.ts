import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TunnelClient, type TunnelClientOptions } from '../../lib/agent/tunnel-client.js';
import { FrontDoor } from '../../lib/gateway/front-door.js';
import { Gateway, type GatewayOptions, type GatewayRequestInit } from '../../lib/gateway/gateway.js';
import type { GatewayResponse } from '../../lib/gateway/gateway-response.js';
import { MemoryPoolStore } from '../../lib/pools/memory-pool-store.js';
import { createPool } from '../../lib/pools/pool-service.js';
import type { RequestPolicy } from '../../lib/policy/request-policy.js';
import { MemoryLogger } from './memory-logger.js';

export interface VcsRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

export interface HarnessOptions {
  policy: RequestPolicy;
  /** The local VCS; the default answers 200 with a JSON echo of method, url and body size. */
  vcs?: (req: IncomingMessage, res: ServerResponse) => void;
  parallelism?: number;
  /** Also start the HTTP/1.1 front door. */
  frontDoor?: boolean;
  gateway?: Partial<GatewayOptions>;
  client?: Partial<TunnelClientOptions>;
  poolName?: string;
}

export interface Harness {
  /** `private://<pool><path>` through gateway → agent → VCS, body collected. */
  request(path: string, init?: { method?: string; headers?: Record<string, string>; body?: GatewayRequestInit['body'] }): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>;
  /** The raw streaming form of `request`. */
  stream(path: string, init?: GatewayRequestInit): Promise<GatewayResponse>;
  /** Requests that reached the VCS (bodies recorded by the default VCS only). */
  vcsRequests: VcsRequest[];
  agentLog: Array<Record<string, unknown>>;
  agentLogger: MemoryLogger;
  gatewayLogger: MemoryLogger;
  gateway: Gateway;
  client: TunnelClient;
  token: string;
  pool: string;
  store: MemoryPoolStore;
  gatewayUrl: string;
  vcsUrl: string;
  vcsServer: Server;
  frontDoorUrl?: string;
  /** Starts another agent on the same pool. */
  addAgent(options?: Partial<TunnelClientOptions>): Promise<TunnelClient>;
  close(): Promise<void>;
}

function defaultVcs(req: IncomingMessage, res: ServerResponse): void {
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
  });
  req.on('end', () => {
    const body = JSON.stringify({ method: req.method, url: req.url, bodyBytes: size });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

function listen(server: Server): Promise<AddressInfo> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address() as AddressInfo)));
}

/** Starts a real gateway, a local VCS and a real agent on 127.0.0.1 (port 0 everywhere). */
export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const vcsRequests: VcsRequest[] = [];
  const handler = options.vcs ?? defaultVcs;
  const recordBodies = options.vcs === undefined;
  const vcsServer = createServer((req, res) => {
    const entry: VcsRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.alloc(0) };
    vcsRequests.push(entry);
    if (recordBodies) {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        entry.body = Buffer.concat(chunks);
      });
    }
    handler(req, res);
  });
  const vcsAddress = await listen(vcsServer);
  const vcsUrl = `http://127.0.0.1:${vcsAddress.port}`;

  const store = new MemoryPoolStore();
  const gatewayLogger = new MemoryLogger();
  const gateway = new Gateway({ store, logger: gatewayLogger, ...options.gateway });
  const address = await gateway.listen({ host: '127.0.0.1', port: 0 });
  const gatewayUrl = `http://127.0.0.1:${address.port}`;
  const pool = options.poolName ?? 'test-pool';
  const { token } = await createPool(store, { name: pool, description: 'spec pool', gatewayUrl });

  let frontDoor: FrontDoor | undefined;
  let frontDoorUrl: string | undefined;
  if (options.frontDoor) {
    frontDoor = new FrontDoor(gateway);
    const fd = await frontDoor.listen({ host: '127.0.0.1', port: 0 });
    frontDoorUrl = `http://127.0.0.1:${fd.port}`;
  }

  const agentLogger = new MemoryLogger();
  const clients: TunnelClient[] = [];
  const addAgent = async (extra: Partial<TunnelClientOptions> = {}): Promise<TunnelClient> => {
    const client = new TunnelClient({
      token,
      target: vcsUrl,
      policy: options.policy,
      parallelism: options.parallelism ?? 4,
      // One connection unless a spec asks for more: most specs reason about one connection's
      // streams (pool capacity, dispatch order); the library's default of 2 has its own specs.
      gatewayConnections: 1,
      logger: agentLogger,
      reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
      ...options.client,
      ...extra,
    });
    clients.push(client);
    await client.start();
    return client;
  };
  const client = await addAgent();

  const stream = (path: string, init?: GatewayRequestInit): Promise<GatewayResponse> => gateway.request(`private://${pool}${path}`, init);
  return {
    async request(path, init = {}) {
      const response = await stream(path, init);
      const chunks: Buffer[] = [];
      for await (const chunk of response.body) chunks.push(chunk as Buffer);
      return { status: response.status, headers: response.headers, body: Buffer.concat(chunks) };
    },
    stream,
    vcsRequests,
    agentLog: agentLogger.entries,
    agentLogger,
    gatewayLogger,
    gateway,
    client,
    token,
    pool,
    store,
    gatewayUrl,
    vcsUrl,
    vcsServer,
    ...(frontDoorUrl === undefined ? {} : { frontDoorUrl }),
    addAgent,
    async close() {
      for (const c of clients) c.destroy();
      gateway.destroy();
      frontDoor?.destroy();
      vcsServer.closeAllConnections();
      await new Promise<void>((resolve) => vcsServer.close(() => resolve()));
    },
  };
}
