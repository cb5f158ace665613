import { startHarness, testPolicy, sleep, withTimeout, stats } from './common.js';
const big = Buffer.alloc(8 * 1024 * 1024, 120);
const h = await startHarness({ policy: testPolicy, parallelism: 2, gateway: { queueTimeoutMs: 1000 },
  vcs: (req, res) => { req.resume(); req.on('end', () => { res.writeHead(200, { 'content-length': big.length }); res.end(big); }); } });
console.log('start', stats(h));
for (let i = 0; i < 2; i++) {
  const r = await h.stream('/allowed/big');
  for await (const c of r.body) { break; } // destroys body
  console.log('after break', i, 'destroyed=', r.body.destroyed);
}
await sleep(1500);
console.log('1.5s later', stats(h));
const res = await withTimeout(h.request('/allowed/small').then((r) => 'status ' + r.status, (e) => 'error ' + e.code), 3000, 'next');
console.log('next request:', res, stats(h));
await h.close();
process.exit(0);
