import { expect } from 'chai';
import { assertNoLeak, leakBaseline } from './helpers/leak-check.js';
import { newId } from './helpers/fault-stack.js';
import { checkDownload } from './helpers/outcome.js';
import { startSpawnedStack } from './helpers/spawned-stack.js';
import { waitFor } from '../helpers/wait-for.js';

describe('fault: an agent freezes (SIGSTOP): its connection is half-open', function () {
  this.timeout(90_000);

  it('the gateway drops it after a missed PING; its in-flight request fails with a code, the other agent serves the rest', async () => {
    const baseline = await leakBaseline();
    const stack = await startSpawnedStack({ keepalive: { intervalMs: 500, timeoutMs: 1000 }, parallelism: 1 });
    try {
      const frozen = await stack.addAgent(1);
      const inFlightPath = `/allowed/never/${newId()}`;
      const inFlight = stack.get(inFlightPath, {}, 20_000);
      await waitFor(() => stack.vcs.seen.includes(inFlightPath), 20_000, 'the request to reach the VCS');
      const frozenIds = new Set(stack.gateway.gateway.connections().map((connection) => connection.agentId));
      expect(frozenIds.size, 'one agent so far').to.equal(1);
      const healthy = await stack.addAgent(2);
      frozen.child.kill('SIGSTOP');
      const evicted = await new Promise<string>((resolve) => stack.gateway.gateway.once('agent-evicted', (event) => resolve(event.reason)));
      expect(evicted).to.equal('unresponsive');
      // The frozen agent has more than one connection (--gateway-connections, default 2), each
      // found out by its own missed PING: until the last is dropped, the router may hand a
      // request to one of them in its turn, and that request fails like the one in flight.
      await waitFor(() => stack.gateway.gateway.connections().every((connection) => !frozenIds.has(connection.agentId)), 10_000, 'every connection of the frozen agent dropped');
      const outcome = await inFlight;
      expect(outcome.kind).to.equal('error');
      if (outcome.kind === 'error') expect(outcome.code).to.match(/^VCS_(STREAM_RESET|UPSTREAM_FAILED)$/);
      for (let i = 0; i < 4; i++) {
        const id = newId();
        expect(checkDownload(await stack.download(id, 100_000, 10_000), id, 100_000)).to.equal('ok');
      }
      expect(healthy.child.exitCode).to.equal(null);
      frozen.child.kill('SIGCONT');
    } finally {
      await stack.close();
    }
    await assertNoLeak(baseline);
  });
});
