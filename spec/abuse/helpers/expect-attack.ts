import { expect } from 'chai';
import type { AbuseStack, AttackReport } from './abuse-stack.js';

/** Peak growth of the gateway's RSS an attack may cause (it holds 64 MB of session memory at most per session). */
export const RSS_GROWTH_BOUND_MIB = 160;

/** The common verdict: gateway up, the real agent's pool served throughout, memory bounded. */
export function expectWithstood(stack: AbuseStack, numbers: AttackReport): void {
  expect(stack.gateway.child.exitCode, `gateway exited: ${stack.gateway.stderr()}`).to.equal(null);
  expect(numbers.failed, 'requests of the real agent that failed during the attack').to.deep.equal([]);
  expect(numbers.served).to.be.at.least(20);
  expect(numbers.rssPeakMiB - numbers.rssBeforeMiB, 'gateway RSS growth (MiB)').to.be.below(RSS_GROWTH_BOUND_MIB);
}
