import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type MinorGc = () => void;

/*
 * Peak RSS of gateway + agent streaming 1 GiB (`BENCH_RSS_ONLY=1 npm run bench`, Node 20, idle
 * 136-137 MiB): unpaced 191-201 MiB, every 4 MiB 153-155 (three runs each). The same download
 * in a shell harness: every 8 MiB 166, every 4 MiB 154, every 2 MiB 150. CPU per MiB
 * (`PROFILE_MODE=get|upload npm run bench:profile`, two runs each), unpaced against every
 * 4 MiB: downloads gateway 804-842 / 822-869 µs, agent 988-993 / 928-973; uploads gateway
 * 1354-1409 / 1443-1456, agent 1232-1289 / 1261-1270. Every 2 MiB cost the agent 3-4 % more
 * per downloaded MiB for 4 MiB less.
 */
export const GC_PACE_BYTES = 4 * 1024 * 1024;

/** V8's `gc()`, made available without `--expose-gc` on the command line. */
function exposedGc(): MinorGc {
  const existing = (globalThis as { gc?: (options?: { type: 'minor' | 'major' }) => void }).gc;
  if (existing !== undefined) return () => existing({ type: 'minor' });
  // The flag is read when a context is created: a new context gets `gc`, the main one keeps
  // its globals as they were.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void;
  return () => gc({ type: 'minor' });
}

/**
 * Returns an `onBodyChunk` hook that runs a minor GC (a scavenge) after every `everyBytes` of
 * relayed body, once per event-loop turn, after the turn's I/O.
 *
 * Why: a relayed chunk is a Buffer whose memory lives outside the JS heap and is freed only
 * when a scavenge finds its small JS wrapper dead. A 64 KiB chunk leaves a few hundred bytes
 * on the JS heap, so the young generation fills, and a scavenge comes, only after hundreds
 * of MiB of body; until then the dead chunks pile up towards V8's external-memory limit and
 * the process's resident memory grows with them (streaming 1 GiB: the agent +36-39 MiB, the
 * gateway +18-26 MiB, docs/performance.md § Memory). A scavenge that finds nothing but dead
 * chunks is short, so pacing it by bytes bounds that growth for little CPU.
 */
export function bodyGcPacer(everyBytes: number, gc: MinorGc = exposedGc()): (bytes: number) => void {
  let left = everyBytes;
  let scheduled = false;
  const collect = (): void => {
    scheduled = false;
    left = everyBytes;
    gc();
  };
  return (bytes) => {
    if (scheduled) return; // the turn's collection is coming: its budget starts after it
    left -= bytes;
    if (left > 0) return;
    scheduled = true;
    setImmediate(collect);
  };
}
