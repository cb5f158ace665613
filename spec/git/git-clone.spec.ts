import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrontDoor } from '../../lib/gateway/front-door.js';
import { createVendorPolicy, type VendorName } from '../../lib/vendors/index.js';
import { gitHttpBackend, gitMissingReason, type GitHttpBackendState } from '../helpers/git-http-backend.js';
import { addCommits, createRepository, fileSha256, git, runGit, type CreatedRepository } from '../helpers/git-repositories.js';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { waitFor } from '../helpers/wait-for.js';

const FRONT_DOOR_TOKEN = 'front-door-token-0123456789';
const PARALLELISM = 4;
const BIG = 64 * 1024 * 1024;
const COMMITS = 3000;
const CREDENTIALS = { user: 'ci-bot', password: 'vcs-secret-password' };
/* A git credential helper answering with the VCS credentials (git-credential(1), "custom helpers"). */
const CREDENTIAL_HELPER = `!f() { echo username=${CREDENTIALS.user}; echo password=${CREDENTIALS.password}; }; f`;

interface Setup {
  readonly dir: string;
  readonly home: string;
  readonly harness: Harness;
  readonly backend: GitHttpBackendState;
  readonly frontDoor: FrontDoor;
  readonly frontDoorUrl: string;
  readonly vcsUrl: string;
}

/** A gateway + agent for `vendor`, its front door with a token, and http-backend as the VCS. */
async function startGitPool(dir: string, home: string, vendor: VendorName, allowedProjects: string): Promise<Setup> {
  const backend = gitHttpBackend({ projectRoot: join(dir, 'vcs'), basicAuth: CREDENTIALS, allowPush: true });
  const harness = await startHarness({ policy: createVendorPolicy(vendor, { allowedProjects }), vcs: backend.handler, parallelism: PARALLELISM });
  const frontDoor = new FrontDoor(harness.gateway, { token: FRONT_DOOR_TOKEN });
  const address = await frontDoor.listen({ host: '127.0.0.1', port: 0 });
  return { dir, home, harness, backend: backend.state, frontDoor, frontDoorUrl: `http://127.0.0.1:${address.port}`, vcsUrl: harness.vcsUrl };
}

/** The `-c` options a worker passes so that `https://<vcsHost>/…` goes through the pool. */
function poolConfig(setup: Setup, vcsBase: string, token: string | null = FRONT_DOOR_TOKEN): string[] {
  return [
    '-c',
    `url.${setup.frontDoorUrl}/${setup.harness.pool}/.insteadOf=${vcsBase}`,
    // Scoped to the front door, so the token goes nowhere else (docs/git.md).
    ...(token === null ? [] : ['-c', `http.${setup.frontDoorUrl}/.extraHeader=Proxy-Authorization: Bearer ${token}`]),
    '-c',
    `credential.helper=${CREDENTIAL_HELPER}`,
  ];
}

function idle(setup: Setup): boolean {
  const stats = setup.harness.gateway.poolStats().find((pool) => pool.name === setup.harness.pool);
  return stats !== undefined && stats.streamsBusy === 0 && stats.streamsIdle === PARALLELISM;
}

function upstreamHeaders(setup: Setup, pathPart: string): Array<Record<string, string | string[] | undefined>> {
  return setup.harness.vcsRequests.filter((request) => request.url.includes(pathPart)).map((request) => request.headers);
}

const skip = gitMissingReason();

