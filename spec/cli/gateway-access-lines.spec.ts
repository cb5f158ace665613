import { expect } from 'chai';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runGateway } from './cli-harness.js';

describe('vcs-gateway serve: access lines on stdout (spawned CLI)', function () {
  this.timeout(30_000);

  it('writes each request\'s access record to stdout once, as the admin API\'s ring keeps it (decision included)', async () => {
    const store = join(await mkdtemp(join(tmpdir(), 'fd-timeouts-')), 'pools.json');
    const result = await runGateway(['serve', '--store', store, '--listen', '127.0.0.1:0', '--front-door', '127.0.0.1:0', '--shutdown-grace', '1'], (line) => {
      if (line.message !== 'front door listening') return undefined;
      return fetch(`http://127.0.0.1:${String(line.address).split(':').pop()}/no-such-pool/api/v4/projects?private_token=secret-value`).then((res) => res.status);
    });
    expect(result.waited, result.stderr).to.be.a('number');
    const access = result.stdout.split('\n').filter((line) => line.includes('"message":"access"')).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(access, result.stdout).to.have.length(1);
    expect(result.waited).to.equal(404);
    expect(access[0]).to.include({ level: 'info', pool: 'no-such-pool', status: 0, outcome: 'rejected', errorCode: 'VCS_POOL_NOT_FOUND', decision: 'none' });
    expect(access[0]?.timestamp).to.match(/^\d{4}-/);
    expect(result.stdout).to.not.include('secret-value');
    expect(result.code).to.equal(0);
  });

});
