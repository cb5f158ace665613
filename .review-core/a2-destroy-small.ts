import { startHarness, testPolicy, sleep, withTimeout, stats } from './common.js';
const big = Buffer.alloc(200 * 1024, 120);
const h = await startHarness({ policy: testPolicy, parallelism: 2, gateway: { queueTimeoutMs: 1000 }, client: { upstreamTimeoutMs: 1000 },
  vcs: (req, res) => { req.resume(); req.on('end', () => { res.writeHead(200, { 'content-length': big.length }); res.end(big); }); } });
for (let i = 0; i < 2; i++) {
  const r = await h.stream('/allowed/big');
  r.body.destroy();
}
await sleep(3000);
console.log('3s later (upstreamTimeoutMs=1000)', stats(h));
const res = await withTimeout(h.request('/allowed/small').then((r) => 'status ' + r.status, (e) => 'error ' + e.code), 3000, 'next');
console.log('next request:', res);
await h.close(); process.exit(0);
