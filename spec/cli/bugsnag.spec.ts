import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBugsnagReporter, isOperatorError, scrubText } from '../../cli/bugsnag-reporter.js';
import { ConfigError } from '../../cli/config-error.js';
import { AuthenticationError, InvalidOptionError, InvalidTokenError } from '../../lib/errors.js';
import { cleanEnv, spawnAgent, startGateway, startVcs, type GatewayFixture, type VcsFixture } from './cli-harness.js';

const API_KEY = '0123456789abcdef0123456789abcdef';

interface Received {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A stand-in for notify.bugsnag.com on 127.0.0.1:0 that records what it receives. */
async function startNotifyServer(): Promise<{ url: string; received: Received[]; server: Server; waitFor(count: number, timeoutMs?: number): Promise<void> }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(202, { 'content-type': 'text/plain' });
      res.end('OK');
    });
  });
  const address = await new Promise<AddressInfo>((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address() as AddressInfo)));
  return {
    url: `http://127.0.0.1:${address.port}/`,
    received,
    server,
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${count} report(s); got ${received.length}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
}

describe('--bugsnag-api-key: error reports', function () {
  this.timeout(60_000);

  describe('createBugsnagReporter', function () {
    it('sends an unexpected error to the notify endpoint with every secret scrubbed', async function () {
      const notify = await startNotifyServer();
      try {
        const reporter = createBugsnagReporter({ apiKey: API_KEY, notifyEndpoint: notify.url, sessionsEndpoint: notify.url, secrets: ['pool-key-SECRET-123', 'token-SECRET-456'] });
        const error = new Error(
          'boom: key pool-key-SECRET-123 token token-SECRET-456 Authorization: Bearer abcdefghijklmnop url https://user:pw-SECRET@proxy.corp /api?private_token=glpat-SECRET&x=1',
        );
        (error as Error & { request?: unknown }).request = { body: 'request-body-SECRET' };
        await reporter.report(error, 'uncaughtException');
        await notify.waitFor(1);
        const [report] = notify.received;
        expect(report?.headers['bugsnag-api-key']).to.equal(API_KEY);
        const body = report?.body ?? '';
        for (const secret of ['pool-key-SECRET-123', 'token-SECRET-456', 'abcdefghijklmnop', 'pw-SECRET', 'glpat-SECRET', 'request-body-SECRET']) expect(body, secret).to.not.include(secret);
        const payload = JSON.parse(body) as { events: Array<{ exceptions: Array<{ message: string; errorClass: string }>; context: string; unhandled: boolean; breadcrumbs: unknown[]; metaData: Record<string, unknown>; request?: Record<string, unknown>; app: { version: string; type: string } }> };
        const event = payload.events[0];
        expect(event?.exceptions[0]?.errorClass).to.equal('Error');
        expect(event?.exceptions[0]?.message).to.match(/^boom: key \[REDACTED\] token \[REDACTED\] Authorization: \[REDACTED\]/);
        expect(event?.exceptions[0]?.message).to.include('private_token=[REDACTED]');
        expect(event?.context).to.equal('uncaughtException');
        expect(event?.breadcrumbs).to.deep.equal([]);
        expect(event?.metaData).to.deep.equal({});
        expect(event?.request ?? {}).to.deep.equal({});
        expect(event?.app).to.include({ type: 'vcs-agent' });
      } finally {
        notify.server.close();
      }
    });

    it('never reports configuration mistakes or refused credentials', async function () {
      const notify = await startNotifyServer();
      try {
        const reporter = createBugsnagReporter({ apiKey: API_KEY, notifyEndpoint: notify.url, secrets: [] });
        const operatorErrors = [
          new ConfigError('Invalid --vendor'),
          new InvalidOptionError('parallelism', 'bad'),
          new InvalidTokenError('key', 'bad token'),
          new AuthenticationError('refused', 'bad_key'),
          Object.assign(new Error('407'), { code: 'VCS_PROXY_AUTH_REQUIRED' }),
        ];
        for (const error of operatorErrors) {
          expect(isOperatorError(error), error.message).to.equal(true);
          await reporter.report(error, 'test');
        }
        // A real report afterwards proves the server was reachable the whole time.
        await reporter.report(new Error('real bug'), 'test');
        await notify.waitFor(1);
        expect(notify.received).to.have.length(1);
        expect(notify.received[0]?.body).to.include('real bug');
      } finally {
        notify.server.close();
      }
    });

    it('scrubText removes exact secrets and credential-looking fragments', function () {
      expect(scrubText('key=abc123 and token: xyz789 and s3cr3t-value', ['s3cr3t-value'])).to.equal('key=[REDACTED] and token: [REDACTED] and [REDACTED]');
      expect(scrubText('Bearer abcdefghij', [])).to.equal('Bearer [REDACTED]');
      expect(scrubText('line1\nline2', [])).to.equal('line1\\nline2');
    });
  });

  describe('the spawned agent', function () {
    let gateway: GatewayFixture;
    let vcs: VcsFixture;
    let dir: string;
    let crashingVendor: string;
    beforeEach(async function () {
      gateway = await startGateway();
      vcs = await startVcs();
      dir = await mkdtemp(join(tmpdir(), 'vcs-agent-bugsnag-'));
      crashingVendor = join(dir, 'crashing-vendor.mjs');
      // A vendor module with a bug: shortly after start-up it throws, outside any promise
      // chain, an error whose message carries the pool token (the worst case for a leak).
      await writeFile(
        crashingVendor,
        [
          "export const vendor = { name: 'crashy', rules: [{ method: 'GET', path: '/api/v4/user', description: 'Me', scope: 'global' }] };",
          "setTimeout(() => { throw new Error('vendor module bug; token was ' + process.env.SPACELIFT_VCS_AGENT_POOL_TOKEN); }, 300);",
          '',
        ].join('\n'),
      );
    });
    afterEach(async function () {
      await gateway.close();
      await vcs.close();
      await rm(dir, { recursive: true, force: true });
    });
    const env = (extra: Record<string, string>): Record<string, string> =>
      cleanEnv({
        SPACELIFT_VCS_AGENT_POOL_TOKEN: gateway.token,
        SPACELIFT_VCS_AGENT_TARGET_BASE_ENDPOINT: vcs.url,
        SPACELIFT_VCS_AGENT_VENDOR: 'gitlab',
        SPACELIFT_VCS_AGENT_VENDOR_MODULE: crashingVendor,
        ...extra,
      });

    it('reports an uncaught exception to the overridden endpoint without the token or key, then exits 1', async function () {
      const notify = await startNotifyServer();
      try {
        const agent = spawnAgent(['--bugsnag-api-key', API_KEY], env({ SPACELIFT_VCS_AGENT_BUGSNAG_ENDPOINT: notify.url }));
        expect(await agent.exited(20_000)).to.equal(1);
        expect(notify.received).to.have.length(1);
        const body = notify.received[0]?.body ?? '';
        expect(body).to.include('vendor module bug; token was [REDACTED]');
        expect(body).to.not.include(gateway.token);
        expect(body).to.not.include(gateway.key);
        const crash = agent.logs().find((line) => line.message === 'unexpected error; exiting');
        expect(crash?.context).to.equal('uncaughtException');
        expect(agent.stdout()).to.not.include(gateway.token);
      } finally {
        notify.server.close();
      }
    });

    it('sends nothing without a key (the endpoint variable alone does nothing)', async function () {
      const notify = await startNotifyServer();
      try {
        const agent = spawnAgent([], env({ SPACELIFT_VCS_AGENT_BUGSNAG_ENDPOINT: notify.url }));
        expect(await agent.exited(20_000)).to.equal(1);
        expect(agent.logs().some((line) => line.message === 'unexpected error; exiting')).to.equal(true);
        expect(notify.received).to.deep.equal([]);
      } finally {
        notify.server.close();
      }
    });

    it('never reports a configuration mistake, even with a key', async function () {
      const notify = await startNotifyServer();
      try {
        const agent = spawnAgent(['--bugsnag-api-key', API_KEY, '--parallelism', '0'], env({ SPACELIFT_VCS_AGENT_BUGSNAG_ENDPOINT: notify.url }));
        expect(await agent.exited(20_000)).to.equal(2);
        expect(notify.received).to.deep.equal([]);
      } finally {
        notify.server.close();
      }
    });
  });
});
