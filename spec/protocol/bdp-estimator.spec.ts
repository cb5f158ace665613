import { expect } from 'chai';
import { BdpEstimator } from '../../lib/protocol/bdp-estimator.js';

const MiB = 1024 * 1024;
const bounds = { streamWindow: 1 * MiB, connectionWindow: 4 * MiB, maxWindow: 32 * MiB };

describe('protocol: BDP estimator (windows that follow the bandwidth-delay product)', () => {
  it('starts at the base windows', () => {
    expect(new BdpEstimator(bounds).sizes).to.deep.equal({ streamWindow: 1 * MiB, connectionWindow: 4 * MiB });
  });

  it('grows to twice what arrived in one round trip while the window is what limits, up to the bound (minimum RTT under 10 ms: loopback, LANs)', () => {
    const estimator = new BdpEstimator(bounds);
    expect(estimator.sample(1 * MiB, 0, 5)).to.deep.equal({ streamWindow: 2 * MiB, connectionWindow: 4 * MiB });
    expect(estimator.sample(2 * MiB, 0, 5)).to.deep.equal({ streamWindow: 4 * MiB, connectionWindow: 4 * MiB });
    expect(estimator.sample(4 * MiB, 0, 5)).to.deep.equal({ streamWindow: 8 * MiB, connectionWindow: 8 * MiB });
    expect(estimator.sample(32 * MiB, 0, 5)).to.deep.equal({ streamWindow: 32 * MiB, connectionWindow: 32 * MiB });
    expect(estimator.sample(32 * MiB, 0, 5)).to.equal(undefined);
    expect(estimator.sizes.streamWindow).to.equal(32 * MiB);
  });

  it('starts as slow start does on a link with a real round trip: 8 BDPs per window-limited sample, to the bound in three', () => {
    const estimator = new BdpEstimator(bounds);
    // Half the window per round trip (the other half withheld by the receiver, where twice the
    // BDP would equal the window and growth stop): 4× per sample.
    expect(estimator.sample(0.5 * MiB, 0, 40)).to.deep.equal({ streamWindow: 4 * MiB, connectionWindow: 4 * MiB });
    expect(estimator.sample(2 * MiB, 0, 40)).to.deep.equal({ streamWindow: 16 * MiB, connectionWindow: 16 * MiB });
    expect(estimator.sample(8 * MiB, 0, 40)).to.deep.equal({ streamWindow: 32 * MiB, connectionWindow: 32 * MiB });
    expect(estimator.sample(16 * MiB, 0, 40)).to.equal(undefined);
  });

  it('multiplies the BDP, not the window: a round trip stretched by queueing does not grow it', () => {
    const estimator = new BdpEstimator(bounds);
    estimator.sample(1 * MiB, 0, 40);
    expect(estimator.sizes.streamWindow).to.equal(8 * MiB);
    // Half the window arrived, but in four times the path's round trip: a BDP of 1 MiB, as before.
    expect(estimator.sample(4 * MiB, 0, 160)).to.equal(undefined);
    expect(estimator.sizes.streamWindow).to.equal(8 * MiB);
  });

  it('stops where exactly half the window arrives per round trip without a real round trip (twice the BDP is the window)', () => {
    const estimator = new BdpEstimator(bounds);
    expect(estimator.sample(0.75 * MiB, 0, 5)).to.deep.equal({ streamWindow: 1.5 * MiB, connectionWindow: 4 * MiB });
    expect(estimator.sample(0.75 * MiB, 0, 5)).to.equal(undefined);
  });

  it('does not grow while the link, not the window, limits (under half the window per round trip)', () => {
    const estimator = new BdpEstimator(bounds);
    expect(estimator.sample(400 * 1024, 0, 40)).to.equal(undefined);
    expect(estimator.sizes.streamWindow).to.equal(1 * MiB);
  });

  it('never grows where the base window covers the path (a round trip that is mostly queueing, as on loopback)', () => {
    const estimator = new BdpEstimator(bounds);
    expect(estimator.sample(0, 0, 0.1)).to.equal(undefined);
    // A full window arrived, but during a ping delayed 30× by queued data: the path holds 1/30 of it.
    expect(estimator.sample(1 * MiB, 0, 3)).to.equal(undefined);
    expect(estimator.sizes.streamWindow).to.equal(1 * MiB);
  });

  it('takes the path delay from a quiet round trip: loopback samples all stretched by queueing never grow the windows', () => {
    // A busy machine: every sample under load takes 12-30 ms on loopback, as if the link were real.
    const stretched = new BdpEstimator(bounds);
    expect(stretched.sample(8 * MiB, 0, 12)).to.not.equal(undefined); // without a quiet sample: grown 8 BDPs at once
    const quiet = new BdpEstimator(bounds);
    quiet.quietSample(0.2); // the ping once connected: the path itself
    for (const rtt of [12, 30, 15, 20]) expect(quiet.sample(8 * MiB, 0, rtt), `${rtt} ms`).to.equal(undefined);
    expect(quiet.sizes).to.deep.equal({ streamWindow: bounds.streamWindow, connectionWindow: bounds.connectionWindow });
    // A real 40 ms link measures 40 ms quiet too, and grows as before.
    const wan = new BdpEstimator(bounds);
    wan.quietSample(40);
    expect(wan.sample(bounds.streamWindow, 0, 41)?.streamWindow).to.equal(Math.ceil(8 * (bounds.streamWindow / 41) * 40));
  });

  it('does not take a longer round trip from queueing for more bandwidth', () => {
    const estimator = new BdpEstimator(bounds);
    expect(estimator.sample(1 * MiB, 0, 10)).to.not.equal(undefined);
    // Half the (8 MiB) window arrived, but the round trip grew 20×: the bandwidth fell.
    expect(estimator.sample(4 * MiB, 0, 200)).to.equal(undefined);
  });

  it('goes back to the base windows when bulk data flows both ways (the full-duplex deadlock)', () => {
    const estimator = new BdpEstimator(bounds);
    estimator.sample(1 * MiB, 0, 40);
    estimator.sample(2 * MiB, 0, 40);
    expect(estimator.sample(3 * MiB, 2 * MiB, 40)).to.deep.equal({ streamWindow: 1 * MiB, connectionWindow: 4 * MiB });
    // And it does not grow while both directions stay busy.
    expect(estimator.sample(1 * MiB, 1 * MiB, 40)).to.equal(undefined);
    expect(estimator.sizes.streamWindow).to.equal(1 * MiB);
  });

  it('keeps growing with small control traffic going the other way (WINDOW_UPDATEs, acks)', () => {
    const estimator = new BdpEstimator(bounds);
    expect(estimator.sample(1 * MiB, 64 * 1024, 40)).to.deep.equal({ streamWindow: 8 * MiB, connectionWindow: 8 * MiB });
  });

  it('resets on request and refuses inconsistent bounds', () => {
    const estimator = new BdpEstimator(bounds);
    expect(estimator.reset()).to.equal(undefined);
    estimator.sample(1 * MiB, 0, 40);
    expect(estimator.reset()).to.deep.equal({ streamWindow: 1 * MiB, connectionWindow: 4 * MiB });
    expect(() => new BdpEstimator({ streamWindow: 4, connectionWindow: 2, maxWindow: 8 })).to.throw(RangeError);
  });

  it('smooths the round trip', () => {
    const estimator = new BdpEstimator(bounds);
    estimator.sample(0, 0, 10);
    estimator.sample(0, 0, 30);
    expect(estimator.rtt).to.equal(20);
  });
});
