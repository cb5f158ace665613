import type { IncomingHttpHeaders } from 'node:http2';
import { matchPoolKey } from '../pools/pool-key-check.js';
import type { PoolRecord, PoolStore } from '../pools/pool-store.js';
import { PROTOCOL_VERSION } from '../protocol/constants.js';
import { readConnectHeaders, type ReceivedHello } from '../protocol/handshake.js';
import { decodeMetadata } from '../protocol/metadata.js';


const POOL_ID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** An agent the gateway accepts on this connect stream. */
export interface AcceptedAgent {
  readonly kind: 'accepted';
  readonly hello: ReceivedHello;
  readonly record: PoolRecord;
  readonly keyGeneration: number;
  readonly metadata: Record<string, string>;
}

/** Why the gateway refuses a connect stream (docs/protocol.md § 2 table). */
export interface RefusedAgent {
  readonly kind: 'refused';
  readonly poolId: string;
  readonly status: number;
  readonly code: string;
  readonly reason: string;
  readonly message: string;
}

function refused(hello: ReceivedHello, status: number, code: string, reason: string, message: string): RefusedAgent {
  return { kind: 'refused', poolId: hello.poolId?.slice(0, 40) ?? '', status, code, reason, message };
}

/**
 * Checks a connect stream's headers against the store: protocol version, pool id and key
 * (SHA-256 compared in constant time, see pool-key-check.ts), then the metadata tags.
 */
export async function checkAgentHello(headers: IncomingHttpHeaders, store: PoolStore, closing: boolean): Promise<AcceptedAgent | RefusedAgent> {
  const hello = readConnectHeaders(headers);
  if (closing) return refused(hello, 503, 'VCS_CLOSED', 'closing', 'The gateway is shutting down');
  if (hello.protocol !== PROTOCOL_VERSION) {
    return refused(hello, 400, 'VCS_PROTOCOL_ERROR', 'protocol_version', `Unsupported protocol version: this gateway speaks ${PROTOCOL_VERSION}`);
  }
  const poolId = hello.poolId;
  if (poolId === undefined || !POOL_ID_PATTERN.test(poolId) || hello.key === undefined) {
    return refused(hello, 401, 'VCS_AUTH_FAILED', 'malformed', 'Missing or malformed pool id or key');
  }
  const record = await store.get(poolId);
  if (record === undefined || record.id !== poolId) return refused(hello, 401, 'VCS_AUTH_FAILED', 'unknown_pool', `Unknown pool ${poolId}`);
  const keyGeneration = matchPoolKey(record, hello.key);
  if (keyGeneration === undefined) return refused(hello, 401, 'VCS_AUTH_FAILED', 'bad_key', `Wrong key for pool ${poolId}`);
  let metadata: Record<string, string>;
  try {
    metadata = decodeMetadata(hello.metadata);
  } catch (error) {
    return refused(hello, 400, 'VCS_PROTOCOL_ERROR', 'metadata', (error as Error).message);
  }
  return { kind: 'accepted', hello, record, keyGeneration, metadata };
}
