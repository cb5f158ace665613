import { expect } from 'chai';
import type { ServerResponse } from 'node:http';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { waitFor } from '../helpers/wait-for.js';

describe('aborts propagate across the tunnel', function () {
  this.timeout(30_000);
  let harness: Harness;
  let slowResponse: ServerResponse | undefined;
  let slowClosedEarly: Promise<boolean>;

  before(async () => {
    harness = await startHarness({
      policy: testPolicy,
      vcs(req, res) {
        if (req.url === '/allowed/slow') {
          // Sends some body, then waits for ever: only an abort can end this.
          slowResponse = res;
          slowClosedEarly = new Promise((resolve) => res.once('close', () => resolve(!res.writableFinished)));
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('partial ');
          return;
        }
        if (req.url === '/allowed/reset') {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 1_000_000 });
          res.write(Buffer.alloc(100_000, 1), () => req.socket.destroy());
          return;
        }
        if (req.url === '/allowed/hang-after-head') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('x');
          return;
        }
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
        res.end('ok');
      },
    });
  });
  after(() => harness.close());

  it('a caller that gives up aborts the VCS request', async () => {
    const controller = new AbortController();
    const response = await harness.stream('/allowed/slow', { signal: controller.signal });
    expect(response.status).to.equal(200);
    const first = await new Promise<Buffer>((resolve) => response.body.once('data', resolve));
    expect(first.toString()).to.equal('partial ');
    const bodyError = new Promise<Error>((resolve) => response.body.once('error', resolve));
    controller.abort();
    expect((await bodyError as Error & { code?: string }).code).to.equal('VCS_ABORTED');
    expect(await slowClosedEarly, 'the VCS response was torn down before it finished').to.equal(true);
    expect(slowResponse).to.not.equal(undefined);
    // The stream is replaced and the pool keeps serving.
    const next = await harness.request('/allowed/next');
    expect(next.body.toString()).to.equal('ok');
  });

  it('a VCS reset mid-body reaches the caller as an error, not a short body', async () => {
    const response = await harness.stream('/allowed/reset');
    expect(response.status).to.equal(200);
    let received = 0;
    const error = await new Promise<Error & { code?: string }>((resolve, reject) => {
      response.body.on('data', (chunk: Buffer) => {
        received += chunk.length;
      });
      response.body.once('end', () => reject(new Error(`body ended cleanly after ${received} bytes`)));
      response.body.once('error', resolve);
    });
    expect(error.code).to.equal('VCS_STREAM_RESET');
    expect(received).to.be.below(1_000_000);
    const entry = harness.agentLog.find((line) => line.path === '/allowed/reset');
    expect(entry?.error, 'agent log names the failure').to.be.a('string');
  });

  it('an agent killed mid-response gives the caller an error; a new agent serves the next request', async () => {
    const response = await harness.stream('/allowed/hang-after-head');
    expect(response.status).to.equal(200);
    const error = new Promise<Error & { code?: string }>((resolve, reject) => {
      response.body.on('data', () => {});
      response.body.once('end', () => reject(new Error('body ended cleanly')));
      response.body.once('error', resolve);
    });
    harness.client.destroy(); // the agent process dying looks like this to the gateway
    expect((await error).code).to.equal('VCS_STREAM_RESET');
    await waitFor(() => harness.gateway.connections(harness.pool).length === 0, 5000, 'the gateway to drop the dead agent');
    const replacement = await harness.addAgent();
    expect(replacement.state).to.equal('connected');
    const next = await harness.request('/allowed/after-restart');
    expect(next.status).to.equal(200);
    expect(next.body.toString()).to.equal('ok');
  });
});
