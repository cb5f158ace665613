import { expect } from 'chai';
import { assertNoLeak, leakBaseline } from './helpers/leak-check.js';
import { newId, startFaultStack } from './helpers/fault-stack.js';
import { checkDownload } from './helpers/outcome.js';
import { waitFor } from '../helpers/wait-for.js';

describe('fault: the VCS stops sending mid-body (connection stays open)', function () {
  this.timeout(30_000);

  it('fails the caller with VCS_STREAM_RESET once the VCS has been silent for the upstream timeout', async () => {
    const baseline = await leakBaseline();
    const stack = await startFaultStack({ parallelism: 1, client: { upstreamTimeoutMs: 400 } });
    try {
      const path = `/allowed/stall/${32 * 1024}/${newId()}`;
      const stalled = await stack.get(path);
      expect(stalled).to.include({ kind: 'error', code: 'VCS_STREAM_RESET', phase: 'body' });
      await waitFor(() => stack.vcs.aborted.includes(path), 5000, 'the agent to close the stalled VCS request');
      const id = newId();
      expect(checkDownload(await stack.download(id, 300_000), id, 300_000)).to.equal('ok');
    } finally {
      await stack.close();
    }
    await assertNoLeak(baseline);
  });
});
