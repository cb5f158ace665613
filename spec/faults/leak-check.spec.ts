// The fault suite's leak check must be able to fail: it catches an open handle, leaked
// Buffers and a retained heap, and passes when nothing is left.
import { expect } from 'chai';
import { createServer } from 'node:http';
import { assertNoLeak, leakBaseline } from './helpers/leak-check.js';

describe('the fault suite leak check', function () {
  this.timeout(30_000);
  const holder: { retained?: unknown } = {};

  it('reports a server left listening', async () => {
    const baseline = await leakBaseline();
    const server = createServer().listen(0, '127.0.0.1');
    try {
      const error = await assertNoLeak(baseline, 300).catch((e: Error) => e);
      expect(String(error)).to.match(/Handles still open .*TCPServerWrap/);
    } finally {
      server.close();
    }
  });

  it('reports 40 MiB of Buffers and 400 000 objects still referenced', async () => {
    let baseline = await leakBaseline();
    holder.retained = Array.from({ length: 40 }, (_, i) => Buffer.alloc(1024 * 1024, i));
    expect(String(await assertNoLeak(baseline, 300).catch((e: Error) => e))).to.match(/Heap grew/);
    delete holder.retained;
    baseline = await leakBaseline();
    holder.retained = Array.from({ length: 400_000 }, (_, i) => ({ i, s: String(i) }));
    expect(String(await assertNoLeak(baseline, 300).catch((e: Error) => e))).to.match(/Heap grew/);
    delete holder.retained;
  });

  it('passes once everything is released', async () => {
    const baseline = await leakBaseline();
    const server = createServer().listen(0, '127.0.0.1');
    holder.retained = Array.from({ length: 40 }, (_, i) => Buffer.alloc(1024 * 1024, i));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    delete holder.retained;
    const { heapGrowth } = await assertNoLeak(baseline);
    expect(heapGrowth).to.be.below(4 * 1024 * 1024);
  });
});
