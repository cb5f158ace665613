import { expect } from 'chai';
import { isoTime } from '../../lib/util/iso-time.js';

describe('isoTime', function () {
  it('equals Date#toISOString for times across seconds, millisecond edges, days and years', function () {
    const starts = [0, 999, 1_000, 951_782_400_000 /* 2000-02-29 */, 1_796_624_791_000, 4_102_444_799_999 /* 2099-12-31T23:59:59.999 */];
    for (const start of starts) {
      for (let ms = start; ms < start + 3_000; ms += 7) expect(isoTime(ms)).to.equal(new Date(ms).toISOString());
    }
    // Going back in time (a clock step) must not reuse the later second's prefix.
    expect(isoTime(1_796_624_791_500)).to.equal(new Date(1_796_624_791_500).toISOString());
    expect(isoTime(1_796_624_790_001)).to.equal(new Date(1_796_624_790_001).toISOString());
  });

  it('defaults to now', function () {
    const before = Date.now();
    const stamp = Date.parse(isoTime());
    expect(stamp).to.be.within(before, Date.now());
  });
});
