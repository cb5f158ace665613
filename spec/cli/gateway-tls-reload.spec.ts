import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tlsFixtures } from '../helpers/tls-fixtures.js';
import { fingerprintOf, presentedCertificate, writeAtomically } from '../helpers/tls-probe.js';
import { waitFor } from '../helpers/wait-for.js';
import { runGateway } from './cli-harness.js';

const FAILED = 'agent listener TLS files could not be reloaded; the previous ones stay in use';
const RELOADED = 'agent listener TLS reloaded: new connections use the renewed files';

describe('vcs-gateway serve: --tls-reload-interval renews the agent listener certificate (spawned CLI)', function () {
  this.timeout(60_000);
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gateway-tls-reload-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('ignores a half-written renewal (reported once), then serves the whole one to new connections', async () => {
    const first = tlsFixtures();
    const renewed = tlsFixtures('renewed-cli-agent-listener');
    const cert = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    await Promise.all([writeFile(cert, first.cert), writeFile(key, first.key)]);
    const lines: Record<string, unknown>[] = [];
    const result = await runGateway(['serve', '--store', join(dir, 'pools.json'), '--listen', '127.0.0.1:0', '--tls-cert', cert, '--tls-key', key, '--tls-reload-interval', '0.1', '--shutdown-grace', '1'], (line) => {
      lines.push(line);
      if (line.message !== 'gateway listening for agents') return undefined;
      const port = Number(String(line.address).split(':').pop());
      return (async () => {
        const before = await presentedCertificate(port, first.ca);
        // The certificate alone: it does not match the key still in place.
        await writeAtomically(cert, renewed.cert);
        await waitFor(() => lines.some((seen) => seen.message === FAILED), 10_000, 'the half-written renewal to be reported');
        const during = await presentedCertificate(port, first.ca);
        await writeAtomically(key, renewed.key);
        await waitFor(() => lines.some((seen) => seen.message === RELOADED), 10_000, 'the renewal to be taken');
        return { before, during, after: await presentedCertificate(port, renewed.ca), oldCa: await presentedCertificate(port, first.ca) };
      })();
    });
    expect(result.code, result.stderr).to.equal(0);
    const waited = result.waited as Record<string, unknown>;
    expect(waited.before).to.deep.equal({ fingerprint256: fingerprintOf(first) });
    expect(waited.during, 'the previous files stay in use').to.deep.equal({ fingerprint256: fingerprintOf(first) });
    expect(waited.after).to.deep.equal({ fingerprint256: fingerprintOf(renewed) });
    expect(waited.oldCa).to.have.property('error');
    expect(lines.filter((line) => line.message === FAILED), 'one report per distinct reason').to.have.length(1);
    expect(lines.find((line) => line.message === RELOADED)).to.include({ fingerprint256: fingerprintOf(renewed) });
    expect(result.stdout + result.stderr).to.not.include('PRIVATE KEY');
  });

  for (const [args, env, expected] of [
    [['--tls-reload-interval', '5'], {}, '--tls-reload-interval needs --tls-cert and --tls-key'],
    [[], { VCS_GATEWAY_TLS_RELOAD_INTERVAL: '5' }, 'VCS_GATEWAY_TLS_RELOAD_INTERVAL needs --tls-cert and --tls-key'],
    [['--tls-reload-interval', '0.01', '--tls-cert', 'CERT', '--tls-key', 'KEY'], {}, 'Invalid --tls-reload-interval: expected 0 (off) or a number of seconds from 0.1'],
    [['--tls-cert', 'CERT', '--tls-key', 'KEY'], { VCS_GATEWAY_TLS_RELOAD_INTERVAL: 'soon' }, 'Invalid VCS_GATEWAY_TLS_RELOAD_INTERVAL: expected 0 (off) or a number of seconds from 0.1'],
  ] as const) {
    it(`refuses ${[...args, ...Object.entries(env).map(([name, value]) => `${name}=${value}`)].join(' ')} with one line and exit 2`, async () => {
      const first = tlsFixtures();
      await Promise.all([writeFile(join(dir, 'ok.crt'), first.cert), writeFile(join(dir, 'ok.key'), first.key)]);
      const filled = args.map((arg) => (arg === 'CERT' ? join(dir, 'ok.crt') : arg === 'KEY' ? join(dir, 'ok.key') : arg));
      const result = await runGateway(['serve', '--store', join(dir, 'pools.json'), '--listen', '127.0.0.1:0', ...filled], undefined, env);
      expect(result.code, result.stdout).to.equal(2);
      expect(result.stderr.split('\n')[0]).to.equal(`vcs-gateway: ${expected}`);
      expect(result.stderr).to.not.match(/\bat \S+:\d+:\d+/);
      expect(result.stdout).to.not.include('gateway listening for agents');
    });
  }
});
