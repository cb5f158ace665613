import { Metadata, Server, ServerCredentials, status as GrpcStatus, type ServerDuplexStream } from '@grpc/grpc-js';
import {
  SPACELIFT_METADATA_KEY,
  SPACELIFT_METADATA_POOL_ULID,
  SPACELIFT_METADATA_TAGS,
  privatevcsGatewayService,
  type SpaceliftHttpRequest,
  type SpaceliftRequest,
  type SpaceliftResponse,
} from '../../lib/protocol/spacelift/privatevcs-schema.js';

export interface SpaceliftAgentCall {
  readonly peer: string;
  readonly poolUlid: string;
  readonly metadata: Record<string, string>;
  readonly stream: ServerDuplexStream<SpaceliftResponse, SpaceliftRequest>;
  busy: boolean;
  ended: boolean;
}

export interface FakeSpaceliftGatewayOptions {
  poolUlid: string;
  key: string;
  /** Send response headers as soon as a call is authenticated (default false: like a gateway that sends nothing until it has work). */
  sendHeaders?: boolean;
  /** Bind to this port (to come back after a shutdown). */
  port?: number;
}

/**
 * Plays Spacelift's VCS gateway: a grpc-js server built from privatevcs.proto that checks
 * the agent's metadata, keeps its Connect calls, and sends HTTPRequest and PingRequest
 * messages on them, matching Responses by id.
 */
export class FakeSpaceliftGateway {
  readonly calls: SpaceliftAgentCall[] = [];
  readonly refusals: Array<{ poolUlid: string; keyMatched: boolean }> = [];
  port = 0;
  private server: Server | undefined;
  private nextId = 0;
  private readonly waiting = new Map<string, { resolve: (response: SpaceliftResponse) => void; call: SpaceliftAgentCall }>();

  constructor(private readonly options: FakeSpaceliftGatewayOptions) {}

  async start(): Promise<this> {
    const server = new Server();
    server.addService(privatevcsGatewayService(), { Connect: (call: ServerDuplexStream<SpaceliftResponse, SpaceliftRequest>) => this.onConnect(call) });
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${this.options.port ?? 0}`, ServerCredentials.createInsecure(), (error, port) => (error === null ? resolve(port) : reject(error))),
    );
    this.server = server;
    return this;
  }

  /** Calls that are connected and not ended. */
  live(): SpaceliftAgentCall[] {
    return this.calls.filter((call) => !call.ended);
  }

  /** Sends an HTTPRequest on an idle call and resolves with its Response (rejects after `timeoutMs`). */
  request(request: Partial<SpaceliftHttpRequest> & { path: string }, timeoutMs = 10_000): Promise<SpaceliftResponse> {
    const call = this.live().find((candidate) => !candidate.busy);
    if (call === undefined) return Promise.reject(new Error('no idle Connect call'));
    const http: SpaceliftHttpRequest = { method: 'GET', headers: {}, body: Buffer.alloc(0), ...request };
    return this.send(call, { httpRequest: http }, timeoutMs);
  }

  ping(call: SpaceliftAgentCall, timeoutMs = 5_000): Promise<SpaceliftResponse> {
    return this.send(call, { pingRequest: {} }, timeoutMs);
  }

  /** Drops every connection at once (the HTTP/2 sessions too), as a gateway that died. */
  kill(): void {
    this.server?.forceShutdown();
    this.server = undefined;
    for (const call of this.calls) call.ended = true;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 2_000);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
      for (const call of this.live()) call.stream.end();
    });
  }

  private send(call: SpaceliftAgentCall, content: Pick<SpaceliftRequest, 'httpRequest' | 'pingRequest'>, timeoutMs: number): Promise<SpaceliftResponse> {
    const id = `req-${++this.nextId}`;
    call.busy = content.httpRequest !== undefined;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`no Response to ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        call,
        resolve: (response) => {
          clearTimeout(timer);
          call.busy = false;
          resolve(response);
        },
      });
      call.stream.write({ id, ...content });
    });
  }

  private onConnect(stream: ServerDuplexStream<SpaceliftResponse, SpaceliftRequest>): void {
    const poolUlid = String(stream.metadata.get(SPACELIFT_METADATA_POOL_ULID)[0] ?? '');
    const key = String(stream.metadata.get(SPACELIFT_METADATA_KEY)[0] ?? '');
    if (poolUlid !== this.options.poolUlid || key !== this.options.key) {
      this.refusals.push({ poolUlid, keyMatched: key === this.options.key });
      stream.emit('error', { code: GrpcStatus.UNAUTHENTICATED, details: 'invalid pool credentials' });
      return;
    }
    const tags = JSON.parse(String(stream.metadata.get(SPACELIFT_METADATA_TAGS)[0] ?? '{}')) as Record<string, string>;
    const call: SpaceliftAgentCall = { peer: stream.getPeer(), poolUlid, metadata: tags, stream, busy: false, ended: false };
    this.calls.push(call);
    if (this.options.sendHeaders === true) stream.sendMetadata(new Metadata());
    stream.on('data', (response: SpaceliftResponse) => {
      const waiter = this.waiting.get(response.id);
      if (waiter === undefined) return;
      this.waiting.delete(response.id);
      waiter.resolve(response);
    });
    const end = (): void => {
      call.ended = true;
    };
    // Like Spacelift's gateway: the agent's half-close (Recv's EOF) ends the call.
    stream.on('end', () => {
      end();
      stream.end();
    });
    stream.on('error', end);
    stream.on('cancelled', end);
    stream.on('close', end);
  }
}
