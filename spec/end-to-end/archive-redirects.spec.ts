import { expect } from 'chai';
import { Agent, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { Agent as UndiciAgent } from 'undici';
import type { TunnelClientOptions } from '../../lib/agent/tunnel-client.js';
import { createVendorPolicy } from '../../lib/vendors/index.js';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';

/*
 * Issue 13: GitHub Enterprise answers archive downloads with a 302 to its codeload host
 * (`codeload.<host>`) or path (`/_codeload/…`). The caller cannot follow it out of the tunnel,
 * so for archive rules the agent follows it itself, only on the same VCS, checking the target
 * against the rules again; every other redirect goes back to the caller unchanged.
 */

interface Seen {
  readonly host: string;
  readonly url: string;
  readonly authorization: string | undefined;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

// ghe.test, its codeload subdomain and evil.test are all this machine (traffic stays on loopback).
const lookup: LookupFunction = (hostname, options, callback) => {
  if (!['ghe.test', 'codeload.ghe.test', 'evil.test'].includes(hostname)) {
    callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 4);
    return;
  }
  if (options.all) (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
};

// Both VCS clients follow redirects the same way: node:http (upstreamAgent) and undici (upstreamDispatcher).
const CLIENTS: ReadonlyArray<{ name: string; make(): { options: Partial<TunnelClientOptions>; close(): Promise<void> } }> = [
  {
    name: 'node:http',
    make() {
      const agent = new Agent({ keepAlive: true, lookup });
      return { options: { upstreamAgent: agent }, close: async () => agent.destroy() };
    },
  },
  {
    name: 'undici',
    make() {
      const dispatcher = new UndiciAgent({ connect: { lookup } });
      return { options: { upstreamDispatcher: dispatcher }, close: () => dispatcher.destroy() };
    },
  },
];

for (const client of CLIENTS) describe(`GitHub Enterprise archive redirects, followed inside the agent (same VCS only; ${client.name})`, function () {
  let harness: Harness;
  let ghe: Server;
  let evil: Server;
  let port = 0;
  let evilPort = 0;
  const seen: Seen[] = [];
  const evilSeen: string[] = [];
  const made = client.make();

  const redirects: Record<string, () => string> = {
    '/api/v3/repos/acme/infra/tarball/main': () => `http://codeload.ghe.test:${port}/acme/infra/legacy.tar.gz/refs/heads/main?token=CODELOAD-TOKEN`,
    '/api/v3/repos/acme/infra/zipball/main': () => '/_codeload/acme/infra/legacy.zip/refs/heads/main?token=CODELOAD-TOKEN',
    '/api/v3/repos/acme/infra/tarball/elsewhere': () => `http://evil.test:${evilPort}/acme/infra/legacy.tar.gz/main`,
    '/api/v3/repos/acme/infra/tarball/other-port': () => `http://codeload.ghe.test:${evilPort}/acme/infra/legacy.tar.gz/main`,
    '/api/v3/repos/acme/infra/tarball/other-repo': () => '/_codeload/evil/secrets/legacy.tar.gz/main',
    '/api/v3/repos/acme/infra/tarball/not-a-rule': () => '/api/v3/repos/acme/infra/actions/secrets',
    '/api/v3/repos/acme/infra/tarball/loop': () => '/_codeload/acme/infra/legacy.tar.gz/loop',
    '/_codeload/acme/infra/legacy.tar.gz/loop': () => '/_codeload/acme/infra/legacy.tar.gz/loop',
    '/api/v3/repos/acme/infra': () => '/api/v3/repos/acme/infra-renamed',
  };

  before(async function () {
    ghe = createServer((req: IncomingMessage, res: ServerResponse) => {
      seen.push({ host: req.headers.host ?? '', url: req.url ?? '', authorization: req.headers.authorization });
      const path = req.url ?? '';
      const redirect = redirects[path];
      if (redirect !== undefined) {
        res.writeHead(302, { location: redirect(), 'content-length': 0 });
        res.end();
        return;
      }
      if (/\/legacy\.(tar\.gz|zip)\//.test(path)) {
        const body = Buffer.from(`archive of ${req.headers.host}${path}`);
        res.writeHead(200, { 'content-type': 'application/x-gzip', 'content-length': body.length });
        res.end(body);
        return;
      }
      res.writeHead(404, { 'content-length': 0 });
      res.end();
    });
    evil = createServer((req, res) => {
      evilSeen.push(req.url ?? '');
      res.end('evil');
    });
    port = await listen(ghe);
    evilPort = await listen(evil);
    harness = await startHarness({
      policy: createVendorPolicy('github_enterprise', { allowedProjects: 'acme/infra' }),
      client: { target: `http://ghe.test:${port}`, ...made.options },
    });
  });
  after(async function () {
    await harness?.close();
    await made.close();
    for (const server of [ghe, evil]) {
      server?.closeAllConnections();
      await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
    }
  });
  beforeEach(function () {
    seen.length = 0;
    evilSeen.length = 0;
  });

  const get = (path: string) => harness.request(path, { headers: { authorization: 'token ghp-test-credential' } });

  it('follows a redirect to codeload.<host>, without carrying the credential to the other origin', async function () {
    const response = await get('/api/v3/repos/acme/infra/tarball/main');
    expect(response.status).to.equal(200);
    expect(response.body.toString()).to.equal(`archive of codeload.ghe.test:${port}/acme/infra/legacy.tar.gz/refs/heads/main?token=CODELOAD-TOKEN`);
    expect(seen).to.deep.equal([
      { host: `ghe.test:${port}`, url: '/api/v3/repos/acme/infra/tarball/main', authorization: 'token ghp-test-credential' },
      { host: `codeload.ghe.test:${port}`, url: '/acme/infra/legacy.tar.gz/refs/heads/main?token=CODELOAD-TOKEN', authorization: undefined },
    ]);
    const record = harness.agentLog.find((entry) => String(entry.path).includes('/tarball/main'));
    expect(record?.description).to.equal('Download a repository archive (tar) (redirected: Archive download (tar) from codeload, as a redirect target)');
  });

  it('follows a relative redirect to /_codeload/… on the same origin, credential kept', async function () {
    const response = await get('/api/v3/repos/acme/infra/zipball/main');
    expect(response.status).to.equal(200);
    expect(response.body.toString()).to.equal(`archive of ghe.test:${port}/_codeload/acme/infra/legacy.zip/refs/heads/main?token=CODELOAD-TOKEN`);
    expect(seen.map((s) => s.authorization)).to.deep.equal(['token ghp-test-credential', 'token ghp-test-credential']);
  });

  it('never follows a redirect to another host or another port: the caller gets it as is', async function () {
    for (const path of ['/api/v3/repos/acme/infra/tarball/elsewhere', '/api/v3/repos/acme/infra/tarball/other-port']) {
      const response = await get(path);
      expect(response.status, path).to.equal(302);
      expect(response.headers.location, path).to.match(new RegExp(`:${evilPort}/`));
      expect(seen.length, path).to.equal(1);
      seen.length = 0;
    }
    expect(evilSeen).to.deep.equal([]);
  });

  it('refuses a same-VCS redirect the rules do not allow (another repository, an unlisted path)', async function () {
    for (const path of ['/api/v3/repos/acme/infra/tarball/other-repo', '/api/v3/repos/acme/infra/tarball/not-a-rule']) {
      const response = await get(path);
      expect(response.status, path).to.equal(403);
      expect(response.headers['vcs-agent-error'], path).to.equal('VCS_REDIRECT_DENIED');
      expect(JSON.parse(response.body.toString()).error.message, path).to.match(/redirected to a target the rules do not allow/);
      expect(seen.map((s) => s.url), path).to.deep.equal([path]);
      seen.length = 0;
    }
  });

  it('stops after a bounded number of hops', async function () {
    const response = await get('/api/v3/repos/acme/infra/tarball/loop');
    expect(response.status).to.equal(502);
    expect(response.headers['vcs-agent-error']).to.equal('VCS_TOO_MANY_REDIRECTS');
    expect(seen.length).to.equal(4); // the request and 3 followed redirects
  });

  it('passes redirects of other rules back to the caller, and never serves /_codeload/… directly', async function () {
    const moved = await get('/api/v3/repos/acme/infra');
    expect(moved.status).to.equal(302);
    expect(moved.headers.location).to.equal('/api/v3/repos/acme/infra-renamed');
    expect(seen.length).to.equal(1);
    seen.length = 0;
    const direct = await get('/_codeload/acme/infra/legacy.tar.gz/refs/heads/main');
    expect(direct.status).to.equal(403);
    expect(direct.headers['vcs-agent-error']).to.equal('VCS_DENIED');
    expect(seen).to.deep.equal([]);
  });
});
