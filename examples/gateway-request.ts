/*
 * The platform side: a Gateway, a pool, and requests sent with gateway.request() and
 * through the HTTP/1.1 front door — including what callers see when no agent is connected.
 *
 *   npx tsx examples/gateway-request.ts
 */
import { FrontDoor, Gateway, MemoryPoolStore, NoAgentError, createPool } from '../lib/index.js';

async function main(): Promise<void> {
  const store = new MemoryPoolStore();
  const gateway = new Gateway({ store, queueTimeoutMs: 2000 });
  const agents = await gateway.listen({ host: '127.0.0.1', port: 0 });
  const frontDoor = new FrontDoor(gateway);
  const door = await frontDoor.listen({ host: '127.0.0.1', port: 0 });
  const { token } = await createPool(store, { name: 'example', description: 'no agent yet', gatewayUrl: `http://127.0.0.1:${agents.port}` });
  console.log(`agents dial http://127.0.0.1:${agents.port} with token ${token.slice(0, 12)}…`);

  try {
    await gateway.request('private://example/api/v4/projects/a%2Fb');
  } catch (error) {
    if (error instanceof NoAgentError) console.log(`gateway.request → ${error.code}: ${error.message}`);
    else throw error;
  }
  const response = await fetch(`http://127.0.0.1:${door.port}/example/api/v4/projects/a%2Fb`);
  console.log(`front door → ${response.status} retry-after=${response.headers.get('retry-after')} ${await response.text()}`);

  await frontDoor.close();
  await gateway.close({ timeoutMs: 1000 });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
