/*
 * The VCS host name does not resolve. No DNS query may leave the machine (this host's
 * /etc/resolv.conf names an outside resolver), so the agent's upstream HTTP agent gets an
 * injected `lookup` (a standard net.connect option) that fails the way getaddrinfo does for
 * an unknown name, ENOTFOUND, without asking anyone.
 */
import { expect } from 'chai';
import { Agent as HttpAgent } from 'node:http';
import type { LookupFunction } from 'node:net';
import { Agent as UndiciAgent } from 'undici';
import { assertNoLeak, leakBaseline } from './helpers/leak-check.js';
import { newId, startFaultStack } from './helpers/fault-stack.js';
import { expectUpstreamFailed } from './helpers/outcome.js';

const NAME = 'vcs.does-not-resolve.test';

describe('fault: the VCS name does not resolve', function () {
  this.timeout(30_000);

  const failingLookup = (looked: string[]): LookupFunction =>
    ((hostname: string, _options: unknown, callback: (error: NodeJS.ErrnoException | null, address?: string, family?: number) => void) => {
      looked.push(hostname);
      const error: NodeJS.ErrnoException = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', errno: -3008, syscall: 'getaddrinfo', hostname });
      process.nextTick(callback, error);
    }) as unknown as LookupFunction;

  // The default client has no lookup hook: the same undici client is given as a dispatcher.
  const clients = [
    {
      name: 'node:http upstreamAgent',
      make(lookup: LookupFunction) {
        const agent = new HttpAgent({ keepAlive: true, lookup });
        return { options: { upstreamAgent: agent }, close: async () => agent.destroy() };
      },
    },
    {
      name: 'undici upstreamDispatcher',
      make(lookup: LookupFunction) {
        const dispatcher = new UndiciAgent({ connect: { lookup } });
        return { options: { upstreamDispatcher: dispatcher }, close: () => dispatcher.destroy() };
      },
    },
  ];

  for (const client of clients) {
    it(`answers 502 VCS_UPSTREAM_FAILED naming the lookup failure, for every request, without a DNS query (${client.name})`, async () => {
      const baseline = await leakBaseline();
      const looked: string[] = [];
      const made = client.make(failingLookup(looked));
      const stack = await startFaultStack({ parallelism: 2, client: { target: `http://${NAME}:8080`, ...made.options } });
      try {
        const outcomes = await Promise.all(Array.from({ length: 6 }, () => stack.download(newId(), 1000)));
        expect(outcomes).to.have.length(6);
        expectUpstreamFailed(outcomes, new RegExp(`ENOTFOUND ${NAME.replace(/[.]/g, '\\.')}`));
        expect(looked).to.have.length(6);
        expect(new Set(looked)).to.deep.equal(new Set([NAME]));
        expect(stack.vcs.seen).to.deep.equal([]);
      } finally {
        await stack.close();
        await made.close();
      }
      await assertNoLeak(baseline);
    });
  }
});
