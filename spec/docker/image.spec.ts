// Builds the repository's Dockerfile on a locally made Node 20 base image and
// runs the container, host network only, against a real gateway and a local
// VCS on 127.0.0.1. Skipped with the reason where no Docker engine can start;
// under CI=true (where .ci/run starts dockerd) a missing engine is a failure.
import { expect } from 'chai';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { startGateway, startVcs, waitForAgents, type GatewayFixture, type VcsFixture } from '../cli/cli-harness.js';
import { buildImage, docker, dockerOk, nodeBaseImage, requireDockerEngine } from './docker-engine.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitUntil<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('container image (docker build + docker run, host network)', function () {
  this.timeout(120_000);
  const tag = `vcs-agent:spec-${process.pid}`;
  let base = '';

  before(async function () {
    this.timeout(1_200_000);
    await requireDockerEngine(this);
    base = await nodeBaseImage(this);
    const started = Date.now();
    await buildImage(base, tag);
    console.log(`      built ${tag} on ${base} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  after(async function () {
    if (base !== '') await docker(['rmi', '-f', tag], 60_000);
  });

  it('is small: the base plus production dependencies and dist/ only', async () => {
    const [size, baseSize] = await Promise.all([tag, base].map(async (image) => Number((await dockerOk(['image', 'inspect', '-f', '{{.Size}}', image])).trim())));
    const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
    console.log(`      image ${mb(size ?? 0)} (base ${mb(baseSize ?? 0)}, added ${mb((size ?? 0) - (baseSize ?? 0))})`);
    // Production dependencies and dist/ are ~10 MB; dev dependencies would add hundreds.
    expect((size ?? 0) - (baseSize ?? 0)).to.be.below(40e6);
    const probe = 'for (const m of ["mocha","typescript","tsup","tsx","chai","@aws-cdk/lambda-layer-kubectl-v33","winston","yargs"]) { let ok = true; try { require.resolve(m, { paths: ["/app"] }); } catch { ok = false; } console.log(m + "=" + ok); }';
    const listing = await dockerOk(['run', '--rm', '--network', 'host', '--entrypoint', 'node', tag, '-e', probe]);
    expect(listing.trim().split('\n')).to.deep.equal([
      'mocha=false', 'typescript=false', 'tsup=false', 'tsx=false', 'chai=false', '@aws-cdk/lambda-layer-kubectl-v33=false', 'winston=true', 'yargs=true',
    ]);
  });

  it('declares a numeric non-root user and the agent as its exec-form entrypoint', async () => {
    const config = JSON.parse(await dockerOk(['image', 'inspect', '-f', '{{json .Config}}', tag])) as { User: string; Entrypoint: string[]; Healthcheck?: { Test: string[] } };
    expect(config.User).to.equal('1000:1000');
    expect(config.Entrypoint).to.deep.equal(['node', '/app/dist/cli/vcs-agent.js']);
    expect(config.Healthcheck?.Test.slice(0, 3)).to.deep.equal(['CMD', 'node', '-e']);
  });

  it('exits 2 with a clear error naming the missing variable, no stack trace', async () => {
    const result = await docker(['run', '--rm', '--network', 'host', tag]);
    expect(result.code).to.equal(2);
    expect(result.stderr).to.match(/SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT/);
    expect(result.stderr).to.not.match(/\n\s+at /);
  });

  describe('a container against a gateway on 127.0.0.1', () => {
    const name = `vcs-agent-spec-${process.pid}`;
    let gateway: GatewayFixture;
    let vcs: VcsFixture;

    before(async function () {
      gateway = await startGateway();
      vcs = await startVcs();
      const healthPort = await freePort();
      // The documented hardened run line (docs/docker.md), host network only.
      // --health-interval shortens the image's 30 s interval; the check itself is the image's.
      await dockerOk([
        'run', '-d', '--name', name, '--network', 'host',
        '--read-only', '--tmpfs', '/tmp', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
        '--health-interval', '1s', '--stop-timeout', '30',
        '-e', `SPACELIFT_VCS_AGENT_POOL_TOKEN=${gateway.token}`,
        '-e', `SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT=${vcs.url}`,
        '-e', 'SPACELIFT_VCS_AGENT_VENDOR=gitlab',
        '-e', 'SPACELIFT_VCS_AGENT_PARALLELISM=2',
        '-e', 'SPACELIFT_VCS_AGENT_DRAIN_TIMEOUT=25',
        '-e', `SPACELIFT_VCS_AGENT_HEALTH_LISTEN=127.0.0.1:${healthPort}`,
        tag,
      ]);
    });

    after(async () => {
      await docker(['rm', '-f', name], 60_000);
      vcs.release();
      await gateway.close();
      await vcs.close();
    });

    it('dials out to the gateway and serves an allowed request from the VCS', async () => {
      await waitForAgents(gateway, 1, 60_000);
      const response = await gateway.request('/api/v4/projects/group%2Frepo');
      expect(response.status).to.equal(200);
      expect(JSON.parse(response.body)).to.deep.equal({ ok: true, url: '/api/v4/projects/group%2Frepo' });
    });

    it('denies a request outside the vendor allowlist without reaching the VCS', async () => {
      const before = vcs.requests.length;
      const response = await gateway.request('/admin/secret');
      expect(response.status).to.equal(403);
      expect(vcs.requests.slice(before).map((r) => r.url)).to.deep.equal([]);
    });

    it('runs the agent as uid/gid 1000, not root', async () => {
      const status = await dockerOk(['exec', name, 'cat', '/proc/1/status']);
      expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).to.equal('1000');
      expect(/^Gid:\s+(\d+)/m.exec(status)?.[1]).to.equal('1000');
      expect(/^Name:\s+(\S+)/m.exec(status)?.[1]).to.equal('node');
    });

    it('turns healthy through the image\'s HEALTHCHECK', async () => {
      const health = await waitUntil(async () => {
        const state = JSON.parse(await dockerOk(['inspect', '-f', '{{json .State.Health}}', name])) as { Status: string; Log: Array<{ ExitCode: number }> };
        return state.Status === 'healthy' ? state : undefined;
      }, 60_000, 'the container to turn healthy');
      expect(health.Log.at(-1)?.ExitCode).to.equal(0);
    });

    it('drains an in-flight request on docker stop, then exits 0; the token never reaches the logs', async () => {
      const inFlight = gateway.request('/api/v4/projects/group%2Fslow');
      await waitUntil(() => (vcs.requests.some((r) => r.url.includes('slow')) ? true : undefined), 20_000, 'the request to reach the VCS');
      const stopping = docker(['stop', '-t', '30', name], 60_000);
      await waitUntil(() => (gateway.gateway.connections(gateway.pool).every((c) => c.draining) ? true : undefined), 20_000, 'the gateway to see the drain');
      expect(JSON.parse(await dockerOk(['inspect', '-f', '{{json .State.Running}}', name])), 'still running while its request is in flight').to.equal(true);
      vcs.release();
      const response = await inFlight;
      expect(response.status).to.equal(200);
      expect(JSON.parse(response.body)).to.deep.equal({ ok: true, url: '/api/v4/projects/group%2Fslow' });
      expect((await stopping).code).to.equal(0);
      const state = JSON.parse(await dockerOk(['inspect', '-f', '{{json .State}}', name])) as { ExitCode: number; OOMKilled: boolean };
      expect(state.ExitCode).to.equal(0);
      const logs = await docker(['logs', name]);
      const lines = logs.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.find((l) => l.message === 'drained; exiting')?.unfinished).to.equal(0);
      for (const text of [logs.stdout, logs.stderr]) {
        expect(text).to.not.contain(gateway.token);
        expect(text).to.not.contain(gateway.key);
      }
    });
  });
});
