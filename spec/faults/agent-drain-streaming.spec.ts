import { expect } from 'chai';
import { assertNoLeak, leakBaseline } from './helpers/leak-check.js';
import { newId } from './helpers/fault-stack.js';
import { outcomeOf, type Outcome } from './helpers/outcome.js';
import { startSpawnedStack } from './helpers/spawned-stack.js';
import { waitFor } from '../helpers/wait-for.js';
import { get as httpGet } from 'node:http';
import { FrontDoor } from '../../lib/gateway/front-door.js';

/** GET through the front door: status and body size, or the socket error's code. */
function frontDoorGet(url: string): Promise<{ status: number; bytes: number } | { error: string }> {
  return new Promise((resolve) => {
    const req = httpGet(url, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    });
    req.setTimeout(30_000, () => req.destroy(new Error('front door request hung')));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
  });
}

type SpawnedStack = Awaited<ReturnType<typeof startSpawnedStack>>;

/** How one drain scenario fetches, times the fault and judges each result. */
interface DrainScenario<T> {
  /** Runs once the stack is up, before any request (a front door to listen on). */
  prepare?(stack: SpawnedStack): Promise<void>;
  fetch(stack: SpawnedStack, path: string): Promise<T>;
  /** SIGTERM this long after both requests reached the VCS (0: at once). */
  delayMs: number;
  check(result: T): void;
  /** Runs before the stack closes, so the leak check sees everything released. */
  release?(): void;
}

/** Two trickling downloads (30 × 1 KiB over 3 s) on a spawned agent that is sent SIGTERM mid-response. */
async function drainDuringDownloads<T>(scenario: DrainScenario<T>): Promise<void> {
  const baseline = await leakBaseline();
  const stack = await startSpawnedStack({ parallelism: 2 });
  try {
    await scenario.prepare?.(stack);
    const agent = await stack.addAgent(1, { SPACELIFT_VCS_AGENT_DRAIN_TIMEOUT: '30' });
    const paths = [`/allowed/trickle/30/1024/100/${newId()}`, `/allowed/trickle/30/1024/100/${newId()}`];
    const pending = paths.map((path) => scenario.fetch(stack, path));
    await waitFor(() => paths.every((path) => stack.vcs.seen.includes(path)), 20_000, 'the downloads to reach the VCS');
    // The fault itself is timed: SIGTERM this far into the responses (issue 13 bug 1's shape).
    if (scenario.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, scenario.delayMs));
    agent.kill('SIGTERM');
    for (const result of await Promise.all(pending)) scenario.check(result);
    expect(await agent.exited(30_000)).to.equal(0);
  } finally {
    scenario.release?.();
    await stack.close();
  }
  await assertNoLeak(baseline);
}

function libraryGet(stack: SpawnedStack, path: string): Promise<Outcome> {
  return outcomeOf(() => stack.gateway.gateway.request(`private://${stack.gateway.pool}${path}`), 30_000);
}

describe('fault: the agent drains (SIGTERM) while long responses are streaming', function () {
  this.timeout(90_000);

  // Issue 13 bug 1's shape (front-door caller, SIGTERM 0.5 s into a trickling response).
  it('front door: every streaming response arrives whole (30 × 1 KiB over 3 s, SIGTERM 0.5 s in), then the agent exits 0', async () => {
    let frontDoor: FrontDoor | undefined;
    let port = 0;
    await drainDuringDownloads({
      async prepare(stack) {
        frontDoor = new FrontDoor(stack.gateway.gateway);
        port = (await frontDoor.listen({ host: '127.0.0.1', port: 0 })).port;
      },
      fetch: (stack, path) => frontDoorGet(`http://127.0.0.1:${port}/${stack.gateway.pool}${path}`),
      delayMs: 500,
      check: (result) => expect(result).to.deep.equal({ status: 200, bytes: 30 * 1024 }),
      release: () => frontDoor?.destroy(),
    });
  });

  it('library: every streaming response arrives whole (SIGTERM 0.5 s in), then the agent exits 0', async () => {
    await drainDuringDownloads({
      fetch: libraryGet,
      delayMs: 500,
      check: (outcome) => expect(outcome).to.include({ kind: 'complete', status: 200, bytes: 30 * 1024 }),
    });
  });

  it('library, SIGTERM as soon as the requests reach the VCS: each caller gets all of its body or a coded error, never a clean short body', async () => {
    await drainDuringDownloads({
      fetch: libraryGet,
      delayMs: 0,
      check: (outcome) => {
        if (outcome.kind === 'complete') expect(outcome).to.include({ status: 200, bytes: 30 * 1024 });
        else expect(outcome.code).to.match(/^VCS_/);
      },
    });
  });
});
