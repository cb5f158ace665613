import { expect } from 'chai';
import { assertNoLeak, leakBaseline } from './helpers/leak-check.js';
import { newId, startFaultStack } from './helpers/fault-stack.js';
import { checkDownload } from './helpers/outcome.js';
import { waitFor } from '../helpers/wait-for.js';

describe('fault: the VCS resets its connection mid-body', function () {
  this.timeout(30_000);

  it('fails the caller with VCS_STREAM_RESET (never a short clean body), and the stream serves the next request', async () => {
    const baseline = await leakBaseline();
    const stack = await startFaultStack({ parallelism: 1 });
    try {
      const outcomes = [];
      for (let i = 0; i < 5; i++) {
        const reset = await stack.get(`/allowed/reset/${64 * 1024}/${newId()}`);
        expect(reset).to.include({ kind: 'error', code: 'VCS_STREAM_RESET', phase: 'body' });
        const id = newId();
        const next = await stack.download(id, 200_000);
        expect(checkDownload(next, id, 200_000)).to.equal('ok');
        outcomes.push(reset, next);
      }
      expect(outcomes).to.have.length(10);
      await waitFor(() => stack.harness.gateway.poolStats()[0]?.streamsIdle === 1, 5000, 'the stream to be idle again');
    } finally {
      await stack.close();
    }
    await assertNoLeak(baseline);
  });
});
