import { expect } from 'chai';
import { Agent as HttpsAgent } from 'node:https';
import { Agent as UndiciAgent } from 'undici';
import { assertNoLeak, leakBaseline } from './helpers/leak-check.js';
import { newId, startFaultStack } from './helpers/fault-stack.js';
import { checkDownload, expectUpstreamFailed } from './helpers/outcome.js';
import { tlsFixtures } from '../helpers/tls-fixtures.js';

describe('fault: the VCS presents a certificate the agent does not trust', function () {
  this.timeout(60_000);

  it('answers 502 VCS_UPSTREAM_FAILED naming the certificate problem; nothing reaches the VCS handler', async () => {
    const tls = tlsFixtures();
    const baseline = await leakBaseline();
    const stack = await startFaultStack({ parallelism: 2, vcsTls: { key: tls.key, cert: tls.cert } });
    try {
      const outcomes = await Promise.all(Array.from({ length: 4 }, () => stack.download(newId(), 1000)));
      expect(outcomes).to.have.length(4);
      expectUpstreamFailed(outcomes, /certificate/i);
      expect(stack.vcs.seen).to.deep.equal([]);
    } finally {
      await stack.close();
    }
    await assertNoLeak(baseline);
  });

  it('control: the same VCS works once its CA is trusted', async () => {
    const tls = tlsFixtures();
    const baseline = await leakBaseline();
    const upstreamAgent = new HttpsAgent({ keepAlive: true, ca: tls.ca });
    const stack = await startFaultStack({ parallelism: 2, vcsTls: { key: tls.key, cert: tls.cert }, client: { upstreamAgent } });
    try {
      const id = newId();
      expect(checkDownload(await stack.download(id, 100_000), id, 100_000)).to.equal('ok');
    } finally {
      await stack.close();
      upstreamAgent.destroy();
    }
    await assertNoLeak(baseline);
  });

  it('control: the same VCS works through an undici upstreamDispatcher that trusts its CA', async () => {
    const tls = tlsFixtures();
    const baseline = await leakBaseline();
    const upstreamDispatcher = new UndiciAgent({ connect: { ca: tls.ca } });
    const stack = await startFaultStack({ parallelism: 2, vcsTls: { key: tls.key, cert: tls.cert }, client: { upstreamDispatcher } });
    try {
      const id = newId();
      expect(checkDownload(await stack.download(id, 100_000), id, 100_000)).to.equal('ok');
    } finally {
      await stack.close();
      await upstreamDispatcher.destroy();
    }
    await assertNoLeak(baseline);
  });
});
