import { redactPathForLog, escapeLogValue } from '../lib/policy/log-sanitize.js';
import { createDebugPrinter } from '../lib/agent/debug-printer.js';
import { redactQuery } from '../lib/trace/redact.js';
import { scrubText } from '../cli/error-scrub.js';
const paths = [
  '/api/v4/projects/a%2Fb?private_token=SECRET1',
  '/api/v4/projects/a%2Fb?PRIVATE-TOKEN=SECRET2',
  '/api/v4/projects/a%2Fb?priv%61te_token=SECRET3',
  '/api/v4/projects/a%2Fb?%5Bprivate_token%5D=SECRET4',
  '/api/v4/projects/a%2Fb?private_token=SECRET5&x=1',
  '/api/v4/projects/a%2Fb?x=1&&private_token=SECRET6',
  '/api/v4/projects/a%2Fb/?private_token=SECRET7',
  '/api/v4/projects/a%2Fb?' + 'a=1&'.repeat(508) + 'private_token=SECRET8',
  '/api/v4/projects/a%2Fb?' + 'a'.repeat(2020) + '&private_token=SECRET9',
  '/x?Private_Token%3DSECRET10',
  '/x?x=%26private_token%3DSECRET11',
  '/x?pr%C0%AFivate_token=SECRET12',
  '/x?u=https%3A%2F%2Fuser%3APASS13%40h',
  '/x?url=https://user:PASS14@host/',
  '/x?private_token[]=SECRET15',
];
for (const p of paths) { const r = escapeLogValue(redactPathForLog(p)); console.log(/SECRET|PASS\d/.test(r) ? 'LEAK ' : 'ok   ', r.length > 200 ? r.slice(0,60)+' ... '+r.slice(-80) : r); }
console.log('--- trace redactQuery');
for (const p of ['/x?a=1;private_token=S1', '/x?x#?private_token=S2']) console.log(redactQuery(p));
console.log('--- debug printer');
const out: string[] = [];
const pr = createDebugPrinter({ write: (l) => out.push(l), maxBodyBytes: 64 });
pr({ type: 'request', id: '1', method: 'POST', path: '/api/v4/projects/a%2Fb/hooks', headers: ['Content-Type','application/json','X-Gitlab-Token','S0'] });
pr({ type: 'request-body', id: '1', chunk: Buffer.from('{"url":"https://hooks.example/x","token":"TOKENSECRET_TOKENSECRET_TOKENSECRET"}') });
pr({ type: 'response', id: '1', status: 201, headers: [] });
pr({ type: 'end', id: '1', status: 201 });
const pr2 = createDebugPrinter({ write: (l) => out.push(l) });
pr2({ type: 'request', id: '2', method: 'POST', path: '/coll/_apis/hooks/subscriptions', headers: [] });
pr2({ type: 'request-body', id: '2', chunk: Buffer.from('{"consumerInputs":{"url":"https://u:PASSWORD_IN_URL@h/x?token=QS","httpHeaders":"Authorization: Bearer HEADER_SECRET"},"x":{"tok\\u0065n":"ESCAPED_SECRET"},"private_token":123456789}') });
pr2({ type: 'response', id: '2', status: 200, headers: ['Set-Cookie','a','X-Amz-Security','SEC','Location','https://u:p@h/?private_token=LOC'] });
pr2({ type: 'end', id: '2', status: 200 });
for (const l of out) console.log(l);
console.log('--- scrub');
console.log(scrubText('connect failed: https://gw/?key=abc Authorization: Bearer abcdefghij PRIVATE-TOKEN: glpat-ABCDEFGHIJ', []));
