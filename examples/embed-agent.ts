/*
 * Embedding the agent in your own tooling: a TunnelClient with a vendor policy, its
 * per-request records fed to your own code, and a graceful stop.
 *
 *   npx tsx examples/embed-agent.ts <pool-token> <vcs-base-url>
 *
 * Without arguments it starts a throwaway gateway and VCS on 127.0.0.1 so it runs as is.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Gateway, MemoryPoolStore, TunnelClient, createPool, createVendorPolicy, type Logger } from '../lib/index.js';

const logger: Logger = {
  error: (message, fields) => process.stderr.write(`error ${message} ${JSON.stringify(fields ?? {})}\n`),
  warn: (message, fields) => process.stderr.write(`warn  ${message} ${JSON.stringify(fields ?? {})}\n`),
  info: () => {},
  debug: () => {},
};

async function main(): Promise<void> {
  let [token, target] = process.argv.slice(2);
  const cleanups: Array<() => unknown> = [];
  let gateway: Gateway | undefined;
  if (token === undefined || target === undefined) {
    const vcs = createServer((_req, res) => res.end('{"id":1}')).listen(0, '127.0.0.1');
    await new Promise((resolve) => vcs.once('listening', resolve));
    const store = new MemoryPoolStore();
    gateway = new Gateway({ store });
    const address = await gateway.listen();
    ({ token } = await createPool(store, { name: 'embedded', gatewayUrl: `http://127.0.0.1:${address.port}` }));
    target = `http://127.0.0.1:${(vcs.address() as AddressInfo).port}`;
    cleanups.push(() => vcs.close(), () => gateway?.close({ timeoutMs: 1000 }));
  }

  const client = new TunnelClient({ token, target, policy: createVendorPolicy('github_enterprise'), parallelism: 2, logger });
  client.on('request', (record) => console.log(`${record.decision} ${record.status} ${record.method} ${record.path} — ${record.description}`));
  client.on('disconnected', ({ error, retryInMs }) => console.log(`disconnected (${error?.code ?? 'goaway'}), retrying in ${retryInMs ?? 0} ms`));
  await client.start();
  console.log(`connected as ${client.agentId}, connection ${client.connectionId}`);

  if (gateway !== undefined) {
    for (const path of ['/api/v3/repos/acme/infra', '/api/v3/admin/users']) {
      const response = await gateway.request(`private://embedded${path}`);
      response.body.resume();
      await new Promise((resolve) => response.body.once('end', resolve));
    }
  }
  await client.close({ timeoutMs: 5000 });
  for (const cleanup of cleanups) await cleanup();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
