import { PassThrough } from 'node:stream';
import { startHarness, testPolicy, sleep, stats } from './common.js';
const mid = Buffer.alloc(100 * 1024, 97);
const h = await startHarness({ policy: testPolicy, parallelism: 4, frontDoor: true,
  vcs: (req, res) => { let n = 0; req.on('data', (c) => (n += c.length)); req.on('end', () => {
    if (req.url!.includes('mid')) { res.writeHead(200, { 'content-length': mid.length }); res.end(mid); }
    else { const b = JSON.stringify({ n }); res.writeHead(200, { 'content-length': b.length }); res.end(b); } }); } });
function snapshot() {
  const out: Record<string, number> = {};
  const add = (k: string, v: number) => (out[k] = (out[k] ?? 0) + v);
  for (const route of (h.gateway as any).routes.values()) for (const conn of route.connections) for (const gs of conn.streams) {
    for (const ev of ['drain', 'close', 'data', 'end', 'error']) add('gw.' + ev, gs.stream.listenerCount(ev));
  }
  for (const as of (h.client as any).streams) for (const ev of ['drain', 'close', 'data', 'end', 'error']) add('ag.' + ev, as.stream.listenerCount(ev));
  return out;
}
const upBody = Buffer.alloc(3 * 1024 * 1024, 1);
async function one(i: number) {
  const k = i % 5;
  if (k === 0) { const r = await h.request('/allowed/s'); return r.status; }
  if (k === 1) { const r = await h.request('/allowed/mid'); return r.status; }
  if (k === 2) { const r = await h.request('/denied/x', { method: 'POST', body: Buffer.from('x') }); return r.status; }
  if (k === 3) { // streamed upload, big enough to hit backpressure sometimes
    const body = new PassThrough(); const p = h.request('/allowed/up', { method: 'POST', body });
    (async () => { for (let j = 0; j < 4; j++) { if (!body.write(upBody.subarray(j * 65536, (j + 1) * 65536 * 4))) await new Promise((r) => body.once('drain', r)); } body.end(); })();
    return (await p).status;
  }
  const r = await fetch(h.frontDoorUrl + '/' + h.pool + '/allowed/fd'); await r.arrayBuffer(); return r.status;
}
async function run(n: number) {
  let next = 0; const counts: Record<number, number> = {};
  await Promise.all(Array.from({ length: 8 }, async () => { while (next < n) { const i = next++; try { const s = await one(i); counts[s] = (counts[s] ?? 0) + 1; } catch (e: any) { counts[e.code ?? 'err'] = (counts[e.code ?? 'err'] ?? 0) + 1; } } }));
  return counts;
}
await run(500); global.gc?.(); await sleep(200); global.gc?.();
const h0 = process.memoryUsage().heapUsed; console.log('warm', snapshot(), stats(h), 'heapMB', (h0 / 1e6).toFixed(1));
const t = Date.now();
console.log(await run(Number(process.argv[2] ?? 20000)), 'in', Date.now() - t, 'ms');
await sleep(300); global.gc?.(); await sleep(100); global.gc?.();
const h1 = process.memoryUsage().heapUsed; console.log('after', snapshot(), stats(h), 'heapMB', (h1 / 1e6).toFixed(1), 'delta', ((h1 - h0) / 1e6).toFixed(1));
console.log('gateway logger entries', (h.gatewayLogger as any).entries?.length, 'agent log', h.agentLog.length);
await h.close(); process.exit(0);
