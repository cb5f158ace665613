import { expect } from 'chai';
import { ClusterHealth, type ComponentHealth } from '../../lib/gateway/cluster/cluster-health.js';

describe('ClusterHealth', () => {
  it('is ready until a component reports a failure, keeps the time an outage started, and names each reason once', () => {
    let now = Date.parse('2026-12-04T05:00:00.000Z');
    const health = new ClusterHealth(() => now);
    const changes: ComponentHealth[] = [];
    health.on('change', (state) => changes.push(state));
    expect(health.ready).to.equal(true);
    expect(health.reason).to.equal(undefined);

    health.report('redis', false, 'redis unreachable');
    now += 5;
    health.report('redis-subscriber', false, 'redis unreachable');
    now += 1000;
    health.report('redis', false, 'redis unreachable'); // repeated: the outage still started at 05:00:00.000
    health.report('registry', false, 'registry stale');
    expect(health.ready).to.equal(false);
    expect(health.reason).to.equal('redis unreachable since 2026-12-04T05:00:00.000Z; registry stale since 2026-12-04T05:00:01.005Z');
    expect(changes.map((c) => c.component)).to.deep.equal(['redis', 'redis-subscriber', 'registry']);

    health.report('redis', true);
    health.report('redis-subscriber', true);
    expect(health.reason).to.equal('registry stale since 2026-12-04T05:00:01.005Z');
    health.report('registry', true);
    expect(health.ready).to.equal(true);
    expect(health.snapshot().map((c) => [c.component, c.ok, c.reason])).to.deep.equal([
      ['redis', true, undefined],
      ['redis-subscriber', true, undefined],
      ['registry', true, undefined],
    ]);
  });
});