describe('git clone and fetch through the pool (gitlab, real git and git http-backend)', function () {
  this.timeout(300_000);
  let setup: Setup;
  let origin: CreatedRepository;
  let direct: { head: string; blob: string };
  const GITLAB = 'https://gitlab.internal/';
  const repoPath = (dir: string): string => join(dir, 'vcs/platform/infra/network.git');

  before(async function () {
    if (skip !== undefined) {
      console.warn(`      skipped: ${skip}`);
      this.skip();
    }
    const dir = await mkdtemp(join(tmpdir(), 'vcs-git-'));
    const home = join(dir, 'home');
    origin = await createRepository(repoPath(dir), home, { commits: COMMITS, bigBlobBytes: BIG, branches: 100 });
    await createRepository(join(dir, 'vcs/platform/secret/keys.git'), home, { commits: 3 });
    await createRepository(join(dir, 'vcs/platform/infra/many-refs.git'), home, { commits: 2000, branches: 2000 });
    setup = await startGitPool(dir, home, 'gitlab', 'platform/infra/.*');
    // The reference: a clone straight from the VCS, without the pool.
    const target = join(dir, 'direct');
    await git(['-c', `credential.helper=${CREDENTIAL_HELPER}`, 'clone', '--quiet', `${setup.vcsUrl}/platform/infra/network.git`, target], { home });
    direct = { head: await git(['rev-parse', 'HEAD'], { cwd: target, home }), blob: await git(['rev-parse', 'HEAD:big.bin'], { cwd: target, home }) };
  });

  after(async function () {
    if (setup === undefined) return;
    setup.frontDoor.destroy();
    await setup.harness.close();
    await rm(setup.dir, { recursive: true, force: true });
  });

  it('clones an allowed repository (3000 commits, a 64 MiB blob) identical to a direct clone, protocol v2', async function () {
    const target = join(setup.dir, 'clone-v2');
    setup.harness.vcsRequests.length = 0;
    await git([...poolConfig(setup, GITLAB), 'clone', '--quiet', `${GITLAB}platform/infra/network.git`, target], { home: setup.home });
    expect(await git(['rev-parse', 'HEAD'], { cwd: target, home: setup.home })).to.equal(direct.head).and.to.equal(origin.head);
    expect(await git(['rev-parse', 'HEAD:big.bin'], { cwd: target, home: setup.home })).to.equal(direct.blob);
    expect(await fileSha256(join(target, 'big.bin'))).to.equal(origin.bigSha256);
    expect(Number(await git(['rev-list', '--count', 'HEAD'], { cwd: target, home: setup.home }))).to.equal(COMMITS);
    expect((await git(['branch', '-r'], { cwd: target, home: setup.home })).split('\n')).to.have.length(102);
    await git(['fsck', '--full', '--no-progress'], { cwd: target, home: setup.home });

    // What reached the VCS: git's v2 header and the VCS credentials, never the front-door token.
    const requests = upstreamHeaders(setup, '/platform/infra/network.git/');
    expect(requests.map((headers) => headers['git-protocol'])).to.satisfy((values: unknown[]) => values.length >= 2 && values.every((v) => v === 'version=2'));
    expect(requests.some((headers) => String(headers.authorization ?? '').startsWith('Basic '))).to.equal(true);
    expect(requests.every((headers) => headers['proxy-authorization'] === undefined)).to.equal(true);
    await waitFor(() => idle(setup), 10_000, 'every stream idle after the clone');
  });

  it('fetches new commits with protocol v0 (gzip negotiation bodies pass untouched)', async function () {
    const target = join(setup.dir, 'clone-v0');
    const v0 = ['-c', 'protocol.version=0'];
    setup.harness.vcsRequests.length = 0;
    await git([...poolConfig(setup, GITLAB), ...v0, 'clone', '--quiet', `${GITLAB}platform/infra/network.git`, target], { home: setup.home });
    // 101 refs at different commits mean kilobytes of "want" lines: git gzips that body (remote-curl.c).
    expect(setup.harness.vcsRequests.some((request) => request.method === 'POST' && request.headers['content-encoding'] === 'gzip')).to.equal(true);
    const head = await addCommits(repoPath(setup.dir), setup.home, 25);
    await git([...poolConfig(setup, GITLAB), ...v0, 'fetch', '--quiet', 'origin'], { cwd: target, home: setup.home });
    expect(await git(['rev-parse', 'origin/main'], { cwd: target, home: setup.home })).to.equal(head);
    const requests = upstreamHeaders(setup, '/platform/infra/network.git/');
    expect(requests.every((headers) => headers['git-protocol'] === undefined)).to.equal(true);
    expect(setup.harness.vcsRequests.filter((request) => request.method === 'POST').length).to.be.greaterThan(1);
    await git(['fsck', '--no-progress', '--connectivity-only'], { cwd: target, home: setup.home });
  });

  it('streams a negotiation body larger than http.postBuffer (chunked, protocol v0)', async function () {
    const target = join(setup.dir, 'many-refs');
    setup.harness.vcsRequests.length = 0;
    // 2000 branches at different commits: ~100 KB of "want" lines, over a 64 KiB post buffer
    // (git's default is 1 MiB), so git sends the body chunked (remote-curl.c, large_request).
    await git([...poolConfig(setup, GITLAB), '-c', 'protocol.version=0', '-c', 'http.postBuffer=65536', 'clone', '--quiet', `${GITLAB}platform/infra/many-refs.git`, target], { home: setup.home });
    const posts = setup.harness.vcsRequests.filter((request) => request.method === 'POST');
    expect(posts.some((request) => request.headers['transfer-encoding'] === 'chunked' && request.headers['content-length'] === undefined)).to.equal(true);
    expect((await git(['branch', '-r'], { cwd: target, home: setup.home })).split('\n')).to.have.length(2002);
    expect(await git(['rev-parse', 'HEAD'], { cwd: target, home: setup.home })).to.equal(await git(['rev-parse', 'main'], { cwd: join(setup.dir, 'vcs/platform/infra/many-refs.git'), home: setup.home }));
  });

  it('shallow clone (--depth 1) gets one commit', async function () {
    const target = join(setup.dir, 'shallow');
    await git([...poolConfig(setup, GITLAB), 'clone', '--quiet', '--depth', '1', `${GITLAB}platform/infra/network.git`, target], { home: setup.home });
    expect(await git(['rev-list', '--count', 'HEAD'], { cwd: target, home: setup.home })).to.equal('1');
    expect(await git(['rev-parse', '--is-shallow-repository'], { cwd: target, home: setup.home })).to.equal('true');
    expect(await fileSha256(join(target, 'big.bin'))).to.equal(origin.bigSha256);
  });

  it('partial clone (--filter=blob:none) leaves blobs out, then fetches them lazily through the pool', async function () {
    const target = join(setup.dir, 'partial');
    await git([...poolConfig(setup, GITLAB), 'clone', '--quiet', '--no-checkout', '--filter=blob:none', `${GITLAB}platform/infra/network.git`, target], { home: setup.home });
    const missing = await git(['rev-list', '--objects', '--missing=print', 'HEAD'], { cwd: target, home: setup.home });
    expect(missing).to.include(`?${direct.blob}`);
    // The lazy fetch is its own git process: it needs the pool settings in the repository.
    await git(['config', `url.${setup.frontDoorUrl}/${setup.harness.pool}/.insteadOf`, GITLAB], { cwd: target, home: setup.home });
    await git(['config', `http.${setup.frontDoorUrl}/.extraHeader`, `Proxy-Authorization: Bearer ${FRONT_DOOR_TOKEN}`], { cwd: target, home: setup.home });
    await git(['config', 'credential.helper', CREDENTIAL_HELPER], { cwd: target, home: setup.home });
    await git(['checkout', '--quiet', 'main'], { cwd: target, home: setup.home });
    expect(await fileSha256(join(target, 'big.bin'))).to.equal(origin.bigSha256);
  });

  it('refuses a repository outside --allowed-projects; the VCS never sees it', async function () {
    const result = await runGit([...poolConfig(setup, GITLAB), 'clone', `${GITLAB}platform/secret/keys.git`, join(setup.dir, 'secret')], { home: setup.home });
    expect(result.code).to.not.equal(0);
    expect(result.stderr).to.match(/403/);
    expect(setup.backend.requests.filter((line) => line.includes('/secret/'))).to.deep.equal([]);
    expect(setup.harness.agentLog.some((entry) => JSON.stringify(entry).includes('project \\"platform/secret/keys\\" is not in allowed-projects'))).to.equal(true);
  });

  it('refuses a push; the VCS never sees receive-pack', async function () {
    const target = join(setup.dir, 'shallow');
    await writeFile(join(target, 'pushed.txt'), 'no\n');
    await git(['add', 'pushed.txt'], { cwd: target, home: setup.home });
    await git(['-c', 'user.name=Spec', '-c', 'user.email=spec@example.com', 'commit', '--quiet', '-m', 'push me'], { cwd: target, home: setup.home });
    const result = await runGit([...poolConfig(setup, GITLAB), 'push', 'origin', 'HEAD:refs/heads/pushed'], { cwd: target, home: setup.home });
    expect(result.code).to.not.equal(0);
    expect(result.stderr).to.match(/403/);
    expect(setup.backend.requests.filter((line) => line.includes('receive-pack'))).to.deep.equal([]);
    expect(setup.harness.agentLog.some((entry) => JSON.stringify(entry).includes('git push (git-receive-pack) is never allowed'))).to.equal(true);
  });

  it('refuses git without the front-door token (407), before anything reaches the VCS', async function () {
    const before = setup.backend.requests.length;
    const result = await runGit([...poolConfig(setup, GITLAB, null), 'ls-remote', `${GITLAB}platform/infra/network.git`], { home: setup.home });
    expect(result.code).to.not.equal(0);
    expect(result.stderr).to.match(/407/);
    expect(setup.backend.requests.length).to.equal(before);
  });

  it('an aborted clone (git killed mid-pack) leaves no stream busy, and the pool clones again', async function () {
    const packPath = '/platform/infra/network.git/git-upload-pack';
    const sentBefore = setup.backend.bytesOut.get(packPath) ?? 0;
    setup.backend.stallAfterBytes = 8 * 1024 * 1024;
    let child: { kill(signal: NodeJS.Signals): void } | undefined;
    const clone = runGit([...poolConfig(setup, GITLAB), 'clone', '--quiet', `${GITLAB}platform/infra/network.git`, join(setup.dir, 'aborted')], {
      home: setup.home,
      onSpawn: (spawned) => {
        child = spawned;
      },
    });
    try {
      await waitFor(() => (setup.backend.bytesOut.get(packPath) ?? 0) - sentBefore >= 8 * 1024 * 1024, 60_000, 'the pack half sent');
      expect(idle(setup)).to.equal(false);
      child?.kill('SIGKILL');
      const result = await clone;
      expect(result.signal).to.equal('SIGKILL');
      await waitFor(() => idle(setup), 10_000, 'every stream idle after the abort');
      await waitFor(() => setup.backend.running === 0, 10_000, 'http-backend killed after the abort');
    } finally {
      setup.backend.release();
    }
    const again = join(setup.dir, 'after-abort');
    await git([...poolConfig(setup, GITLAB), 'clone', '--quiet', '--depth', '1', `${GITLAB}platform/infra/network.git`, again], { home: setup.home });
    expect(await fileSha256(join(again, 'big.bin'))).to.equal(origin.bigSha256);
    await waitFor(() => idle(setup), 10_000, 'every stream idle');
  });
});

