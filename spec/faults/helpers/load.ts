/*
 * Background load for "under load" faults: `workers` loops, each sending mixed checksummed
 * downloads and uploads (new id each) until stopped, recording every request's outcome
 * and verdict.
 */
import { newId, type FaultStack } from './fault-stack.js';
import { checkDownload, checkUpload, type Outcome } from './outcome.js';

export interface Load {
  outcomes: Outcome[];
  verdicts: string[];
  /** Verified completions so far. */
  readonly completed: number;
  /** Error outcomes so far, by code. */
  errors(): Record<string, number>;
  /** Stops the loops and resolves once every request in flight has its outcome. */
  stop(): Promise<void>;
}

const SIZES = [0, 200, 4096, 60_000, 300_000];

export function startLoad(stack: FaultStack, workers = 8): Load {
  const outcomes: Outcome[] = [];
  const verdicts: string[] = [];
  let stopped = false;
  let completed = 0;
  const loop = async (worker: number): Promise<void> => {
    for (let n = 0; !stopped; n++) {
      const id = newId();
      const size = Math.max(SIZES[(worker + n) % SIZES.length] as number, id.length + 1);
      const upload = (worker + n) % 3 === 0;
      const outcome = upload ? await stack.upload(id, size, {}, 20_000) : await stack.download(id, size, {}, 20_000);
      const verdict = outcome.kind === 'error' ? 'error' : upload ? checkUpload(outcome, id, size) : checkDownload(outcome, id, size);
      outcomes.push(outcome);
      verdicts.push(verdict);
      if (verdict === 'ok') completed++;
      // A request refused at once (no agent, pool gone) would otherwise spin this loop.
      if (outcome.kind === 'error') await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const running = Promise.all(Array.from({ length: workers }, (_, worker) => loop(worker)));
  return {
    outcomes,
    verdicts,
    get completed() {
      return completed;
    },
    errors() {
      const counts: Record<string, number> = {};
      for (const outcome of outcomes) if (outcome.kind === 'error') counts[outcome.code] = (counts[outcome.code] ?? 0) + 1;
      return counts;
    },
    async stop() {
      stopped = true;
      await running;
    },
  };
}
