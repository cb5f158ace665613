// The gateway chart's pod, run for real: helm renders the chart with every listener on
// 127.0.0.1 and free ports and a real redis-server (with a password) as the Redis; the
// container's command, args and env are then executed as the kubelet would (the downward
// API filled in, secretKeyRefs read from the rendered Secret, $(NAME) expanded in order),
// with the image's /app/dist/cli/vcs-gateway.js taken from the source (tsx). The probes'
// paths answer on the admin port, the tokens and the Redis URL reach the gateway, nothing
// secret is logged, and SIGTERM ends it cleanly. Skipped without helm or redis-server,
// except under CI=true.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { decodePoolToken } from '../../lib/protocol/token.js';
import { redisSkipReason, startRedisServer, type RunningRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait-for.js';
import { containerEnv, documents, firstContainer, helmBinary, helmTemplate, single } from './helm-runner.js';
import type { Manifest } from './kubernetes-schemas.js';
import { gatewayChartDir, gatewayCommand, gatewayInstallValues, lookup, repoRoot, skipWith } from './tools.js';

const POD_NAME = 'vcs-gateway-6d8f9c7b5d-x2x4q';
const POD_IP = '127.0.0.1';
const REDIS_PASSWORD = 'redis-secret-for-the-chart-spec';

/** Four distinct free loopback ports, all held until each is known. */
async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      servers.push(server);
    }
    return servers.map((s) => (s.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** Kubernetes' $(NAME) expansion: known names are replaced, unknown references are left as they are. */
function expand(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env[name] ?? whole);
}

/** The container's environment as the kubelet builds it, in order. */
function podEnvironment(docs: readonly Manifest[]): Record<string, string> {
  const secret = single(docs, 'Secret');
  const data = lookup(secret, ['data']) as Record<string, string>;
  const env: Record<string, string> = {};
  for (const e of containerEnv(docs)) {
    const field = e.valueFrom?.fieldRef?.fieldPath;
    const ref = e.valueFrom?.secretKeyRef;
    if (field !== undefined) {
      env[e.name] = ({ 'metadata.name': POD_NAME, 'status.podIP': POD_IP } as Record<string, string>)[field] ?? '';
      expect(env[e.name], `${e.name} from ${field}`).to.not.equal('');
    } else if (ref !== undefined) {
      expect(ref.name, e.name).to.equal(lookup(secret, ['metadata', 'name']));
      expect(data, e.name).to.have.property(ref.key);
      env[e.name] = Buffer.from(data[ref.key] ?? '', 'base64').toString('utf8');
    } else {
      env[e.name] = expand(e.value ?? '', env);
    }
  }
  return env;
}

function call(port: number, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => { text += chunk; }).on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject).on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.end(body);
  });
}

