/*
 * The README's first command (`npm run demo`): a gateway, a small GitLab-like VCS and an
 * agent, all on 127.0.0.1 in this one process, and a few private:// requests through them,
 * allowed and denied. Prints each result and the agent's log, then exits by itself.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import {
  Gateway,
  MemoryPoolStore,
  TunnelClient,
  createPool,
  createVendorPolicy,
  type Logger,
} from '../lib/index.js';

const colour = process.stdout.isTTY ? (code: number, text: string) => `\x1b[${code}m${text}\x1b[0m` : (_: number, text: string) => text;

/** A tiny stand-in for GitLab's REST API: just enough to answer the demo's calls. */
function fakeGitlab(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  const json = (status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  req.resume();
  req.on('end', () => {
    if (/^\/api\/v4\/projects\/acme%2Finfra$/.test(url)) return json(200, { id: 42, path_with_namespace: 'acme/infra', default_branch: 'main' });
    if (url.startsWith('/api/v4/projects/acme%2Finfra/repository/branches')) return json(200, [{ name: 'main' }, { name: 'feature/vpc' }]);
    if (url.startsWith('/api/v4/projects/acme%2Finfra/repository/files/main.tf/raw')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end('resource "aws_vpc" "main" {\n  cidr_block = "10.0.0.0/16"\n}\n');
    }
    if (url.startsWith('/api/v4/projects/acme%2Finfra/statuses/')) return json(201, { id: 7, status: 'success', name: 'spacelift/plan' });
    return json(404, { message: '404 Not Found' });
  });
}

function listen(server: ReturnType<typeof createServer>): Promise<AddressInfo> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address() as AddressInfo)));
}

/** The agent's log goes through this logger: one JSON line per request, shown at the end. */
function lineLogger(sink: PassThrough): Logger {
  const write = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    sink.write(`${JSON.stringify({ level, message, ...fields })}\n`);
  };
  return { error: write('error'), warn: write('warn'), info: write('info'), debug: () => {} };
}

async function main(): Promise<void> {
  // 1. The VCS, on the "private network".
  const vcs = createServer(fakeGitlab);
  const vcsAddress = await listen(vcs);

  // 2. The gateway, on the "SaaS side", and a pool with its configuration token.
  const store = new MemoryPoolStore();
  const gateway = new Gateway({ store });
  const gatewayAddress = await gateway.listen({ host: '127.0.0.1', port: 0 });
  const { pool, token } = await createPool(store, {
    name: 'demo-pool',
    description: 'Demo pool',
    gatewayUrl: `http://127.0.0.1:${gatewayAddress.port}`,
  });
  console.log(colour(1, `Pool "${pool.name}" created (${pool.id}); the agent gets its configuration token.`));

  // 3. The agent: dials out to the gateway, checks each request against GitLab's allowlist.
  const agentLog = new PassThrough();
  const lines: string[] = [];
  agentLog.on('data', (chunk: Buffer) => lines.push(...chunk.toString().trim().split('\n')));
  const agent = new TunnelClient({
    token,
    target: `http://127.0.0.1:${vcsAddress.port}`,
    policy: createVendorPolicy('gitlab', { allowedProjects: 'acme/.*' }),
    parallelism: 4,
    logger: lineLogger(agentLog),
    metadata: { site: 'demo' },
  });
  await agent.start();
  const [connection] = gateway.connections('demo-pool');
  console.log(colour(1, `Agent connected: ${connection?.streamsIdle} streams, tags ${JSON.stringify(connection?.metadata)}\n`));

  // 4. The platform's requests, as private:// URLs.
  const calls: Array<[string, string, string?]> = [
    ['GET', 'private://demo-pool/api/v4/projects/acme%2Finfra'],
    ['GET', 'private://demo-pool/api/v4/projects/acme%2Finfra/repository/branches'],
    ['GET', 'private://demo-pool/api/v4/projects/acme%2Finfra/repository/files/main.tf/raw?ref=main'],
    ['POST', 'private://demo-pool/api/v4/projects/acme%2Finfra/statuses/0123456789abcdef0123456789abcdef01234567', '{"state":"success","name":"spacelift/plan"}'],
    ['DELETE', 'private://demo-pool/api/v4/projects/acme%2Finfra'],
    ['GET', 'private://demo-pool/api/v4/users'],
    ['GET', 'private://demo-pool/api/v4/projects/other%2Fsecret'],
    ['GET', 'private://demo-pool/api/v4/projects/acme%2Finfra/repository/files/..%2F..%2Fetc%2Fpasswd/raw'],
  ];
  for (const [method, url, body] of calls) {
    const response = await gateway.request(url, {
      method,
      headers: { 'private-token': 'glpat-demo-secret', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body ?? null,
    });
    const chunks: Buffer[] = [];
    for await (const chunk of response.body) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString().replace(/\s+/g, ' ').trim();
    const status = response.status < 400 ? colour(32, String(response.status)) : colour(31, String(response.status));
    console.log(`${status} ${method.padEnd(6)} ${url.replace('private://demo-pool', '')}`);
    console.log(`    ${text.slice(0, 110)}`);
  }

  // 5. What the agent logged: one line per request, allowed or denied, with what it was for.
  console.log(colour(1, '\nAgent log (one line per request; the private-token header never appears):'));
  await new Promise((resolve) => setImmediate(resolve));
  for (const line of lines) {
    const entry = JSON.parse(line) as Record<string, unknown>;
    if (entry.decision === undefined) continue;
    const verdict = entry.decision === 'allow' ? colour(32, 'allow') : colour(31, 'deny ');
    console.log(`  ${verdict} ${String(entry.status)} ${String(entry.method).padEnd(6)} ${String(entry.path).slice(0, 70).padEnd(70)} ${String(entry.description)}`);
  }

  await agent.close({ timeoutMs: 2000 });
  await gateway.close({ timeoutMs: 2000 });
  vcs.close();
  console.log(colour(1, '\nDemo finished.'));
}

main().catch((error: unknown) => {
  console.error('demo failed:', error);
  process.exitCode = 1;
});
