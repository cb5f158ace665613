import { expect } from 'chai';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AccessLog } from '../../lib/gateway/access-log.js';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { nextEvent, waitFor } from '../helpers/wait-for.js';

/** A VCS that holds every /allowed/slow request until released. */
function holdingVcs(): { handler: (req: IncomingMessage, res: ServerResponse) => void; held: Array<() => void> } {
  const held: Array<() => void> = [];
  return {
    held,
    handler(req, res) {
      req.resume();
      const answer = (): void => {
        const body = `done ${req.url}`;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      if (req.url?.startsWith('/allowed/slow')) held.push(answer);
      else answer();
    },
  };
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
    }),
  ]);
}

describe('Gateway graceful shutdown (close) with requests in flight', () => {
  let h: Harness;
  let vcs: ReturnType<typeof holdingVcs>;

  beforeEach(async () => {
    vcs = holdingVcs();
    h = await startHarness({ policy: testPolicy, vcs: vcs.handler, parallelism: 2, frontDoor: true });
  });

  afterEach(async () => {
    for (const release of vcs.held.splice(0)) release();
    await h.close();
  });

  it('sends GOAWAY, lets in-flight requests finish, answers queued ones 503 with Retry-After, then resolves', async () => {
    const log = new AccessLog();
    log.attach(h.gateway);
    const url = (path: string): string => `${h.frontDoorUrl}/${h.pool}${path}`;
    const inFlight = [fetch(url('/allowed/slow/1')), fetch(url('/allowed/slow/2'))];
    await waitFor(() => vcs.held.length === 2, 5000, 'two requests to reach the VCS');
    const queued = fetch(url('/allowed/queued'));
    await waitFor(() => h.gateway.poolStats()[0]?.queued === 1, 5000, 'a request to queue');

    const goaway = nextEvent(h.client, 'disconnected', 5000);
    const closed = h.gateway.close({ timeoutMs: 10_000 });
    await goaway; // the agent saw the GOAWAY and is redialling

    const refused = await within(queued, 5000, 'the queued answer');
    expect(refused.status).to.equal(503);
    expect(refused.headers.get('retry-after')).to.equal('1');
    expect(refused.headers.get('vcs-gateway-error')).to.equal('VCS_CLOSED');
    const late = await fetch(url('/allowed/late'));
    expect(late.status).to.equal(503);
    expect(late.headers.get('retry-after')).to.equal('1');
    expect(h.gateway.ready).to.equal(false);

    for (const release of vcs.held.splice(0)) release();
    const responses = await within(Promise.all(inFlight), 5000, 'the in-flight answers');
    expect(responses.map((r) => r.status)).to.deep.equal([200, 200]);
    expect(await Promise.all(responses.map((r) => r.text()))).to.deep.equal(['done /allowed/slow/1', 'done /allowed/slow/2']);
    await within(closed, 5000, 'close()');

    const outcomes = log.query().map((e) => [e.path, e.status, e.outcome, e.errorCode ?? '']).reverse();
    expect(outcomes).to.deep.include.members([
      ['/allowed/queued', 0, 'rejected', 'VCS_CLOSED'],
      ['/allowed/late', 0, 'rejected', 'VCS_CLOSED'],
      ['/allowed/slow/1', 200, 'completed', ''],
      ['/allowed/slow/2', 200, 'completed', ''],
    ]);
  });

  it('destroys what is still in flight when the grace period ends', async () => {
    const inFlight = h.stream('/allowed/slow/stuck').then(
      async (response) => {
        for await (const _ of response.body) void _;
        return undefined;
      },
      (e: Error) => e,
    );
    await waitFor(() => vcs.held.length === 1, 5000, 'the request to reach the VCS');
    const started = Date.now();
    await within(h.gateway.close({ timeoutMs: 300 }), 5000, 'close()');
    expect(Date.now() - started).to.be.at.least(250);
    const error = await inFlight;
    expect(error).to.be.instanceOf(Error);
  });

  it('closes every agent connection without anything in flight, well before the grace period', async () => {
    const disconnected = nextEvent(h.gateway, 'agent-disconnected', 5000);
    const started = Date.now();
    await within(h.gateway.close({ timeoutMs: 10_000 }), 5000, 'close()');
    await disconnected;
    expect(Date.now() - started).to.be.below(5000);
    expect(h.gateway.connections()).to.deep.equal([]);
    expect(h.gateway.isClosing).to.equal(true);
  });
});
