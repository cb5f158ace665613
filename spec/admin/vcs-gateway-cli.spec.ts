import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TunnelClient } from '../../lib/agent/tunnel-client.js';
import { AdminClient } from '../../lib/gateway/admin/admin-client.js';
import { decodePoolToken } from '../../lib/protocol/token.js';
import { testPolicy } from '../helpers/test-policy.js';
import { nextEvent, waitFor } from '../helpers/wait-for.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'cli', 'vcs-gateway.ts');
const ADMIN_TOKEN = 'cli-admin-token-0123456789';
const FRONT_DOOR_TOKEN = 'front-door-token-0123456789';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A GET with node:http (fetch turns a 407 into a network error, per the Fetch standard). */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(5000, () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function start(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<Run> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<Run>((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function run(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const process = start(args, env);
  const timer = setTimeout(() => process.child.kill('SIGKILL'), 20_000);
  const result = await process.exited;
  clearTimeout(timer);
  return result;
}

describe('vcs-gateway CLI: serve with admin listener, front-door token, access log file; connections, pool update, pool rotate', function () {
  this.timeout(40_000);
  let dir: string;
  let vcs: Server;
  let vcsUrl: string;
  let gateway: ReturnType<typeof start> | undefined;
  let agent: TunnelClient | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gateway-cli-'));
    vcs = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`vcs saw ${req.url}`);
    });
    await new Promise<void>((resolve) => vcs.listen(0, '127.0.0.1', () => resolve()));
    vcsUrl = `http://127.0.0.1:${(vcs.address() as AddressInfo).port}`;
  });

  after(async () => {
    agent?.destroy();
    if (gateway !== undefined && gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
    vcs.closeAllConnections();
    await new Promise<void>((resolve) => vcs.close(() => resolve()));
  });

  it('serves, answers the CLI commands, protects the front door and shuts down gracefully on SIGTERM', async () => {
    const store = join(dir, 'pools.json');
    const accessFile = join(dir, 'access.jsonl');
    const tokenFile = join(dir, 'admin-token');
    await writeFile(tokenFile, `${ADMIN_TOKEN}\n`, { mode: 0o600 });
    gateway = start(
      ['serve', '--store', store, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--admin-token-file', tokenFile, '--front-door', '127.0.0.1:0', '--access-log', accessFile, '--shutdown-grace', '5'],
      { VCS_GATEWAY_FRONT_DOOR_TOKEN: FRONT_DOOR_TOKEN },
    );
    const running = gateway;
    await waitFor(() => running.stdout().includes('"admin listening"') || running.child.exitCode !== null, 15_000, 'the gateway to start');
    const lines = running.stdout().trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    const addressOf = (message: string): string => String(lines.find((line) => line.message === message)?.address);
    const agentsAt = `http://${addressOf('gateway listening for agents')}`;
    const adminUrl = `http://${addressOf('admin listening')}`;
    const frontDoorUrl = `http://${addressOf('front door listening')}`;
    expect(lines.find((line) => line.message === 'front door listening')?.token).to.equal(true);

    // A pool through the admin API; its token names the agent listener.
    const client = new AdminClient({ url: adminUrl, token: ADMIN_TOKEN });
    const { token } = await client.createPool('build-farm', 'CI');
    expect(decodePoolToken(token).host).to.equal(agentsAt);
    agent = new TunnelClient({ token, target: vcsUrl, policy: testPolicy, parallelism: 2, gatewayConnections: 1, agentId: 'cli-agent', metadata: { zone: 'a' }, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
    await agent.start();

    // Front door: the token first (407, nothing about pools), then 404 for an unknown pool, then through.
    const noToken = await get(`${frontDoorUrl}/no-such-pool/allowed/x`);
    expect(noToken.status).to.equal(407);
    expect(noToken.body).to.not.include('no-such-pool');
    const wrongToken = await get(`${frontDoorUrl}/build-farm/allowed/x`, { 'proxy-authorization': 'Bearer wrong-token-0123456789' });
    expect(wrongToken.status).to.equal(407);
    const auth = { 'proxy-authorization': `Bearer ${FRONT_DOOR_TOKEN}` };
    const unknown = await get(`${frontDoorUrl}/no-such-pool/allowed/x`, auth);
    expect(unknown.status).to.equal(404);
    expect(JSON.parse(unknown.body).error.code).to.equal('VCS_POOL_NOT_FOUND');
    const through = await get(`${frontDoorUrl}/build-farm/allowed/hello?private_token=SECRET-QUERY`, auth);
    expect(through.status).to.equal(200);
    expect(through.body).to.equal('vcs saw /allowed/hello?private_token=SECRET-QUERY');

    const env = { VCS_GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN };
    const [json, table, update, noAdmin] = await Promise.all([
      run(['connections', '--admin-url', adminUrl, '--json'], env),
      run(['connections', '--admin-url', adminUrl, '--pool', 'build-farm'], env),
      run(['pool', 'update', '--admin-url', adminUrl, '--name', 'build-farm', '--description', 'CI runners'], env),
      run(['connections', '--admin-url', adminUrl, '--pool', 'nope'], env),
    ]);
    expect(json.code, json.stderr).to.equal(0);
    const connections = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(connections.map((c) => [c.poolName, c.agentId, c.metadata])).to.deep.equal([['build-farm', 'cli-agent', { zone: 'a' }]]);
    expect(table.code, table.stderr).to.equal(0);
    expect(table.stdout.split('\n')[0]).to.match(/^POOL\s+AGENT\s+REMOTE ADDRESS\s+CONNECTED SINCE\s+VENDOR\s+VERSION\s+BUSY\/IDLE\s+SERVED\s+KEY\s+PROTOCOL\s+TAGS$/);
    expect(table.stdout).to.match(/build-farm\s+cli-agent\s+127\.0\.0\.1:\d+ .* test .*0\/2\s+1\s+1\s+vcs-agent\s+zone=a/);
    expect(update.code, update.stderr).to.equal(0);
    expect((await client.getPool('build-farm')).description).to.equal('CI runners');
    expect(noAdmin.code).to.equal(2);
    expect(noAdmin.stderr).to.include('Invalid --pool: no pool named "nope"');

    // Rotation through the API with no grace: the agent's connection is closed, the new token is printed alone.
    const disconnected = nextEvent(agent, 'disconnected', 10_000);
    const rotate = await run(['pool', 'rotate', '--admin-url', adminUrl, '--name', 'build-farm', '--grace', '0'], env);
    expect(rotate.code, rotate.stderr).to.equal(0);
    expect(decodePoolToken(rotate.stdout.trim()).pool_ulid).to.equal(decodePoolToken(token).pool_ulid);
    await disconnected;
    const badToken = await run(['connections', '--admin-url', adminUrl], { VCS_GATEWAY_ADMIN_TOKEN: 'wrong-token-0123456789' });
    expect(badToken.code).to.equal(2);
    expect(badToken.stderr).to.include('the admin API refused it');
    expect(badToken.stderr).to.not.include('wrong-token');

    // SIGTERM: a clean exit; the access log file has the request, without its secret.
    running.child.kill('SIGTERM');
    const exit = await running.exited;
    expect(exit.code, exit.stderr).to.equal(0);
    expect(exit.stdout).to.include('shutting down');
    const access = (await readFile(accessFile, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(access.map((r) => [r.pool, r.status, r.decision])).to.deep.equal([
      ['no-such-pool', 0, 'none'],
      ['build-farm', 200, 'allow'],
    ]);
    expect(JSON.stringify(access)).to.not.include('SECRET-QUERY');
    // The access lines went to the file, not into the structured log as well.
    expect(exit.stdout).to.not.match(/"message":"access"/);
    expect(exit.stdout + exit.stderr).to.not.include(ADMIN_TOKEN);
    expect(exit.stdout + exit.stderr).to.not.include(FRONT_DOOR_TOKEN);
  });

  it('refuses bad flags with exit code 2 before starting anything', async () => {
    const results = await Promise.all([
      run(['serve', '--listen', '127.0.0.1:0', '--admin-token', 'short'], {}),
      run(['serve', '--listen', '127.0.0.1:0', '--front-door-token', 'x'.repeat(20)], {}),
      run(['serve', '--listen', '127.0.0.1:0', '--admin-token', 'a'.repeat(20), '--admin-token-file', '/nonexistent'], {}),
      run(['connections'], {}),
      run(['serve', '--listen', '127.0.0.1:0', '--agent-keepalive-interval', '-1'], {}),
      run(['serve', '--listen', '127.0.0.1:0', '--agent-keepalive-timeout', '0'], {}),
      run(['serve', '--listen', '127.0.0.1:0', '--admin-token-failure-limit', '2.5'], {}),
    ]);
    expect(results.map((r) => r.code)).to.deep.equal([2, 2, 2, 2, 2, 2, 2]);
    expect(results[0]?.stderr).to.include('admin token');
    expect(results[1]?.stderr).to.include('--front-door-token needs --front-door');
    expect(results[2]?.stderr).to.include('go alone');
    expect(results[3]?.stderr).to.include('Missing admin token');
    expect(results[4]?.stderr).to.include('Invalid --agent-keepalive-interval: expected a non-negative number of seconds');
    expect(results[5]?.stderr).to.include('Invalid --agent-keepalive-timeout: expected a positive number of seconds');
    expect(results[6]?.stderr).to.include('Invalid --admin-token-failure-limit: expected a whole number of wrong tokens per minute (0: no limit)');
    for (const result of results) expect(result.stderr).to.not.match(/\n\s+at /);
  });
});
