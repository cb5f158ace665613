import { expect } from 'chai';
import { Backoff } from '../../lib/agent/backoff.js';

describe('reconnect backoff', () => {
  it('grows exponentially up to the cap, with full jitter', () => {
    const ceilings: number[] = [];
    const backoff = new Backoff({ initialDelayMs: 100, maxDelayMs: 1000, random: () => 0.999999 });
    for (let i = 0; i < 6; i++) ceilings.push(backoff.next());
    expect(ceilings).to.deep.equal([99, 199, 399, 799, 999, 999]);
    const low = new Backoff({ initialDelayMs: 100, random: () => 0 });
    expect(low.next()).to.equal(0);
  });

  it('uses a larger cap for refused credentials', () => {
    const backoff = new Backoff({ initialDelayMs: 1000, maxDelayMs: 2000, maxAuthDelayMs: 60_000, random: () => 0.999999 });
    const delays = Array.from({ length: 8 }, () => backoff.next(true));
    expect(Math.max(...delays)).to.be.greaterThan(2000);
    expect(Math.max(...delays)).to.be.below(60_000);
  });

  it('spreads 20 agents across the window instead of synchronising them', () => {
    const delays = Array.from({ length: 20 }, () => new Backoff({ initialDelayMs: 1000 }).next());
    expect(new Set(delays.map((d) => Math.floor(d / 100))).size).to.be.greaterThan(5);
  });

  it('rejects nonsense settings, naming them', () => {
    expect(() => new Backoff({ maxDelayMs: -1 })).to.throw(/reconnect.maxDelayMs/);
  });
});
