import { expect } from 'chai';
import { assertNoLeak, leakBaseline } from './helpers/leak-check.js';
import { newId, startFaultStack } from './helpers/fault-stack.js';
import { checkDownload } from './helpers/outcome.js';
import { waitFor } from '../helpers/wait-for.js';

describe('fault: the VCS accepts the request and never answers', function () {
  this.timeout(30_000);

  it('answers 502 VCS_UPSTREAM_FAILED after the upstream timeout, and the stream serves the next request', async () => {
    const baseline = await leakBaseline();
    const stack = await startFaultStack({ parallelism: 1, client: { upstreamTimeoutMs: 400 } });
    try {
      const silent = await stack.get(`/allowed/never/${newId()}`);
      expect(silent.kind).to.equal('complete');
      if (silent.kind !== 'complete') return;
      expect(silent.status).to.equal(502);
      expect(JSON.parse(silent.text)).to.have.nested.property('error.code', 'VCS_UPSTREAM_FAILED');
      expect(JSON.parse(silent.text).error.message).to.match(/No answer from the VCS within 400 ms/);
      await waitFor(() => stack.vcs.open === 0, 5000, 'the VCS request to be closed by the agent');
      const id = newId();
      expect(checkDownload(await stack.download(id, 50_000), id, 50_000)).to.equal('ok');
    } finally {
      await stack.close();
    }
    await assertNoLeak(baseline);
  });

  it('a caller that gives up first gets VCS_ABORTED, and the agent abandons the VCS request', async () => {
    const baseline = await leakBaseline();
    const stack = await startFaultStack({ parallelism: 1 });
    try {
      const controller = new AbortController();
      const path = `/allowed/never/${newId()}`;
      const pending = stack.get(path, { signal: controller.signal });
      await waitFor(() => stack.vcs.seen.includes(path), 5000, 'the request to reach the VCS');
      controller.abort();
      expect(await pending).to.include({ kind: 'error', code: 'VCS_ABORTED', phase: 'head' });
      await waitFor(() => stack.vcs.aborted.includes(path), 5000, 'the VCS to see the request abandoned');
      const id = newId();
      expect(checkDownload(await stack.download(id, 1000), id, 1000)).to.equal('ok');
    } finally {
      await stack.close();
    }
    await assertNoLeak(baseline);
  });
});
