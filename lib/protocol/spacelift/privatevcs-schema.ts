import { loadPackageDefinition, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { fromJSON, type Options } from '@grpc/proto-loader';

/*
 * Spacelift's private VCS wire protocol, as published in spacelift-io/vcs-agent
 * (privatevcs/privatevcs.proto): package `privatevcs`, service `Gateway`, one
 * bidirectional method `Connect(stream Response) returns (stream Request)`. The roles
 * are reversed: the agent is the gRPC client, it *sends* Responses and *receives*
 * Requests. The schema is written here as a protobufjs JSON descriptor (same package,
 * message, field names and numbers) so that bundles and single-executable builds do
 * not need a .proto file on disk at run time.
 */
const DESCRIPTOR = {
  nested: {
    privatevcs: {
      nested: {
        Gateway: {
          methods: {
            Connect: { requestType: 'Response', requestStream: true, responseType: 'Request', responseStream: true },
          },
        },
        Request: {
          oneofs: { request: { oneof: ['httpRequest', 'pingRequest'] } },
          fields: {
            id: { type: 'string', id: 1 },
            httpRequest: { type: 'HTTPRequest', id: 2 },
            pingRequest: { type: 'PingRequest', id: 3 },
          },
        },
        HTTPRequest: {
          fields: {
            path: { type: 'string', id: 2 },
            method: { type: 'string', id: 3 },
            headers: { keyType: 'string', type: 'string', id: 4 },
            body: { type: 'bytes', id: 5 },
          },
        },
        PingRequest: { fields: {} },
        Response: {
          oneofs: { content: { oneof: ['error', 'httpResponse', 'pingResponse'] } },
          fields: {
            id: { type: 'string', id: 1 },
            error: { type: 'string', id: 2 },
            httpResponse: { type: 'HTTPResponse', id: 3 },
            pingResponse: { type: 'PingResponse', id: 4 },
          },
        },
        HTTPResponse: {
          fields: {
            status: { type: 'int64', id: 1 },
            headers: { keyType: 'string', type: 'string', id: 2 },
            body: { type: 'bytes', id: 3 },
          },
        },
        PingResponse: { fields: {} },
      },
    },
  },
};

/*
 * keepCase: the field names stay as in the proto (httpRequest, not http_request).
 * longs: Number: `status` is int64 on the wire but an HTTP status always fits.
 * oneofs: true adds a virtual property naming the set member (`request`, `content`).
 * defaults: true so that absent maps decode as {} and absent bytes as an empty Buffer.
 */
const LOADER_OPTIONS: Options = { keepCase: true, longs: Number, enums: String, bytes: Buffer, defaults: true, oneofs: true };

export {
  SPACELIFT_CONNECT_PATH,
  SPACELIFT_DEFAULT_MAX_MESSAGE_BYTES,
  SPACELIFT_METADATA_KEY,
  SPACELIFT_METADATA_POOL_ULID,
  SPACELIFT_METADATA_TAGS,
} from './constants.js';

export interface SpaceliftHttpRequest {
  path: string;
  method: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** What the gateway sends (the agent receives). */
export interface SpaceliftRequest {
  id: string;
  httpRequest?: SpaceliftHttpRequest | null;
  pingRequest?: Record<string, never> | null;
  /** Set by the loader (`oneofs: true`) on decode; ignored on encode. */
  request?: 'httpRequest' | 'pingRequest';
}

export interface SpaceliftHttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** What the agent sends (the gateway receives). */
export interface SpaceliftResponse {
  id: string;
  error?: string;
  httpResponse?: SpaceliftHttpResponse | null;
  pingResponse?: Record<string, never> | null;
  content?: 'error' | 'httpResponse' | 'pingResponse';
}

/*
 * protobufjs's INamespace typing has no `keyType` (map fields) and requires `comment` on
 * methods, although its JSON format reads both as written above; hence the cast.
 */
type ProtobufNamespace = Parameters<typeof fromJSON>[0];

let cached: ServiceDefinition<UntypedServiceImplementation> | undefined;

/** The `privatevcs.Gateway` service definition, for `Server.addService` and `makeGenericClientConstructor`. */
export function privatevcsGatewayService(): ServiceDefinition<UntypedServiceImplementation> {
  if (cached !== undefined) return cached;
  const grpcObject = loadPackageDefinition(fromJSON(DESCRIPTOR as unknown as ProtobufNamespace, LOADER_OPTIONS));
  const pkg = grpcObject['privatevcs'] as unknown as { Gateway: { service: ServiceDefinition<UntypedServiceImplementation> } };
  cached = pkg.Gateway.service;
  return cached;
}
