// Run by spec/faults/gateway-sigkill.spec.ts as a separate process (node --import tsx) so it
// can be SIGKILLed: a gateway with a file pool store and a front door, on 127.0.0.1.
// argv: <store file> <agent port or 0> <front door port or 0>. Prints one JSON line once
// listening: {port, frontDoorPort, token?, otherToken?} (tokens only when it created the pools).
import { existsSync } from 'node:fs';
import { FrontDoor } from '../../../lib/gateway/front-door.js';
import { Gateway } from '../../../lib/gateway/gateway.js';
import { FilePoolStore } from '../../../lib/pools/file-pool-store.js';
import { createPool } from '../../../lib/pools/pool-service.js';

const [file, agentPort, frontDoorPort] = process.argv.slice(2) as [string, string, string];
const fresh = !existsSync(file);
const store = new FilePoolStore(file);
const gateway = new Gateway({ store, queueTimeoutMs: 5000 });
const { port } = await gateway.listen({ host: '127.0.0.1', port: Number(agentPort) });
const frontDoor = new FrontDoor(gateway);
const fd = await frontDoor.listen({ host: '127.0.0.1', port: Number(frontDoorPort) });
// Two pools: the abuse specs attack as an agent of one ("other") while a real agent serves "faults".
const token = fresh ? (await createPool(store, { name: 'faults', gatewayUrl: `http://127.0.0.1:${port}` })).token : undefined;
const otherToken = fresh ? (await createPool(store, { name: 'other', gatewayUrl: `http://127.0.0.1:${port}` })).token : undefined;
process.stdout.write(JSON.stringify({ port, frontDoorPort: fd.port, ...(token === undefined ? {} : { token, otherToken }) }) + '\n');
