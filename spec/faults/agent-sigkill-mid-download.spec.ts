import { expect } from 'chai';
import { assertNoLeak, leakBaseline } from './helpers/leak-check.js';
import { newId } from './helpers/fault-stack.js';
import { checkDownload, outcomeOf } from './helpers/outcome.js';
import { startSpawnedStack } from './helpers/spawned-stack.js';
import { waitFor } from '../helpers/wait-for.js';

describe('fault: the agent process is SIGKILLed mid-download', function () {
  this.timeout(90_000);

  it('the caller gets VCS_STREAM_RESET (never a short clean body); the other agent serves the next requests', async () => {
    const baseline = await leakBaseline();
    const stack = await startSpawnedStack();
    try {
      const victim = await stack.addAgent(1);
      const survivor = await stack.addAgent(2);
      // Fill both agents' streams with slow downloads; one agent dies under them.
      const paths = Array.from({ length: 4 }, () => `/allowed/trickle/100/1024/30/${newId()}`);
      // Heads first: the kill must land mid-body, after the caller has a 200.
      let heads = 0;
      const pending = paths.map((path) =>
        outcomeOf(async () => {
          const response = await stack.gateway.gateway.request(`private://${stack.gateway.pool}${path}`);
          heads++;
          return response;
        }, 30_000),
      );
      await waitFor(() => heads === paths.length, 20_000, 'every response head');
      victim.child.kill('SIGKILL');
      expect(await victim.exited(10_000)).to.equal(137);
      const outcomes = await Promise.all(pending);
      const reset = outcomes.filter((o) => o.kind === 'error');
      const complete = outcomes.filter((o) => o.kind === 'complete');
      expect(reset.length, 'requests on the killed agent').to.equal(2);
      for (const o of reset) expect(o).to.include({ code: 'VCS_STREAM_RESET', phase: 'body' });
      for (const o of complete) expect(o).to.include({ status: 200, bytes: 100 * 1024 });
      // The survivor's two gateway connections (the default) stay; the victim's are dropped.
      await waitFor(() => stack.gateway.gateway.connections(stack.gateway.pool).length === 2, 10_000, 'the dead connections to be dropped');
      for (let i = 0; i < 4; i++) {
        const id = newId();
        expect(checkDownload(await stack.download(id, 500_000), id, 500_000)).to.equal('ok');
      }
      expect(survivor.child.exitCode).to.equal(null);
    } finally {
      await stack.close();
    }
    await assertNoLeak(baseline);
  });
});