describe('the gateway chart\'s pod, run (helm template → the real vcs-gateway on 127.0.0.1 and a real Redis)', function () {
  this.timeout(60_000);
  let redis: RunningRedis | null = null;
  let child: ChildProcess | undefined;
  let output = '';
  let exitCode: number | null | undefined;
  let ports: { agents: number; frontDoor: number; admin: number; peer: number };
  let env: Record<string, string> = {};
  let args: string[] = [];

  before(async function () {
    const helm = helmBinary(this);
    const missing = redisSkipReason();
    if (missing !== undefined) skipWith(this, missing);
    redis = await startRedisServer({ password: REDIS_PASSWORD });
    if (redis === null) skipWith(this, missing ?? 'redis-server not installed');
    const [agents, frontDoor, admin, peer] = await freePorts(4);
    ports = { agents: agents ?? 0, frontDoor: frontDoor ?? 0, admin: admin ?? 0, peer: peer ?? 0 };
    const rendered = await helmTemplate(helm, gatewayChartDir, 'vcs-gateway', {
      ...gatewayInstallValues,
      gatewayUrl: `http://127.0.0.1:${ports.agents}`,
      'redis.url': redis.url,
      listenHost: '127.0.0.1',
      'agents.port': ports.agents,
      'frontDoor.port': ports.frontDoor,
      'admin.port': ports.admin,
      'peer.port': ports.peer,
    });
    expect(rendered.code, rendered.stderr).to.equal(0);
    const docs = documents(rendered.stdout);
    const container = firstContainer(docs);
    expect(container.command).to.deep.equal([...gatewayCommand]);
    env = podEnvironment(docs);
    args = (container.args as string[]).map((arg) => expand(arg, env));
    // The image's /app/dist/cli/vcs-gateway.js is the build of cli/vcs-gateway.ts.
    child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'cli', 'vcs-gateway.ts'), ...args], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', NODE_NO_WARNINGS: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
    child.once('exit', (code) => { exitCode = code; });
    await waitFor(() => output.includes('"admin listening"') || exitCode !== undefined, 30_000, 'the admin listener').catch((error: unknown) => {
      throw new Error(`${String(error)}\n${output}`);
    });
    expect(exitCode, output).to.equal(undefined);
  });

  after(async () => {
    if (child !== undefined && exitCode === undefined) {
      child.kill('SIGKILL');
      await waitFor(() => exitCode !== undefined, 10_000, 'the gateway to exit').catch(() => undefined);
    }
    await redis?.stop();
  });

  it('names the replica after the pod and replicates on the Redis from the Secret, password never logged', () => {
    expect(args).to.include(`--replica-id=${POD_NAME}`);
    const replicated = output.split('\n').filter((l) => l.includes('"replicated on redis"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(replicated.map((l) => l.replicaId)).to.deep.equal([POD_NAME]);
    expect(String(replicated[0]?.redis)).to.contain(`127.0.0.1:${String(redis?.port)}`);
    expect(env.VCS_GATEWAY_PEER_URL).to.equal(`http://${POD_IP}:${ports.peer}`);
  });

  it('answers the probes\' paths on the admin port without a token: /healthz 200, /readyz 200 (Redis reachable)', async () => {
    expect(await call(ports.admin, '/healthz')).to.deep.equal({ status: 200, body: '{"status":"ok"}' });
    const ready = await call(ports.admin, '/readyz');
    expect(ready.status, ready.body).to.equal(200);
    expect(JSON.parse(ready.body)).to.deep.equal({ status: 'ready' });
  });

  it('takes the admin token from the Secret, and writes gatewayUrl into the tokens the admin API creates', async () => {
    expect((await call(ports.admin, '/api/v1/pools')).status).to.equal(401);
    const auth = { authorization: `Bearer ${gatewayInstallValues['admin.token']}` };
    expect((await call(ports.admin, '/api/v1/pools', auth)).status).to.equal(200);
    const created = await call(ports.admin, '/api/v1/pools', { ...auth, 'content-type': 'application/json' }, 'POST', JSON.stringify({ name: 'chart-spec' }));
    expect(created.status, created.body).to.equal(201);
    expect(decodePoolToken((JSON.parse(created.body) as { token: string }).token).host).to.equal(`http://127.0.0.1:${ports.agents}`);
  });

  it('guards the front door with the front-door token from the Secret', async () => {
    expect((await call(ports.frontDoor, '/chart-spec/api/v4/version')).status).to.equal(407);
    const answer = await call(ports.frontDoor, '/no-such-pool/api/v4/version', { 'proxy-authorization': `Bearer ${gatewayInstallValues['frontDoor.token']}` });
    expect(answer.status, answer.body).to.equal(404);
  });

  it('listens for agents on the agents port', () => {
    expect(output).to.match(new RegExp(`"gateway listening for agents".*"address":"127\\.0\\.0\\.1:${ports.agents}"`));
  });

  it('logs none of the secrets', () => {
    for (const secret of [REDIS_PASSWORD, gatewayInstallValues['admin.token'], gatewayInstallValues['frontDoor.token'], gatewayInstallValues['peer.token']]) {
      expect(output).to.not.contain(secret);
    }
  });

  it('stops on SIGTERM, as Kubernetes ends a pod, exiting 0 well within the grace period', async () => {
    child?.kill('SIGTERM');
    await waitFor(() => exitCode !== undefined, 15_000, 'the gateway to exit after SIGTERM');
    expect(exitCode, output).to.equal(0);
    expect(output).to.contain('shutting down');
  });
});
