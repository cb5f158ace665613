/*
 * "No leak" for the fault suite: after a test has closed everything it started, the process's
 * active handles (process.getActiveResourcesInfo(): sockets, servers, timers that keep the
 * loop alive, child processes) and the heap must be back where they were before it started.
 *
 * Why it is not flaky: handles close asynchronously (a destroyed socket leaves the list a
 * turn or two later), so the check polls, bounded, until the counts are back; the heap is
 * measured after forced full GCs (V8's --expose-gc switched on at run time, `gc` fetched
 * from a fresh context) and compared with a tolerance that covers lazily compiled code and
 * V8's own caches, far below what one leaked tunnel exchange with its buffers would hold.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (options?: { type: 'major' | 'minor'; execution?: 'sync' | 'async' }) => void;

/** Heap growth still counted as "back to baseline" (bytes). */
export const HEAP_TOLERANCE_BYTES = 12 * 1024 * 1024;

export interface LeakBaseline {
  handles: Map<string, number>;
  heapUsed: number;
}

/** A wait that does not itself count as an open handle (unref'd; mocha's test timer keeps the loop alive). */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function countHandles(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

async function settledHeap(): Promise<number> {
  // Several rounds: finalizers and weak callbacks of one GC free more in the next.
  for (let round = 0; round < 4; round++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  // External memory too: a leaked socket or body shows up as Buffers outside the JS heap.
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

/** Takes the baseline; call before the test starts anything. */
export async function leakBaseline(): Promise<LeakBaseline> {
  // Handles after the await: mocha arms its test timer only once the test function returned.
  const heapUsed = await settledHeap();
  return { handles: countHandles(), heapUsed };
}

function extraHandles(baseline: LeakBaseline): string[] {
  const extra: string[] = [];
  for (const [type, count] of countHandles()) {
    const before = baseline.handles.get(type) ?? 0;
    if (count > before) extra.push(`${type} ×${count - before}`);
  }
  return extra;
}

/**
 * Resolves once no handle type has more live handles than at the baseline and the heap
 * is within {@link HEAP_TOLERANCE_BYTES} of it; rejects (naming what is left) after
 * `timeoutMs`. Returns the heap growth in bytes, for the report.
 */
export async function assertNoLeak(baseline: LeakBaseline, timeoutMs = 5000): Promise<{ heapGrowth: number }> {
  const deadline = Date.now() + timeoutMs;
  // Clean on two checks 50 ms apart: a handle opened asynchronously (a lookup, then a bind)
  // must not slip between one check and the next.
  for (let clean = 0; ; ) {
    const extra = extraHandles(baseline);
    if (extra.length === 0 && ++clean === 2) break;
    if (extra.length === 0) {
      await pause(50);
      continue;
    }
    clean = 0;
    if (Date.now() > deadline) throw new Error(`Handles still open ${timeoutMs} ms after the test closed everything: ${extra.join(', ')}`);
    await pause(20);
  }
  let heapGrowth = 0;
  for (;;) {
    heapGrowth = (await settledHeap()) - baseline.heapUsed;
    if (heapGrowth <= HEAP_TOLERANCE_BYTES) return { heapGrowth };
    if (Date.now() > deadline) {
      throw new Error(`Heap grew by ${(heapGrowth / 1048576).toFixed(1)} MiB (tolerance ${HEAP_TOLERANCE_BYTES / 1048576} MiB) and stayed there`);
    }
    await pause(50);
  }
}
