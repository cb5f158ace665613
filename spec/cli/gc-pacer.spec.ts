import { expect } from 'chai';
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { bodyGcPacer } from '../../cli/gc-pacer.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('bodyGcPacer (cli/gc-pacer.ts)', function () {
  it('collects once per budget of body bytes, after the turn, and never while no body flows', async () => {
    let collections = 0;
    const onChunk = bodyGcPacer(100, () => collections++);
    onChunk(60);
    await turn();
    expect(collections, 'under budget').to.equal(0);
    onChunk(60);
    onChunk(500); // over budget again in the same turn: still one collection for the turn
    expect(collections, 'not inside the I/O callback').to.equal(0);
    await turn();
    expect(collections).to.equal(1);
    onChunk(99);
    await turn();
    expect(collections, 'the budget starts again after a collection').to.equal(1);
    onChunk(1);
    await turn();
    expect(collections).to.equal(2);
    await turn();
    await turn();
    expect(collections, 'idle').to.equal(2);
  });

  it('runs a real minor GC without --expose-gc on the command line', async () => {
    expect((globalThis as { gc?: unknown }).gc, 'mocha runs without --expose-gc').to.equal(undefined);
    const kinds: number[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) kinds.push((entry as PerformanceEntry & { detail: { kind: number } }).detail.kind);
    });
    observer.observe({ entryTypes: ['gc'] });
    try {
      const onChunk = bodyGcPacer(1024);
      onChunk(4096);
      await turn();
      // GC entries are delivered asynchronously: wait a bounded number of turns for ours.
      for (let i = 0; i < 50 && !kinds.includes(constants.NODE_PERFORMANCE_GC_MINOR); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      observer.disconnect();
    }
    expect(kinds).to.include(constants.NODE_PERFORMANCE_GC_MINOR);
    expect((globalThis as { gc?: unknown }).gc, 'the main context is left as it was').to.equal(undefined);
  });
});
