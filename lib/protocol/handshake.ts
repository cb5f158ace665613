import { sensitiveHeaders, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Readable } from 'node:stream';
import {
  CONNECT_PATH,
  HEADER_AGENT_ID,
  HEADER_AGENT_VERSION,
  HEADER_METADATA,
  HEADER_PARALLELISM,
  HEADER_POOL,
  HEADER_PROTOCOL,
  HEADER_VENDOR,
  PROTOCOL_VERSION,
} from './constants.js';
import { errorBody } from './error-response.js';
import { encodeMetadata } from './metadata.js';

/*
 * The connect stream's request and refusal (docs/protocol.md § 2), for both roles: the
 * agent writes the headers and reads a refusal, the gateway reads the headers and refuses.
 */

/** What the agent says about itself when it opens the connect stream. */
export interface AgentHello {
  poolId: string;
  key: string;
  agentId: string;
  agentVersion: string;
  vendor: string;
  parallelism: number;
  metadata: Readonly<Record<string, string>>;
}

/** The connect stream's request headers. */
export function connectRequestHeaders(hello: AgentHello): OutgoingHttpHeaders {
  return {
    ':method': 'POST',
    ':path': CONNECT_PATH,
    authorization: `Bearer ${hello.key}`,
    [HEADER_PROTOCOL]: PROTOCOL_VERSION,
    [HEADER_POOL]: hello.poolId,
    [HEADER_AGENT_ID]: hello.agentId,
    [HEADER_AGENT_VERSION]: hello.agentVersion,
    [HEADER_VENDOR]: hello.vendor,
    [HEADER_PARALLELISM]: String(hello.parallelism),
    [HEADER_METADATA]: encodeMetadata(hello.metadata),
    // Never put the key into the HPACK dynamic table (RFC 7541 §7.1.3).
    [sensitiveHeaders]: ['authorization'],
  };
}

/** The connect headers as the gateway reads them (bounded; nothing checked yet but presence). */
export interface ReceivedHello {
  protocol: string | undefined;
  poolId: string | undefined;
  /** The presented key, when `authorization` is a Bearer credential. */
  key: string | undefined;
  agentId: string;
  agentVersion: string;
  vendor: string;
  metadata: string | undefined;
}

export function readConnectHeaders(headers: IncomingHttpHeaders): ReceivedHello {
  const authorization = single(headers.authorization);
  return {
    protocol: single(headers[HEADER_PROTOCOL]),
    poolId: single(headers[HEADER_POOL]),
    key: authorization?.startsWith('Bearer ') === true ? authorization.slice('Bearer '.length) : undefined,
    agentId: bounded(headers[HEADER_AGENT_ID]),
    agentVersion: bounded(headers[HEADER_AGENT_VERSION]),
    vendor: bounded(headers[HEADER_VENDOR]),
    metadata: single(headers[HEADER_METADATA]),
  };
}

/** Answers a stream the gateway will not take: a status and the JSON error body, then the end. */
export function refuseStream(stream: ServerHttp2Stream, status: number, code: string, message: string, reason?: string): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond({ ':status': status, 'content-type': 'application/json' });
  stream.end(errorBody(code, message, reason));
}

/** What a refusal body says, when it is our JSON error body. */
export function parseRefusal(body: string): { message?: string; reason?: string } {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown; reason?: unknown } };
    return {
      ...(typeof parsed.error?.message === 'string' ? { message: parsed.error.message } : {}),
      ...(typeof parsed.error?.reason === 'string' ? { reason: parsed.error.reason } : {}),
    };
  } catch {
    return {};
  }
}

/** Collects a refusal body (its first 16 KiB; the rest is read and dropped). */
export function collectBody(stream: Readable): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      if (size < 16_384) chunks.push(chunk);
      size += chunk.length;
    });
    const done = (): void => resolve(Buffer.concat(chunks).toString('utf8'));
    stream.once('end', done);
    stream.once('close', done);
  });
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function bounded(value: string | string[] | undefined): string {
  const text = single(value);
  return text === undefined || text === '' ? 'unknown' : text.slice(0, 128);
}
