import { expect } from 'chai';
import { mkdtemp } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runGateway } from './cli-harness.js';

/** Trickles request headers a byte every 20 ms; resolves with what the front door sent before it closed. */
function trickleHeaders(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the front door kept a header-trickling connection open (read ${JSON.stringify(got)})`));
    }, 10_000);
    const head = `GET /pool/x HTTP/1.1\r\nHost: a\r\nX-Slow: ${'y'.repeat(500)}\r\n\r\n`;
    let i = 0;
    const writer = setInterval(() => {
      if (i < head.length && socket.writable) socket.write(head[i++] as string);
    }, 20);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      got += chunk;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(writer);
      clearTimeout(timer);
      resolve(got);
    });
  });
}

describe('vcs-gateway serve: front-door bounds on slow callers (spawned CLI)', function () {
  this.timeout(60_000);

  it('--front-door-headers-timeout answers a header-trickling caller with 408 VCS_HEADERS_TIMEOUT and closes', async () => {
    const store = join(await mkdtemp(join(tmpdir(), 'fd-timeouts-')), 'pools.json');
    const result = await runGateway(
      ['serve', '--store', store, '--listen', '127.0.0.1:0', '--front-door', '127.0.0.1:0', '--front-door-headers-timeout', '0.3', '--front-door-request-timeout', '5', '--shutdown-grace', '1'],
      (line) => {
        if (line.message !== 'front door listening') return undefined;
        return trickleHeaders(Number(String(line.address).split(':').pop()));
      },
    );
    expect(result.waited, result.stderr).to.be.a('string');
    const answer = result.waited as string;
    expect(answer).to.match(/^HTTP\/1\.1 408 /);
    expect(answer).to.match(/vcs-gateway-error: VCS_HEADERS_TIMEOUT/);
    expect(answer).to.include('within 300 ms');
    expect(result.code).to.equal(0);
  });

  it('refuses bad bound flags with exit code 2, naming the flag', async () => {
    const bad = async (flags: string[]): Promise<{ code: number | null; stderr: string }> => {
      const store = join(await mkdtemp(join(tmpdir(), 'fd-timeouts-')), 'pools.json');
      return runGateway(['serve', '--store', store, '--listen', '127.0.0.1:0', '--front-door', '127.0.0.1:0', ...flags]);
    };
    const results = await Promise.all([
      bad(['--front-door-headers-timeout', '0']),
      bad(['--front-door-body-idle-timeout', '-1']),
      bad(['--front-door-request-timeout', 'soon']),
      bad(['--front-door-headers-timeout', '60', '--front-door-request-timeout', '30']),
      bad(['--front-door-body-idle-timeout', '0.0001']),
    ]);
    expect(results.map((r) => r.code)).to.deep.equal([2, 2, 2, 2, 2]);
    expect(results[0]?.stderr).to.include('Invalid --front-door-headers-timeout: expected a positive number of seconds');
    expect(results[1]?.stderr).to.include('Invalid --front-door-body-idle-timeout: expected a non-negative number of seconds');
    expect(results[2]?.stderr).to.include('Invalid --front-door-request-timeout');
    expect(results[3]?.stderr).to.include('Invalid --front-door-headers-timeout: longer than --front-door-request-timeout');
    expect(results[4]?.stderr).to.include('Invalid --front-door-body-idle-timeout: expected 0 (off) or at least 0.001 seconds');
    for (const result of results) expect(result.stderr).to.not.match(/\n\s+at /);
  });
});
