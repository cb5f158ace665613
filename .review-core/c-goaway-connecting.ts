import { Gateway } from '../lib/gateway/gateway.js';
import { TunnelClient } from '../lib/agent/tunnel-client.js';
import { MemoryPoolStore } from '../lib/pools/memory-pool-store.js';
import { createPool } from '../lib/pools/pool-service.js';
import { testPolicy, sleep } from './common.js';
class SlowStore extends MemoryPoolStore { delay = 0; async get(id: string) { if (this.delay) await sleep(this.delay); return super.get(id); } }
const store = new SlowStore();
const g1 = new Gateway({ store });
const addr = await g1.listen({ host: '127.0.0.1', port: 0 });
const { token } = await createPool(store, { name: 'p', gatewayUrl: `http://127.0.0.1:${addr.port}` });
// first connect normally
const client = new TunnelClient({ logger: { debug(){}, info: (m: string, f?: any) => console.log('  [agent info]', m, JSON.stringify(f ?? {}).slice(0,150)), warn: (m: string, f?: any) => console.log('  [agent warn]', m, JSON.stringify(f ?? {}).slice(0,150)), error: (m: string, f?: any) => console.log('  [agent err]', m) } as any, token, target: 'http://127.0.0.1:1', policy: testPolicy, parallelism: 2, reconnect: { initialDelayMs: 20, maxDelayMs: 200 }, connectTimeoutMs: 2000 });
const states: string[] = [];
client.on('disconnected', (e) => states.push('disconnected ' + (e.error?.code ?? 'goaway') + ' retry ' + e.retryInMs));
await client.start();
console.log('connected; state', client.state);
// Now make auth slow and force a reconnect: evict via disconnectPool? use g1.close + new gateway instead
store.delay = 300;
const closing = g1.close({ timeoutMs: 200 }); // GOAWAY to connected agent -> it redials immediately to g1 (still listening? server.close stops accepting)
await closing;
console.log('g1 closed; client state', client.state, states);
// second gateway on the same port, normal store speed, but then close it while the agent authenticates
const g2 = new Gateway({ store });
await g2.listen({ host: '127.0.0.1', port: addr.port });
await sleep(100); // agent dials within backoff, auth pending (store delay 300)
console.log('g2: client state during auth', client.state, g2.connections().length);
await g2.close({ timeoutMs: 200 });
console.log('g2 closed mid-auth; state', client.state, states);
store.delay = 0;
const g3 = new Gateway({ store });
await g3.listen({ host: '127.0.0.1', port: addr.port });
await sleep(4000);
console.log('4s after g3 up: client state', client.state, 'g3 connections', g3.connections().length, states);
client.destroy(); g3.destroy(); process.exit(0);
