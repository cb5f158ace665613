/*
 * "Exactly one outcome per request": a request through the tunnel ends either in a complete
 * response whose body checks out, or in an error carrying a stable code. Anything else —
 * a hang past the bound, an error without a code, a short or foreign body presented as
 * complete — fails the test.
 */
import { createHash } from 'node:crypto';
import type { GatewayResponse } from '../../../lib/gateway/gateway-response.js';
import { vcsBodyDigest } from './fault-vcs.js';

export type Outcome =
  | { kind: 'complete'; status: number; bytes: number; digest: string; text: string; headers: GatewayResponse['headers'] }
  | { kind: 'error'; code: string; phase: 'head' | 'body'; message: string };

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code !== '' ? code : undefined;
}

/**
 * Runs one request and reports its single outcome. Rejects if it neither completes nor fails
 * with a coded error within `timeoutMs` (a hang), or fails with an error that has no code.
 */
export async function outcomeOf(start: () => Promise<GatewayResponse>, timeoutMs = 10_000): Promise<Outcome> {
  let phase: 'head' | 'body' = 'head';
  let timer: NodeJS.Timeout | undefined;
  let response: GatewayResponse | undefined;
  const run = async (): Promise<Outcome> => {
    response = await start();
    phase = 'body';
    const hash = createHash('sha256');
    let bytes = 0;
    const texts: Buffer[] = [];
    for await (const chunk of response.body) {
      const buffer = chunk as Buffer;
      hash.update(buffer);
      bytes += buffer.length;
      if (bytes <= 64 * 1024) texts.push(buffer);
    }
    return { kind: 'complete', status: response.status, bytes, digest: hash.digest('hex'), text: Buffer.concat(texts).toString('utf8'), headers: response.headers };
  };
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      response?.body.destroy();
      reject(new Error(`request hung: no outcome within ${timeoutMs} ms (phase ${phase})`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([run(), hang]);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('request hung')) throw error;
    const code = codeOf(error);
    if (code === undefined) throw new Error(`request failed without an error code (phase ${phase}): ${String(error)}`, { cause: error });
    return { kind: 'error', code, phase, message: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/** Asserts a complete 200 download of `vcsBody(id, size)`: right size, right bytes, right request. */
export function checkDownload(outcome: Outcome, id: string, size: number): 'ok' | 'mismatched' | 'misrouted' | 'not-complete' {
  if (outcome.kind !== 'complete' || outcome.status !== 200) return 'not-complete';
  if (outcome.headers['x-request-id'] !== id || !outcome.text.startsWith(`${id}\n`.slice(0, size))) return 'misrouted';
  return outcome.bytes === size && outcome.digest === vcsBodyDigest(id, size) ? 'ok' : 'mismatched';
}

/** Asserts a complete 200 upload answer: the VCS got exactly `vcsBody(id, size)` for this request. */
export function checkUpload(outcome: Outcome, id: string, size: number): 'ok' | 'mismatched' | 'misrouted' | 'not-complete' {
  if (outcome.kind !== 'complete' || outcome.status !== 200) return 'not-complete';
  let answer: { id?: string; bytes?: number; sha256?: string };
  try {
    answer = JSON.parse(outcome.text) as typeof answer;
  } catch {
    return 'mismatched';
  }
  if (answer.id !== id) return 'misrouted';
  return answer.bytes === size && answer.sha256 === vcsBodyDigest(id, size) ? 'ok' : 'mismatched';
}

/** Fails unless every outcome is a verified completion or an error whose code is in `allowed`. */
export function expectOutcomes(outcomes: readonly Outcome[], verdicts: readonly string[], allowed: readonly string[]): void {
  const problems: string[] = [];
  outcomes.forEach((outcome, i) => {
    if (outcome.kind === 'complete') {
      if (verdicts[i] !== 'ok') problems.push(`#${i}: complete ${outcome.status} but ${verdicts[i]}`);
    } else if (!allowed.includes(outcome.code)) problems.push(`#${i}: unexpected error ${outcome.code} (${outcome.message})`);
  });
  if (problems.length > 0) throw new Error(`requests without a valid outcome:\n${problems.join('\n')}`);
}

/**
 * Every outcome is the agent's own complete 502 answer, `VCS_UPSTREAM_FAILED`, whose message
 * matches `message`: the VCS could not be reached before any response byte.
 */
export function expectUpstreamFailed(outcomes: readonly Outcome[], message: RegExp): void {
  for (const outcome of outcomes) {
    if (outcome.kind !== 'complete') throw new Error(`expected a complete 502 answer, got ${outcome.code} (${outcome.message})`);
    if (outcome.status !== 502) throw new Error(`expected status 502, got ${outcome.status}`);
    const error = (JSON.parse(outcome.text) as { error: { code: string; message: string } }).error;
    if (error.code !== 'VCS_UPSTREAM_FAILED') throw new Error(`expected VCS_UPSTREAM_FAILED, got ${error.code}`);
    if (!message.test(error.message)) throw new Error(`expected the message to match ${message}, got ${JSON.stringify(error.message)}`);
  }
}
