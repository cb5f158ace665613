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

/** The credentials an agent presents, whatever carries them (our connect headers, Spacelift's gRPC metadata). */
export interface PresentedCredentials {
  readonly poolId: string | undefined;
  readonly key: string | undefined;
  /** The metadata tags as JSON, unchecked. */
  readonly metadata: string | undefined;
}

/** A pool and key generation the store accepts, and the checked metadata tags. */
export interface AcceptedCredentials {
  readonly kind: 'accepted';
  readonly record: PoolRecord;
  readonly keyGeneration: number;
  readonly metadata: Record<string, string>;
}

/** Why credentials are refused: HTTP status, code, reason (never the key). */
export interface RefusedCredentials {
  readonly kind: 'refused';
  readonly status: number;
  readonly code: string;
  readonly reason: string;
  readonly message: string;
}

/**
 * Checks a pool id and key against the store (SHA-256 compared in constant time, key
 * generations and grace periods, see pool-key-check.ts), then the metadata tags: the one
 * check both agent protocols go through.
 */
export async function checkPoolCredentials(presented: PresentedCredentials, store: PoolStore): Promise<AcceptedCredentials | RefusedCredentials> {
  const refuse = (status: number, code: string, reason: string, message: string): RefusedCredentials => ({ kind: 'refused', status, code, reason, message });
  const poolId = presented.poolId;
  if (poolId === undefined || !POOL_ID_PATTERN.test(poolId) || presented.key === undefined) {
    return refuse(401, 'VCS_AUTH_FAILED', 'malformed', 'Missing or malformed pool id or key');
  }
  const record = await store.get(poolId);
  if (record === undefined || record.id !== poolId) return refuse(401, 'VCS_AUTH_FAILED', 'unknown_pool', `Unknown pool ${poolId}`);
  const keyGeneration = matchPoolKey(record, presented.key);
  if (keyGeneration === undefined) return refuse(401, 'VCS_AUTH_FAILED', 'bad_key', `Wrong key for pool ${poolId}`);
  let metadata: Record<string, string>;
  try {
    metadata = decodeMetadata(presented.metadata);
  } catch (error) {
    return refuse(400, 'VCS_PROTOCOL_ERROR', 'metadata', (error as Error).message);
  }
  return { kind: 'accepted', record, keyGeneration, metadata };
}

/**
 * Checks a connect stream's headers against the store: protocol version, then the pool id,
 * key and metadata tags (checkPoolCredentials).
 */
export async function checkAgentHello(headers: IncomingHttpHeaders, store: PoolStore, closing: boolean): Promise<AcceptedAgent | RefusedAgent> {
  const hello = readConnectHeaders(headers);
  if (closing) return refused(hello, 503, 'VCS_CLOSED', 'closing', 'The gateway is shutting down');
  if (hello.protocol !== PROTOCOL_VERSION) {
    return refused(hello, 400, 'VCS_PROTOCOL_ERROR', 'protocol_version', `Unsupported protocol version: this gateway speaks ${PROTOCOL_VERSION}`);
  }
  const outcome = await checkPoolCredentials(hello, store);
  if (outcome.kind === 'refused') return refused(hello, outcome.status, outcome.code, outcome.reason, outcome.message);
  return { ...outcome, hello };
}
