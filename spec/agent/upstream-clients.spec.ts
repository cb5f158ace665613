/*
 * The agent's VCS leg with each of its clients: undici by default, undici through a caller's
 * upstreamDispatcher, and node:http through a caller's upstreamAgent. Every case runs the
 * same real gateway, agent and local VCS; only the client differs.
 */
import { expect } from 'chai';
import { Agent as HttpAgent, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent as UndiciAgent } from 'undici';
import { TunnelClient, type TunnelClientOptions } from '../../lib/agent/tunnel-client.js';
import { InvalidOptionError } from '../../lib/errors.js';
import { encodePoolToken } from '../../lib/protocol/token.js';
import { digestStream } from '../helpers/bodies.js';
import { testPolicy } from '../helpers/test-policy.js';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';

interface ClientCase {
  readonly name: string;
  /** Fresh client options for one harness, and how to release what they hold. */
  make(): { options: Partial<TunnelClientOptions>; close(): Promise<void> };
}

const CLIENTS: readonly ClientCase[] = [
  { name: 'undici (default)', make: () => ({ options: {}, close: async () => {} }) },
  {
    name: 'undici (upstreamDispatcher)',
    make() {
      const dispatcher = new UndiciAgent({ connections: 2 });
      return { options: { upstreamDispatcher: dispatcher }, close: () => dispatcher.destroy() };
    },
  },
  {
    name: 'node:http (upstreamAgent)',
    make() {
      const agent = new HttpAgent({ keepAlive: true });
      return { options: { upstreamAgent: agent }, close: async () => agent.destroy() };
    },
  },
];

const BIG = 100 * 1024; // above the agent's 32 KiB coalescing limit

/** The VCS of these specs: one route per response shape. */
function shapes(req: IncomingMessage, res: ServerResponse): void {
  const path = req.url ?? '';
  if (path === '/allowed/head') {
    res.writeHead(200, { 'content-length': '5', 'x-kind': 'head' });
    res.end();
  } else if (path === '/allowed/no-content') {
    res.writeHead(204, { 'x-kind': 'no-content' });
    res.end();
  } else if (path === '/allowed/not-modified') {
    res.writeHead(304, { etag: '"v1"' });
    res.end();
  } else if (path === '/allowed/early-hints') {
    res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' }, () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' });
      res.end('hints');
    });
  } else if (path === '/allowed/unsolicited-continue') {
    res.writeContinue(); // the request had no Expect: 100-continue
    res.writeHead(200, { 'content-length': '2' });
    res.end('ok');
  } else if (path === '/allowed/to-the-close') {
    // Neither Content-Length nor chunking: the body is whatever comes before the close.
    req.socket.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n\r\n', 'latin1'), Buffer.alloc(BIG, 'c')]));
  } else if (path === '/allowed/repeated') {
    res.writeHead(200, [
      ['X-Repeat', 'one'],
      ['X-Repeat', 'two, three'],
      ['Content-Length', '2'],
    ]);
    res.end('ok');
  } else if (path === '/allowed/stall') {
    res.writeHead(200, { 'content-length': String(BIG) });
    res.write(Buffer.alloc(1000, 's')); // and never the rest
  } else {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' });
    res.end('after');
  }
}

