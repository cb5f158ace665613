import { expect } from 'chai';
import { assertNoLeak, leakBaseline } from './helpers/leak-check.js';
import { newId, startFaultStack } from './helpers/fault-stack.js';
import { checkDownload, outcomeOf } from './helpers/outcome.js';
import { squidMissingReason, startSquid, type RunningSquid } from '../helpers/squid.js';
import { nextEvent, waitFor } from '../helpers/wait-for.js';

describe('fault: the squid between agent and gateway restarts mid-transfer', function () {
  this.timeout(90_000);

  before(function () {
    const missing = squidMissingReason();
    if (missing !== undefined) this.skip();
  });

  it('the transfer in flight fails with VCS_STREAM_RESET, the agent redials through the new squid and serves again', async () => {
    const baseline = await leakBaseline();
    const squids: RunningSquid[] = [];
    const first = await startSquid();
    if (first === null) throw new Error('squid missing');
    squids.push(first);
    const stack = await startFaultStack({ parallelism: 2, client: { proxy: first.url, reconnect: { initialDelayMs: 50, maxDelayMs: 300 } } });
    try {
      const { harness } = stack;
      const id = newId();
      expect(checkDownload(await stack.download(id, 100_000), id, 100_000)).to.equal('ok');
      let head = false;
      const path = `/allowed/trickle/100/1024/50/${newId()}`;
      const pending = outcomeOf(async () => {
        const response = await harness.stream(path);
        head = true;
        return response;
      }, 30_000);
      await waitFor(() => head, 10_000, 'the response head');
      const lost = nextEvent(harness.client, 'disconnected', 15_000);
      await first.stop();
      await lost;
      expect(await pending).to.include({ kind: 'error', code: 'VCS_STREAM_RESET', phase: 'body' });
      const reconnected = nextEvent(harness.client, 'connected', 30_000);
      const second = await startSquid({ port: first.port });
      if (second === null) throw new Error('squid missing');
      squids.push(second);
      await reconnected;
      const after = newId();
      expect(checkDownload(await stack.download(after, 300_000), after, 300_000)).to.equal('ok');
      await waitFor(() => stack.vcs.aborted.includes(path), 10_000, 'the agent to abort the cut-off VCS request');
    } finally {
      await stack.close();
      for (const squid of squids) await squid.stop();
    }
    await assertNoLeak(baseline);
  });
});