/* The other vendors' URL shapes end to end: a small repository each, refusals, a push. */
const OTHER_VENDORS = [
  { vendor: 'github_enterprise', base: 'https://github.example.com/', repo: 'acme/infra.git', secret: 'acme/secrets.git', allowed: 'acme/infra' },
  { vendor: 'bitbucket_datacenter', base: 'https://bitbucket.example.com/', repo: 'scm/PRJ/infra.git', secret: 'scm/PRJ/secrets.git', allowed: 'prj/infra' },
  // Spaces in Azure DevOps project names arrive percent-encoded; the VCS decodes them.
  { vendor: 'azure_devops', base: 'https://ado.example.com/', repo: 'DefaultCollection/Platform%20Team/_git/infra', secret: 'DefaultCollection/Platform%20Team/_git/secrets', allowed: 'platform team/infra' },
] as const;

for (const shape of OTHER_VENDORS) {
  describe(`git through the pool: ${shape.vendor} URLs`, function () {
    this.timeout(120_000);
    let setup: Setup;
    let origin: CreatedRepository;

    before(async function () {
      if (skip !== undefined) {
        console.warn(`      skipped: ${skip}`);
        this.skip();
      }
      const dir = await mkdtemp(join(tmpdir(), `vcs-git-${shape.vendor}-`));
      const home = join(dir, 'home');
      origin = await createRepository(join(dir, 'vcs', decodeURIComponent(shape.repo)), home, { commits: 200, bigBlobBytes: 1024 * 1024 });
      await createRepository(join(dir, 'vcs', decodeURIComponent(shape.secret)), home, { commits: 2 });
      setup = await startGitPool(dir, home, shape.vendor, shape.allowed);
    });

    after(async function () {
      if (setup === undefined) return;
      setup.frontDoor.destroy();
      await setup.harness.close();
      await rm(setup.dir, { recursive: true, force: true });
    });

    it(`clones ${shape.repo} (v2 and v0), refuses other repositories and pushes`, async function () {
      for (const version of ['2', '0']) {
        const target = join(setup.dir, `infra-v${version}`);
        await git([...poolConfig(setup, shape.base), '-c', `protocol.version=${version}`, 'clone', '--quiet', `${shape.base}${shape.repo}`, target], { home: setup.home });
        expect(await git(['rev-parse', 'HEAD'], { cwd: target, home: setup.home })).to.equal(origin.head);
        expect(await fileSha256(join(target, 'big.bin'))).to.equal(origin.bigSha256);
      }
      const refused = await runGit([...poolConfig(setup, shape.base), 'clone', `${shape.base}${shape.secret}`, join(setup.dir, 'secrets')], { home: setup.home });
      expect(refused.code).to.not.equal(0);
      expect(refused.stderr).to.match(/403/);
      const push = await runGit([...poolConfig(setup, shape.base), 'push', 'origin', 'HEAD:refs/heads/x'], { cwd: join(setup.dir, 'infra-v2'), home: setup.home });
      expect(push.code).to.not.equal(0);
      expect(push.stderr).to.match(/403/);
      expect(setup.backend.requests.filter((line) => line.includes('secrets') || line.includes('receive-pack'))).to.deep.equal([]);
      await waitFor(() => idle(setup), 10_000, 'every stream idle');
    });
  });
}
