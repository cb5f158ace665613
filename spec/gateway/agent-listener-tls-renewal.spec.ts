import { expect } from 'chai';
import { TunnelClient } from '../../lib/agent/tunnel-client.js';
import { InvalidOptionError } from '../../lib/errors.js';
import { Gateway } from '../../lib/gateway/gateway.js';
import { MemoryPoolStore } from '../../lib/pools/memory-pool-store.js';
import { startGateway, startVcs, type GatewayFixture, type VcsFixture } from '../cli/cli-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { tlsFixtures } from '../helpers/tls-fixtures.js';
import { fingerprintOf, presentedCertificate } from '../helpers/tls-probe.js';
import { waitFor } from '../helpers/wait-for.js';

describe('gateway: renewing the agent listeners’ TLS certificate (setTls)', function () {
  this.timeout(30_000);
  const first = tlsFixtures();
  const renewed = tlsFixtures('renewed-agent-listener');
  let fixture: GatewayFixture | undefined;
  let vcs: VcsFixture | undefined;
  let agent: TunnelClient | undefined;

  afterEach(async () => {
    await agent?.close({ timeoutMs: 1000 }).catch(() => agent?.destroy());
    agent = undefined;
    await fixture?.close();
    fixture = undefined;
    await vcs?.close();
    vcs = undefined;
  });

  it('serves the renewed certificate to new connections on both agent listeners, and a connected agent keeps working', async () => {
    vcs = await startVcs();
    fixture = await startGateway({ tls: { cert: first.cert, key: first.key }, host: 'localhost' });
    const spacelift = await fixture.gateway.listenSpacelift({ host: '127.0.0.1', port: 0 });
    agent = new TunnelClient({ token: fixture.token, target: vcs.url, policy: testPolicy, parallelism: 2, gatewayConnections: 1, tls: { ca: first.ca } });
    await agent.start();
    const gateway = fixture.gateway;
    await waitFor(() => gateway.connections(fixture?.pool).length === 1, 5000, 'the agent to connect');
    expect(await presentedCertificate(fixture.port, first.ca)).to.deep.equal({ fingerprint256: fingerprintOf(first) });
    expect(await presentedCertificate(spacelift.port, first.ca)).to.deep.equal({ fingerprint256: fingerprintOf(first) });

    gateway.setTls({ cert: renewed.cert, key: Buffer.from(renewed.key) });

    for (const port of [fixture.port, spacelift.port]) {
      expect(await presentedCertificate(port, renewed.ca), `port ${port}`).to.deep.equal({ fingerprint256: fingerprintOf(renewed) });
      // A client that trusts only the old CA now fails verification: the old pair is gone for new connections.
      expect(await presentedCertificate(port, first.ca), `port ${port}`).to.have.property('error');
    }
    // The agent's connection was made before the renewal and is still the one serving.
    expect(gateway.connections(fixture.pool)).to.have.length(1);
    const answer = await fixture.request('/allowed/after-renewal');
    expect(answer.status, answer.body).to.equal(200);
    expect(JSON.parse(answer.body)).to.deep.equal({ ok: true, url: '/allowed/after-renewal' });
  });

  it('refuses a pair that does not load together naming tls, and keeps serving the previous one', async () => {
    fixture = await startGateway({ tls: { cert: first.cert, key: first.key }, host: 'localhost' });
    const gateway = fixture.gateway;
    const refused = (tls: unknown): InvalidOptionError => {
      try {
        gateway.setTls(tls as { cert: string; key: string });
      } catch (error) {
        return error as InvalidOptionError;
      }
      throw new Error('accepted');
    };
    const mismatched = refused({ cert: renewed.cert, key: first.key });
    expect(mismatched).to.be.instanceOf(InvalidOptionError);
    expect(mismatched.option).to.equal('tls');
    expect(mismatched.message).to.match(/^Invalid tls: the certificate and key do not load together/);
    expect(mismatched.message).to.not.include('PRIVATE KEY');
    for (const bad of [undefined, {}, { cert: '', key: first.key }, { cert: first.cert, key: 42 }]) {
      const error = refused(bad);
      expect(error.option, JSON.stringify(bad)).to.equal('tls');
      expect(error.message).to.equal('Invalid tls: expected { cert, key }, PEM text or Buffers');
    }
    expect(await presentedCertificate(fixture.port, first.ca)).to.deep.equal({ fingerprint256: fingerprintOf(first) });
  });

  it('refuses setTls on a gateway built without TLS (no downgrade to upgrade in place)', () => {
    const gateway = new Gateway({ store: new MemoryPoolStore() });
    try {
      expect(() => gateway.setTls({ cert: first.cert, key: first.key }))
        .to.throw(InvalidOptionError, 'setTls() needs a gateway built with tls')
        .with.property('option', 'tls');
    } finally {
      gateway.destroy();
    }
  });
});
