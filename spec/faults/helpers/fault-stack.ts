/*
 * In-process fault stack: the fault VCS plus the shared tunnel harness (real gateway and
 * TunnelClient on 127.0.0.1), with the agent's target pointed at the fault VCS.
 */
import { randomUUID } from 'node:crypto';
import type { GatewayRequestInit } from '../../../lib/gateway/gateway.js';
import { startHarness, type Harness, type HarnessOptions } from '../../helpers/tunnel-harness.js';
import { testPolicy } from '../../helpers/test-policy.js';
import { startFaultVcs, vcsBody, type FaultVcs } from './fault-vcs.js';
import { outcomeOf, type Outcome } from './outcome.js';
import { Readable } from 'node:stream';

export interface FaultStack {
  harness: Harness;
  vcs: FaultVcs;
  /** GET /allowed/dl/<size>/<id>. */
  download(id: string, size: number, init?: GatewayRequestInit, timeoutMs?: number): Promise<Outcome>;
  /** POST /allowed/ul/<id> with vcsBody(id, size). */
  upload(id: string, size: number, init?: GatewayRequestInit & { path?: string }, timeoutMs?: number): Promise<Outcome>;
  get(path: string, init?: GatewayRequestInit, timeoutMs?: number): Promise<Outcome>;
  close(): Promise<void>;
}

/** A fresh id for a request, short enough for a path segment. */
export const newId = (): string => randomUUID().slice(0, 13);

export async function startFaultStack(options: Partial<HarnessOptions> & { vcsTls?: { key: string; cert: string } } = {}): Promise<FaultStack> {
  const vcs = await startFaultVcs(options.vcsTls === undefined ? {} : { tls: options.vcsTls });
  let harness: Harness;
  try {
    harness = await startHarness({ policy: testPolicy, parallelism: 2, ...options, client: { target: vcs.url, ...options.client } });
  } catch (error) {
    await vcs.close();
    throw error;
  }
  const get = (path: string, init: GatewayRequestInit = {}, timeoutMs = 10_000): Promise<Outcome> => outcomeOf(() => harness.stream(path, init), timeoutMs);
  return {
    harness,
    vcs,
    get,
    download: (id, size, init, timeoutMs) => get(`/allowed/dl/${size}/${id}`, init, timeoutMs),
    upload: (id, size, init = {}, timeoutMs) =>
      get(init.path ?? `/allowed/ul/${id}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Readable.from(vcsBody(id, size)), ...init }, timeoutMs),
    async close() {
      await harness.close();
      await vcs.close();
    },
  };
}
