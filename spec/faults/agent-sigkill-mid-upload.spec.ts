import { expect } from 'chai';
import { assertNoLeak, leakBaseline } from './helpers/leak-check.js';
import { newId } from './helpers/fault-stack.js';
import { checkUpload } from './helpers/outcome.js';
import { startSpawnedStack } from './helpers/spawned-stack.js';
import { waitFor } from '../helpers/wait-for.js';

describe('fault: the agent process is SIGKILLed mid-upload', function () {
  this.timeout(90_000);

  it('the uploader gets a coded error and the VCS sees the upload cut off, never completed', async () => {
    const baseline = await leakBaseline();
    const stack = await startSpawnedStack({ parallelism: 1 });
    try {
      const victim = await stack.addAgent(1);
      const id = newId();
      const path = `/allowed/ul-slow/${id}`;
      const pending = stack.upload(id, 64 * 1024 * 1024, path);
      await waitFor(() => stack.vcs.seen.includes(path), 20_000, 'the upload to reach the VCS');
      victim.child.kill('SIGKILL');
      expect(await victim.exited(10_000)).to.equal(137);
      const outcome = await pending;
      expect(outcome.kind).to.equal('error');
      if (outcome.kind === 'error') expect(outcome.code).to.match(/^VCS_(STREAM_RESET|ABORTED)$/);
      await waitFor(() => stack.vcs.aborted.includes(path), 10_000, 'the VCS to see the upload cut off');

      await stack.addAgent(1);
      const next = newId();
      expect(checkUpload(await stack.upload(next, 2 * 1024 * 1024), next, 2 * 1024 * 1024)).to.equal('ok');
    } finally {
      await stack.close();
    }
    await assertNoLeak(baseline);
  });
});
