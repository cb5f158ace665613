import { credentials, makeGenericClientConstructor, Metadata, type Client, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { request as httpRequest } from 'node:http';
import {
  SPACELIFT_METADATA_KEY,
  SPACELIFT_METADATA_POOL_ULID,
  SPACELIFT_METADATA_TAGS,
  privatevcsGatewayService,
  type SpaceliftHttpRequest,
  type SpaceliftRequest,
  type SpaceliftResponse,
} from '../../lib/protocol/spacelift/privatevcs-schema.js';

/*
 * A stand-in for Spacelift's Go VCS agent (spacelift-io/vcs-agent, agent/agent.go) built from
 * the same schema the gateway serves: each call gets a client (and TCP connection) of its own,
 * sends the pool ulid, key and metadata JSON as gRPC metadata, then loops: receive a Request,
 * call the VCS with its method, path, headers and body (or answer a PingRequest), send the
 * whole Response with the first value of each response header.
 */

type ConnectCall = ClientDuplexStream<SpaceliftResponse, SpaceliftRequest>;

/** What a test may make the agent do with one HTTP request instead of calling the VCS. */
export type RequestHook = (request: SpaceliftHttpRequest, id: string) => SpaceliftResponse | 'vcs' | 'die' | 'hang';

export interface FakeAgentOptions {
  /** `127.0.0.1:<port>` of the gateway's Spacelift listener. */
  address: string;
  poolId: string;
  key: string;
  metadata?: Record<string, string>;
  /** The `vcs-agent-metadata` value as sent, instead of `metadata` as JSON (Go sends `null` for a nil map). */
  metadataJson?: string;
  /** Base URL of the VCS (`http://127.0.0.1:<port>`). */
  target: string;
  parallelism?: number;
  /** Default: every request goes to the VCS. */
  onRequest?: RequestHook;
  /** Dial with TLS, trusting this CA (PEM); without it, insecure like `--dial-insecure`. */
  ca?: string;
  /** Answer PingRequests (default true). */
  answerPings?: boolean;
}

/** How one call ended. */
export interface CallEnd {
  code: number;
  details: string;
}

const GatewayClient = makeGenericClientConstructor(privatevcsGatewayService(), 'Gateway');
/** Request headers Go's net/http never writes from Request.Header (reqWriteExcludeHeader), and Host. */
const GO_EXCLUDED = new Set(['host', 'user-agent', 'content-length', 'transfer-encoding', 'trailer']);

/** Go's textproto.CanonicalMIMEHeaderKey: `content-type` → `Content-Type`. */
function canonical(name: string): string {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash: string, letter: string) => dash + letter.toUpperCase());
}

export class FakeSpaceliftAgent {
  readonly ends: CallEnd[] = [];
  readonly received: SpaceliftRequest[] = [];
  pingsAnswered = 0;
  private readonly calls = new Set<{ client: Client; call: ConnectCall }>();
  private stopped = false;

  constructor(private readonly options: FakeAgentOptions) {}

  /** Opens `parallelism` calls (more with `open()`). */
  start(): this {
    for (let i = 0; i < (this.options.parallelism ?? 1); i++) this.open();
    return this;
  }

  get openCalls(): number {
    return this.calls.size;
  }

  /** Opens one Connect call, as one run of the Go agent's Run(). */
  open(): void {
    const ca = this.options.ca;
    const client = new GatewayClient(this.options.address, ca === undefined ? credentials.createInsecure() : credentials.createSsl(Buffer.from(ca)));
    const metadata = new Metadata();
    metadata.set(SPACELIFT_METADATA_POOL_ULID, this.options.poolId);
    metadata.set(SPACELIFT_METADATA_KEY, this.options.key);
    metadata.set(SPACELIFT_METADATA_TAGS, this.options.metadataJson ?? JSON.stringify(this.options.metadata ?? {}));
    const call = (client as unknown as { Connect(metadata: Metadata): ConnectCall }).Connect(metadata);
    const entry = { client, call };
    this.calls.add(entry);
    let queue = Promise.resolve();
    call.on('data', (message: SpaceliftRequest) => {
      this.received.push(message);
      // One at a time, like the Go loop: Recv, handle, Send.
      queue = queue.then(() => this.handle(entry, message));
    });
    const ended = (end: CallEnd): void => {
      if (!this.calls.delete(entry)) return;
      this.ends.push(end);
      client.close();
    };
    call.on('error', (error: ServiceError) => ended({ code: error.code, details: error.details }));
    call.on('end', () => {
      // io.EOF: the Go agent closes its send side and returns from Run.
      call.end();
      ended({ code: 0, details: 'OK' });
    });
  }

  /** Kills every call at once, as a dying agent process would. */
  kill(): void {
    for (const entry of [...this.calls]) {
      this.calls.delete(entry);
      entry.call.cancel();
      entry.client.close();
    }
  }

  stop(): void {
    this.stopped = true;
    this.kill();
  }

  private async handle(entry: { call: ConnectCall }, message: SpaceliftRequest): Promise<void> {
    if (this.stopped || !this.calls.has(entry as { client: Client; call: ConnectCall })) return;
    if (message.request === 'pingRequest') {
      if (this.options.answerPings === false) return;
      this.pingsAnswered++;
      entry.call.write({ id: message.id, pingResponse: {} });
      return;
    }
    const http = message.httpRequest as SpaceliftHttpRequest;
    const hook = this.options.onRequest?.(http, message.id) ?? 'vcs';
    if (hook === 'hang') return new Promise<void>(() => {});
    if (hook === 'die') {
      this.kill();
      return;
    }
    const response = hook === 'vcs' ? await this.callVcs(message.id, http) : hook;
    if (this.calls.has(entry as { client: Client; call: ConnectCall })) entry.call.write(response);
  }

  private callVcs(id: string, message: SpaceliftHttpRequest): Promise<SpaceliftResponse> {
    return new Promise((resolve) => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(message.headers)) if (!GO_EXCLUDED.has(name.toLowerCase())) headers[canonical(name)] = value;
      if (message.body.length > 0) headers['Content-Length'] = String(message.body.length);
      const req = httpRequest(`${this.options.target}${message.path}`, { method: message.method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const first: Record<string, string> = {};
          for (let i = 0; i < res.rawHeaders.length; i += 2) {
            const name = canonical(res.rawHeaders[i] as string);
            if (name === 'Transfer-Encoding') continue; // Go moves it out of Header
            if (!(name in first)) first[name] = res.rawHeaders[i + 1] as string;
          }
          resolve({ id, httpResponse: { status: res.statusCode ?? 0, headers: first, body: Buffer.concat(chunks) } });
        });
      });
      req.on('error', (error) => resolve({ id, error: `couldn't do request: ${error.message}` }));
      req.end(message.body);
    });
  }
}
