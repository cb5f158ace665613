import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

function run(file: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', file], { cwd: root, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
  });
}

// The README's first command runs examples/demo.ts: it must work and end by itself.
describe('runnable examples', function () {
  this.timeout(60_000);

  it('demo: allowed requests succeed, denied ones get 403 with a reason, the agent logs each', async () => {
    const { code, stdout } = await run('examples/demo.ts');
    expect(code).to.equal(0);
    expect(stdout).to.match(/200 GET +\/api\/v4\/projects\/acme%2Finfra\n/);
    expect(stdout).to.match(/201 POST +\/api\/v4\/projects\/acme%2Finfra\/statuses\//);
    expect(stdout).to.match(/403 DELETE/);
    expect(stdout).to.include('is not in allowed-projects');
    expect(stdout).to.match(/allow 200 GET +\/api\/v4\/projects\/acme%2Finfra +Get a project/);
    expect(stdout).to.match(/deny +403 GET +\/api\/v4\/users/);
    expect(stdout).to.not.include('glpat-demo-secret');
    expect(stdout).to.include('Demo finished.');
  });

  it('embed-agent: connects, logs an allowed and a denied request, stops', async () => {
    const { code, stdout } = await run('examples/embed-agent.ts');
    expect(code).to.equal(0);
    expect(stdout).to.match(/allow 200 GET \/api\/v3\/repos\/acme\/infra — Get a repository/);
    expect(stdout).to.match(/deny 403 GET \/api\/v3\/admin\/users/);
  });

  it('gateway-request: a pool without agents answers VCS_NO_AGENT / 503 with Retry-After', async () => {
    const { code, stdout } = await run('examples/gateway-request.ts');
    expect(code).to.equal(0);
    expect(stdout).to.include('gateway.request → VCS_NO_AGENT');
    expect(stdout).to.include('front door → 503 retry-after=1');
  });

  it('custom-vendor: defines a vendor and prints its decisions', async () => {
    const { code, stdout } = await run('examples/custom-vendor.ts');
    expect(code).to.equal(0);
    expect(stdout).to.match(/allow/i);
    expect(stdout).to.match(/deny/i);
  });
});
