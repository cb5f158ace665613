import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FrontDoor } from '../../lib/gateway/front-door.js';
import { REPO_ROOT, cleanEnv, spawnAgent, startGateway, waitForAgents, type GatewayFixture, type SpawnedAgent } from '../cli/cli-harness.js';
import { waitFor } from '../helpers/wait-for.js';

/*
 * Issue 13, bug 1: a spawned `vcs-agent` drained by SIGTERM while it streams responses
 * that trickle in. The agent finished every exchange and exited 0, but closed its streams
 * before their last frames had left: the gateway saw the streams reset after all the data
 * and the caller got a connection reset instead of the end of its response.
 */

const CHUNK = 1024;
const CHUNKS = 30;
const chunkAt = (index: number): Buffer => Buffer.alloc(CHUNK, 0x61 + (index % 26));
const expectedDigest = (() => {
  const hash = createHash('sha256');
  for (let i = 0; i < CHUNKS; i++) hash.update(chunkAt(i));
  return hash.digest('hex');
})();

/** A VCS that sends one chunk of each response at once and trickles the rest after `release()`. */
class TricklingVcs {
  readonly server: Server;
  private held: Array<() => void> = [];
  private released = false;
  started = 0;

  constructor() {
    this.server = createServer((req, res) => {
      req.resume();
      this.started++;
      res.writeHead(200, { 'content-type': 'application/octet-stream' }); // chunked: not coalesced by the agent
      res.write(chunkAt(0));
      if (this.released) this.trickle(res);
      else this.held.push(() => this.trickle(res));
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  release(): void {
    this.released = true;
    for (const go of this.held.splice(0)) go();
  }

  /** The rest of the body, one chunk every 10 ms: a response still streaming through the drain. */
  private trickle(res: ServerResponse): void {
    let next = 1;
    const timer = setInterval(() => {
      if (res.destroyed) return clearInterval(timer);
      res.write(chunkAt(next++));
      if (next === CHUNKS) {
        clearInterval(timer);
        res.end();
      }
    }, 10);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

interface Outcome {
  status: number;
  bytes: number;
  digest: string;
  error?: string;
}

/** Streams one response through the front door (a plain HTTP/1.1 caller); never rejects. */
function viaFrontDoor(port: number, path: string, onFirstByte: () => void): Promise<Outcome> {
  return new Promise((resolve) => {
    const hash = createHash('sha256');
    let bytes = 0;
    let status = 0;
    const req = httpRequest({ host: '127.0.0.1', port, path }, (res) => {
      status = res.statusCode ?? 0;
      res.on('data', (chunk: Buffer) => {
        if (bytes === 0) onFirstByte();
        bytes += chunk.length;
        hash.update(chunk);
      });
      res.on('end', () => resolve({ status, bytes, digest: hash.digest('hex') }));
      res.on('error', (error) => resolve({ status, bytes, digest: '', error: error.message }));
    });
    req.on('error', (error) => resolve({ status, bytes, digest: '', error: error.message }));
    req.end();
  });
}

/** Streams one response through `gateway.request()` (the library path); never rejects. */
async function viaLibrary(gateway: GatewayFixture, path: string, onFirstByte: () => void): Promise<Outcome> {
  const hash = createHash('sha256');
  let bytes = 0;
  let status = 0;
  try {
    const response = await gateway.gateway.request(`private://${gateway.pool}${path}`);
    status = response.status;
    for await (const chunk of response.body) {
      if (bytes === 0) onFirstByte();
      bytes += (chunk as Buffer).length;
      hash.update(chunk as Buffer);
    }
    return { status, bytes, digest: hash.digest('hex') };
  } catch (error) {
    return { status, bytes, digest: '', error: (error as Error).message };
  }
}

describe('end to end: draining an agent (spawned CLI) while responses stream', function () {
  this.timeout(60_000);
  let gateway: GatewayFixture;
  let vcs: TricklingVcs;
  let vcsUrl: string;
  let frontDoor: FrontDoor;
  let frontDoorPort: number;
  const agents: SpawnedAgent[] = [];

  beforeEach(async () => {
    gateway = await startGateway();
    vcs = new TricklingVcs();
    vcsUrl = await vcs.listen();
    frontDoor = new FrontDoor(gateway.gateway);
    frontDoorPort = (await frontDoor.listen({ host: '127.0.0.1', port: 0 })).port;
  });
  afterEach(async () => {
    for (const agent of agents.splice(0)) agent.kill('SIGKILL');
    vcs.release();
    frontDoor.destroy();
    await gateway.close();
    await vcs.close();
  });

  /** Starts `count` streaming responses, SIGTERMs the agent once every one has its first byte, lets them finish. */
  async function drainDuring(callers: Array<'front-door' | 'library'>): Promise<{ outcomes: Outcome[]; agent: SpawnedAgent; code: number }> {
    const agent = spawnAgent(
      [],
      cleanEnv({
        SPACELIFT_VCS_AGENT_POOL_TOKEN: gateway.token,
        SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT: vcsUrl,
        SPACELIFT_VCS_AGENT_VENDOR: 'gitlab',
        SPACELIFT_VCS_AGENT_PARALLELISM: String(callers.length),
        SPACELIFT_VCS_AGENT_DRAIN_TIMEOUT: '30',
      }),
    );
    agents.push(agent);
    await waitForAgents(gateway, 1);
    let firstBytes = 0;
    const seen = (): void => {
      firstBytes++;
    };
    const outcomes = Promise.all(
      callers.map((caller, i) => {
        const path = `/api/v4/projects/${i + 1}/repository/archive`;
        return caller === 'front-door' ? viaFrontDoor(frontDoorPort, `/${gateway.pool}${path}`, seen) : viaLibrary(gateway, path, seen);
      }),
    );
    // Every response is under way (its first byte reached its caller) when the signal comes.
    await waitFor(() => firstBytes === callers.length, 15_000, 'the first byte of every response');
    agent.kill('SIGTERM');
    await agent.waitForLog((line) => String(line.message).startsWith('draining'), 10_000, 'the draining log line');
    await waitFor(() => gateway.gateway.connections(gateway.pool).every((c) => c.draining), 10_000, 'the gateway to see the drain');
    vcs.release();
    const results = await outcomes;
    const code = await agent.exited(20_000);
    return { outcomes: results, agent, code };
  }

  function expectComplete(outcome: Outcome, what: string): void {
    expect(outcome.error, `${what}: error`).to.equal(undefined);
    expect(outcome.status, `${what}: status`).to.equal(200);
    expect(outcome.bytes, `${what}: bytes`).to.equal(CHUNK * CHUNKS);
    expect(outcome.digest, `${what}: digest`).to.equal(expectedDigest);
  }

  it('delivers a streaming response in full to a front-door caller, then exits 0', async () => {
    const { outcomes, agent, code } = await drainDuring(['front-door']);
    expectComplete(outcomes[0] as Outcome, 'front door');
    expect(code).to.equal(0);
    const record = agent.logs().find((line) => line.decision === 'allow');
    expect(record?.status).to.equal(200);
    expect(record?.bytesOut).to.equal(CHUNK * CHUNKS);
    const access = gateway.gatewayLogger.entries.filter((entry) => entry.message === 'access');
    expect(access.map((entry) => entry.outcome)).to.deep.equal(['completed']);
  });

  it('delivers a streaming response in full to a gateway.request() caller', async () => {
    const { outcomes, code } = await drainDuring(['library']);
    expectComplete(outcomes[0] as Outcome, 'library');
    expect(code).to.equal(0);
  });

  it('delivers several concurrent streaming responses in full, through both doors', async () => {
    const callers: Array<'front-door' | 'library'> = ['front-door', 'library', 'front-door', 'library'];
    const { outcomes, code } = await drainDuring(callers);
    outcomes.forEach((outcome, i) => expectComplete(outcome, `${callers[i]} #${i}`));
    expect(vcs.started).to.equal(callers.length);
    expect(code).to.equal(0);
    const access = gateway.gatewayLogger.entries.filter((entry) => entry.message === 'access');
    expect(access.map((entry) => entry.outcome)).to.deep.equal(callers.map(() => 'completed'));
  });

  it('both CLIs (vcs-gateway serve --front-door, vcs-agent): the caller gets the whole response and the access log says completed', async () => {
    const gatewayCli = join(REPO_ROOT, 'cli', 'vcs-gateway.ts');
    const store = join(await mkdtemp(join(tmpdir(), 'drain-streaming-')), 'pools.json');
    // Port 0 for both listeners; the pool's token needs the agent listener's URL, so the
    // pool is created once the gateway says where it listens (the store file is shared).
    const gw = spawn(process.execPath, ['--import', 'tsx', gatewayCli, 'serve', '--store', store, '--listen', '127.0.0.1:0', '--front-door', '127.0.0.1:0', '--revalidate-interval', '3600'], {
      cwd: REPO_ROOT,
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    gw.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    const exited = new Promise<void>((resolve) => gw.once('exit', () => resolve()));
    try {
      const addressOf = (message: string): string | undefined => {
        for (const line of out.split('\n')) if (line.includes(`"message":"${message}"`)) return String((JSON.parse(line) as { address: string }).address);
        return undefined;
      };
      await waitFor(() => addressOf('front door listening') !== undefined, 15_000, 'the gateway CLI to listen');
      const agentAt = addressOf('gateway listening for agents') as string;
      const frontDoorAt = addressOf('front door listening') as string;
      const { stdout: token } = await promisify(execFile)(process.execPath, ['--import', 'tsx', gatewayCli, 'pool', 'create', '--store', store, '--name', 'cli-pool', '--gateway-url', `http://${agentAt}`], {
        cwd: REPO_ROOT,
        env: cleanEnv(),
        timeout: 15_000,
      });
      const agent = spawnAgent(
        [],
        cleanEnv({
          SPACELIFT_VCS_AGENT_POOL_TOKEN: token.trim(),
          SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT: vcsUrl,
          SPACELIFT_VCS_AGENT_VENDOR: 'gitlab',
          SPACELIFT_VCS_AGENT_PARALLELISM: '2',
          SPACELIFT_VCS_AGENT_DRAIN_TIMEOUT: '30',
        }),
      );
      agents.push(agent);
      // The gateway re-reads the store for a pool it does not know yet: the agent is in once its streams are.
      await agent.waitForLog((line) => line.message === 'connected to gateway', 15_000, 'the agent to connect');
      let firstByte = false;
      const outcome = viaFrontDoor(Number(frontDoorAt.split(':').pop()), '/cli-pool/api/v4/projects/1/repository/archive', () => {
        firstByte = true;
      });
      await waitFor(() => firstByte, 15_000, 'the first byte of the response');
      agent.kill('SIGTERM');
      await agent.waitForLog((line) => String(line.message).startsWith('draining'), 10_000, 'the draining log line');
      vcs.release();
      expectComplete(await outcome, 'front door of the gateway CLI');
      expect(await agent.exited(20_000)).to.equal(0);
      await waitFor(() => out.includes('"message":"access"'), 10_000, 'the access log line');
      const access = out.split('\n').filter((line) => line.includes('"message":"access"')).map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(access.map((line) => [line.status, line.outcome])).to.deep.equal([[200, 'completed']]);
    } finally {
      gw.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      if (gw.exitCode === null) gw.kill('SIGKILL');
    }
  });
});
