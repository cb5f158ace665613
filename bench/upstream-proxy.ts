/*
 * `npm run bench:proxy`: what the agent's VCS leg costs per request when the VCS is reached
 * through an HTTP proxy, node:http (the agent's client there until run 17 for https, run 18
 * for http) against undici (createUpstreamDispatcher), and against a direct undici agent (no
 * proxy) as the yardstick:
 * - an https VCS (HTTPS_PROXY): CONNECT tunnels, https-proxy-agent against undici;
 * - an http VCS (HTTP_PROXY): absolute-form requests, http-proxy-agent against undici.
 * A real squid relays both; the VCS is an https and an http server in their own process, so
 * the CPU measured in this process is the client's alone.
 *
 * Each client sends BENCH_PROXY_REQUESTS (20,000) small GETs, BENCH_PROXY_CONCURRENCY (16) at
 * a time over as many kept-alive connections, after 2,000 to warm up; the clients take turns
 * for BENCH_PROXY_ROUNDS (3) rounds. Needs squid (apt-get install -y squid).
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Agent, type Dispatcher } from 'undici';
import { createUpstreamAgent, createUpstreamDispatcher } from '../lib/proxy/index.js';
import { squidMissingReason, startSquid } from '../spec/helpers/squid.js';
import { tlsFixtures } from '../spec/helpers/tls-fixtures.js';

const REQUESTS = Number(process.env.BENCH_PROXY_REQUESTS ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_PROXY_CONCURRENCY ?? 16);
const ROUNDS = Number(process.env.BENCH_PROXY_ROUNDS ?? 3);
const VCS_HOST = 'vcs.test';

if (process.argv[2] === 'vcs') {
  // The VCS: answers every request with a small JSON body, like an API call.
  const body = JSON.stringify({ id: 1, path_with_namespace: 'bench/repo', default_branch: 'main' });
  const answer = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  };
  const secure = https.createServer({ key: process.env.VCS_KEY, cert: process.env.VCS_CERT, keepAliveTimeout: 60_000 }, answer);
  const plain = http.createServer({ keepAliveTimeout: 60_000 }, answer);
  const listening = [secure, plain].map((server) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))));
  void Promise.all(listening).then((ports) => process.send?.(ports));
} else {
  await main();
}

type Send = () => Promise<void>;

async function main(): Promise<void> {
  const missing = squidMissingReason();
  if (missing !== undefined) {
    process.stderr.write(`bench:proxy needs squid: ${missing}\n`);
    process.exitCode = 1;
    return;
  }
  const tls = tlsFixtures();
  const vcs = fork(new URL(import.meta.url).pathname, ['vcs'], { env: { ...process.env, VCS_KEY: tls.key, VCS_CERT: tls.cert }, execArgv: ['--import', 'tsx'] });
  const squid = await startSquid({ hosts: [VCS_HOST] });
  try {
    const [[port, plainPort]] = (await once(vcs, 'message')) as [[number, number]];
    if (squid === null) throw new Error('squid did not start');
    const target = new URL(`https://${VCS_HOST}:${port}`);
    const plainTarget = new URL(`http://${VCS_HOST}:${plainPort}`);
    const path = '/api/v4/projects/bench%2Frepo';

    const nodeHttp = createUpstreamAgent(target, { proxy: squid.url, maxSockets: CONCURRENCY, tls: { ca: tls.ca } }).agent;
    const viaNodeHttp: Send = () =>
      new Promise((resolve, reject) => {
        const request = https.request({ agent: nodeHttp, hostname: VCS_HOST, port, path, method: 'GET' }, (response) => {
          response.resume();
          response.on('end', () => (response.statusCode === 200 ? resolve() : reject(new Error(`status ${response.statusCode}`))));
        });
        request.on('error', reject);
        request.end();
      });
    const nodeHttpPlain = createUpstreamAgent(plainTarget, { proxy: squid.url, maxSockets: CONCURRENCY }).agent;
    const viaNodeHttpPlain: Send = () =>
      new Promise((resolve, reject) => {
        const request = http.request({ agent: nodeHttpPlain, hostname: VCS_HOST, port: plainPort, path, method: 'GET' }, (response) => {
          response.resume();
          response.on('end', () => (response.statusCode === 200 ? resolve() : reject(new Error(`status ${response.statusCode}`))));
        });
        request.on('error', reject);
        request.end();
      });
    const undiciAbsolute = createUpstreamDispatcher(plainTarget, { proxy: squid.url, connections: CONCURRENCY }).dispatcher;
    const undiciTunnels = createUpstreamDispatcher(target, { proxy: squid.url, connections: CONCURRENCY, tls: { ca: tls.ca } }).dispatcher;
    // The yardstick: no proxy at all (the VCS name resolved to loopback by hand).
    const loopback = { lookup: (_host: string, _options: unknown, callback: (error: null, addresses: Array<{ address: string; family: number }>) => void) => callback(null, [{ address: '127.0.0.1', family: 4 }]) };
    const direct = new Agent({ connections: CONCURRENCY, connect: { ca: tls.ca, servername: VCS_HOST, ...loopback } });
    const directPlain = new Agent({ connections: CONCURRENCY, connect: loopback });
    const viaUndici = (dispatcher: Dispatcher, origin = target.origin): Send => async () => {
      const response = await dispatcher.request({ origin, path, method: 'GET' });
      await response.body.dump();
      if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`);
    };
    const clients: Array<[string, Send]> = [
      ['node:http via squid (https-proxy-agent)', viaNodeHttp],
      ['undici via squid (createUpstreamDispatcher)', viaUndici(undiciTunnels)],
      ['undici direct (no proxy)', viaUndici(direct)],
      ['http VCS: node:http via squid (http-proxy-agent)', viaNodeHttpPlain],
      ['http VCS: undici via squid, absolute form (createUpstreamDispatcher)', viaUndici(undiciAbsolute, plainTarget.origin)],
      ['http VCS: undici direct (no proxy)', viaUndici(directPlain, plainTarget.origin)],
    ];
    const results = new Map<string, Array<{ usPerRequest: number; perSecond: number }>>();
    for (const [, send] of clients) await run(send, 2_000);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, send] of clients) {
        const result = await run(send, REQUESTS);
        results.set(name, [...(results.get(name) ?? []), result]);
        process.stderr.write(`bench:proxy round ${round + 1}: ${name}: ${result.usPerRequest.toFixed(1)} µs CPU per request, ${result.perSecond.toFixed(0)} requests/s\n`);
      }
    }
    console.log(`\n| client (${REQUESTS} small GETs, ${CONCURRENCY} at a time, ${ROUNDS} rounds) | client CPU per request (µs) | requests/s |`);
    console.log('|---|---:|---:|');
    for (const [name, runs] of results) {
      const range = (values: number[], digits: number): string => `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;
      console.log(`| ${name} | ${range(runs.map((r) => r.usPerRequest), 1)} | ${range(runs.map((r) => r.perSecond), 0)} |`);
    }
    nodeHttp.destroy();
    nodeHttpPlain.destroy();
    await Promise.all([undiciTunnels.destroy(), undiciAbsolute.destroy(), direct.destroy(), directPlain.destroy()]);
  } finally {
    vcs.kill();
    await squid?.stop();
  }
}

/** `count` requests, CONCURRENCY at a time: CPU this process spent per request, and requests/s. */
async function run(send: Send, count: number): Promise<{ usPerRequest: number; perSecond: number }> {
  let left = count;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (left > 0) {
      left--;
      await send();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { usPerRequest: (used.user + used.system) / count, perSecond: count / seconds };
}