describe('the VCS leg with each client', function () {
  this.timeout(30_000);

  for (const clientCase of CLIENTS) {
    describe(clientCase.name, () => {
      let harness: Harness;
      let release: () => Promise<void>;
      before(async () => {
        const made = clientCase.make();
        release = made.close;
        harness = await startHarness({ policy: testPolicy, parallelism: 2, vcs: shapes, client: { ...made.options, upstreamTimeoutMs: 600 } });
      });
      after(async () => {
        await harness.close();
        await release();
      });

      it('passes HEAD, 204 and 304 answers on without a body, and the stream serves on', async () => {
        const head = await harness.request('/allowed/head', { method: 'HEAD' });
        expect(head.status).to.equal(200);
        expect(head.headers['x-kind']).to.equal('head');
        expect(head.body.length).to.equal(0);
        const noContent = await harness.request('/allowed/no-content');
        expect([noContent.status, noContent.headers['x-kind'], noContent.body.length]).to.deep.equal([204, 'no-content', 0]);
        const notModified = await harness.request('/allowed/not-modified');
        expect([notModified.status, notModified.headers.etag, notModified.body.length]).to.deep.equal([304, '"v1"', 0]);
        for (let i = 0; i < 4; i++) expect((await harness.request('/allowed/after')).body.toString()).to.equal('after');
      });

      it('skips a 1xx informational answer and passes on the final one', async () => {
        const response = await harness.request('/allowed/early-hints');
        expect(response.status).to.equal(200);
        expect(response.headers.link).to.equal(undefined);
        expect(response.body.toString()).to.equal('hints');
      });

      // A known difference: undici refuses a 100 Continue the request did not ask for (the agent
      // never sends Expect), node:http skips it. docs/tunnel-client.md says which to use then.
      it(`${clientCase.name.startsWith('undici') ? 'fails' : 'skips'} an unsolicited 100 Continue`, async () => {
        const response = await harness.request('/allowed/unsolicited-continue');
        if (clientCase.name.startsWith('undici')) {
          expect(response.status).to.equal(502);
          expect(JSON.parse(response.body.toString()).error.message).to.equal('The VCS could not be reached: bad response');
        } else {
          expect([response.status, response.body.toString()]).to.deep.equal([200, 'ok']);
        }
        expect((await harness.request('/allowed/after')).body.toString()).to.equal('after');
      });

      it('reads a response with neither length nor chunking to the close', async () => {
        const response = await harness.request('/allowed/to-the-close');
        expect(response.status).to.equal(200);
        expect(response.body.equals(Buffer.alloc(BIG, 'c'))).to.equal(true);
        expect((await harness.request('/allowed/after')).body.toString()).to.equal('after');
      });

      it('keeps repeated response headers as separate raw pairs', async () => {
        const response = await harness.stream('/allowed/repeated');
        const repeats = [];
        for (let i = 0; i < response.rawHeaders.length; i += 2) {
          if (response.rawHeaders[i]?.toLowerCase() === 'x-repeat') repeats.push(response.rawHeaders[i + 1]);
        }
        expect(repeats).to.deep.equal(['one', 'two, three']);
        expect((await digestStream(response.body)).bytes).to.equal(2);
      });

      it('resets the stream when the VCS goes silent mid-body for upstreamTimeoutMs', async () => {
        const response = await harness.stream('/allowed/stall');
        const failure = await digestStream(response.body).then(
          () => 'ended',
          (error: Error) => error.message,
        );
        expect(failure).to.not.equal('ended');
        const record = harness.agentLog.find((entry) => entry.path === '/allowed/stall');
        expect(String(record?.error)).to.match(/No answer from the VCS within 600 ms/);
      });

      it('holds a large response back from a slow caller for longer than upstreamTimeoutMs without timing out', async () => {
        const size = 16 * 1024 * 1024;
        const made = clientCase.make();
        const slow = await startHarness({
          policy: testPolicy,
          client: { ...made.options, upstreamTimeoutMs: 400 },
          vcs(_req, res) {
            res.writeHead(200, { 'content-length': size });
            res.end(Buffer.alloc(size, 'y'));
          },
        });
        try {
          const response = await slow.stream('/allowed/download');
          const first = await new Promise<Buffer>((resolve) => response.body.once('data', resolve));
          response.body.pause();
          await new Promise((resolve) => setTimeout(resolve, 1500)); // the pause under test, not a wait for an event
          response.body.resume();
          const rest = await digestStream(response.body);
          expect(first.length + rest.bytes).to.equal(size);
        } finally {
          await slow.close();
          await made.close();
        }
      });
    });
  }

  it('answers 502 naming ECONNREFUSED when nothing listens at the target (undici)', async () => {
    const closed = createServer();
    const port = await new Promise<number>((resolve) => closed.listen(0, '127.0.0.1', () => resolve((closed.address() as AddressInfo).port)));
    await new Promise((resolve) => closed.close(resolve));
    const harness = await startHarness({ policy: testPolicy, parallelism: 1, client: { target: `http://127.0.0.1:${port}` } });
    try {
      const response = await harness.request('/allowed/x');
      expect(response.status).to.equal(502);
      const error = JSON.parse(response.body.toString()).error;
      expect(error.code).to.equal('VCS_UPSTREAM_FAILED');
      expect(error.message).to.match(/^The VCS could not be reached: .*ECONNREFUSED/);
    } finally {
      await harness.close();
    }
  });
});

describe('TunnelClient upstream client options', () => {
  const base = {
    token: encodePoolToken({ host: 'http://127.0.0.1:1', key: 'upstream-options-key-0123456789abcdef', pool_ulid: '01HZX3J5Y8W8Q6ZK4M3T2V1B0C' }),
    target: 'http://127.0.0.1:1',
    policy: testPolicy,
  };

  it('refuses upstreamAgent and upstreamDispatcher together, naming both', () => {
    const agent = new HttpAgent();
    const dispatcher = new UndiciAgent();
    try {
      expect(() => new TunnelClient({ ...base, upstreamAgent: agent, upstreamDispatcher: dispatcher }))
        .to.throw(InvalidOptionError, /upstreamAgent .*upstreamDispatcher.*not both/)
        .with.property('option', 'upstreamDispatcher');
    } finally {
      agent.destroy();
      void dispatcher.destroy();
    }
  });

  it('refuses an upstreamDispatcher or upstreamAgent of the wrong kind', () => {
    expect(() => new TunnelClient({ ...base, upstreamDispatcher: {} as UndiciAgent }))
      .to.throw(InvalidOptionError, /Invalid upstreamDispatcher: expected an undici Dispatcher/)
      .with.property('option', 'upstreamDispatcher');
    expect(() => new TunnelClient({ ...base, upstreamAgent: {} as HttpAgent }))
      .to.throw(InvalidOptionError, /Invalid upstreamAgent: expected an http.Agent/)
      .with.property('option', 'upstreamAgent');
  });

  it('leaves a caller\'s dispatcher open when it is destroyed', async () => {
    const dispatcher = new UndiciAgent();
    const client = new TunnelClient({ ...base, upstreamDispatcher: dispatcher });
    client.destroy();
    expect(dispatcher.closed || dispatcher.destroyed).to.equal(false);
    await dispatcher.destroy();
  });
});
