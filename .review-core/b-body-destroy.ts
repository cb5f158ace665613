import { Readable, PassThrough } from 'node:stream';
import { startHarness, testPolicy, sleep, withTimeout, stats } from './common.js';
const h = await startHarness({ policy: testPolicy, parallelism: 2, client: { upstreamTimeoutMs: 2000 } });
// 1. body destroyed without error
const body = new PassThrough();
const p = h.request('/allowed/up', { method: 'POST', body });
body.write('partial');
setTimeout(() => body.destroy(), 100);
console.log('destroyed-no-error:', await withTimeout(p.then((r) => `status ${r.status} ${r.body}`, (e) => 'error ' + e.code), 5000, 'destroy'), stats(h));
// 2. body that errors
const body2 = new PassThrough();
const p2 = h.request('/allowed/up', { method: 'POST', body: body2 });
body2.write('partial');
setTimeout(() => body2.destroy(new Error('boom')), 100);
console.log('destroyed-with-error:', await withTimeout(p2.then((r) => `status ${r.status} ${r.body}`, (e) => 'error ' + e.code), 5000, 'err'), stats(h));
// 3. async iterable that throws
async function* gen() { yield Buffer.from('abc'); await sleep(50); throw new Error('gen boom'); }
console.log('iterable-throws:', await withTimeout(h.request('/allowed/up', { method: 'POST', body: gen() }).then((r) => `status ${r.status} ${r.body}`, (e) => 'error ' + e.code), 5000, 'gen'), stats(h));
// 4. already-ended readable
const ended = Readable.from([Buffer.from('x')]); for await (const _ of ended) {}
console.log('already-consumed:', await withTimeout(h.request('/allowed/up', { method: 'POST', body: ended }).then((r) => `status ${r.status} ${r.body}`, (e) => 'error ' + e.code), 5000, 'ended'), stats(h));
await sleep(200); console.log('final', stats(h));
await h.close(); process.exit(0);
