import { expect } from 'chai';
import { BdpEstimator } from '../../lib/protocol/bdp-estimator.js';

const MiB = 1024 * 1024;
const bounds = { streamWindow: 1 * MiB, connectionWindow: 4 * MiB, maxWindow: 32 * MiB };

describe('protocol: BDP estimator (windows that follow the bandwidth-delay product)', () => {
  it('starts at the base windows', () => {
    expect(new BdpEstimator(bounds).sizes).to.deep.equal({ streamWindow: 1 * MiB, connectionWindow: 4 * MiB });
  });

  it('grows to twice what arrived in one round trip, plus the half window nghttp2 may withhold, while the window is what limits, up to the bound', () => {
    const estimator = new BdpEstimator(bounds);
    // 40 ms RTT, one stream filling its window every round trip: 2 × BDP + window / 2.
    expect(estimator.sample(1 * MiB, 0, 40)).to.deep.equal({ streamWindow: 2.5 * MiB, connectionWindow: 4 * MiB });
    expect(estimator.sample(2.5 * MiB, 0, 40)).to.deep.equal({ streamWindow: 6.25 * MiB, connectionWindow: 6.25 * MiB });
    expect(estimator.sample(6.25 * MiB, 0, 40)).to.deep.equal({ streamWindow: 15.625 * MiB, connectionWindow: 15.625 * MiB });
    expect(estimator.sample(15.625 * MiB, 0, 40)).to.deep.equal({ streamWindow: 32 * MiB, connectionWindow: 32 * MiB });
    expect(estimator.sample(32 * MiB, 0, 40)).to.equal(undefined);
    expect(estimator.sizes.streamWindow).to.equal(32 * MiB);
  });

  it('keeps growing when exactly half the window arrives per round trip (the other half withheld by the receiver)', () => {
    const estimator = new BdpEstimator(bounds);
    estimator.sample(1 * MiB, 0, 40);
    expect(estimator.sizes.streamWindow).to.equal(2.5 * MiB);
    // Twice the BDP alone would equal the window here, and growth would stop at 2.5 MiB.
    expect(estimator.sample(1.25 * MiB, 0, 40)).to.deep.equal({ streamWindow: 3.75 * MiB, connectionWindow: 4 * MiB });
    expect(estimator.sample(1.875 * MiB, 0, 40)?.streamWindow).to.equal(5.625 * MiB);
  });

  it('adds no allowance on a link without a real round trip (minimum RTT under 10 ms, as loopback under load): twice the BDP only', () => {
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

  it('does not take a longer round trip from queueing for more bandwidth', () => {
    const estimator = new BdpEstimator(bounds);
    expect(estimator.sample(1 * MiB, 0, 10)).to.not.equal(undefined);
    // Same bytes per round trip, but the round trip grew: the bandwidth did not rise.
    expect(estimator.sample(2 * MiB, 0, 200)).to.equal(undefined);
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
    expect(estimator.sample(1 * MiB, 64 * 1024, 40)).to.deep.equal({ streamWindow: 2.5 * MiB, connectionWindow: 4 * MiB });
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
