import { expect } from 'chai';
import { PassThrough, Writable } from 'node:stream';
import { createCliLogger } from '../../cli/create-logger.js';
import { waitFor } from '../helpers/wait-for.js';

function capture(): { stream: PassThrough; text(): string; writes(): number } {
  const stream = new PassThrough();
  let text = '';
  let writes = 0;
  stream.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk;
    writes++;
  });
  return { stream, text: () => text, writes: () => writes };
}

describe('createCliLogger', function () {
  it('writes one JSON object per line, escaping control characters, at the chosen level', async function () {
    const out = capture();
    const logger = createCliLogger({ format: 'json', level: 'info', stream: out.stream });
    logger.info('connected to gateway', { streams: 4, path: '/a\nforged' });
    logger.debug('hidden at info');
    await logger.close();
    const lines = out.text().trim().split('\n');
    expect(lines).to.have.length(1);
    const line = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(line).to.include({ level: 'info', message: 'connected to gateway', streams: 4, path: '/a\nforged' });
    expect(line.timestamp).to.be.a('string');
  });

  it('writes readable lines with --log-format pretty, control characters escaped', async function () {
    const out = capture();
    const logger = createCliLogger({ format: 'pretty', level: 'debug', stream: out.stream });
    logger.debug('request', { path: '/a\nforged', status: 200 });
    await logger.close();
    expect(out.text()).to.match(/^\d{4}-\d\d-\d\dT[\d:.]+Z debug request path=\/a\\u000aforged status=200\n$/);
  });

  it('keeps every field of a line whose message holds printf tokens (a request path with %d, %s, %j)', async function () {
    const out = capture();
    const logger = createCliLogger({ format: 'json', level: 'info', stream: out.stream });
    logger.info('GET /api/v4/projects/a%d%s%j%% deny 403', { id: 'r1', decision: 'deny', status: 403 });
    await logger.close();
    const line = JSON.parse(out.text()) as Record<string, unknown>;
    expect(line).to.include({ message: 'GET /api/v4/projects/a%d%s%j%% deny 403', id: 'r1', decision: 'deny', status: 403 });
  });

  it('writes a line whose fields come as JSON text (the access log\'s records) as the same line info() writes', async function () {
    const out = capture();
    const logger = createCliLogger({ format: 'json', level: 'info', stream: out.stream });
    logger.infoJson('access', '{"requestId":"r1","status":200,"path":"/a\\nb"}\n');
    logger.infoJson('access', '{}');
    logger.info('access', { requestId: 'r1', status: 200, path: '/a\nb' });
    await logger.close();
    const [spliced, empty, plain] = out.text().trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(spliced).to.include({ level: 'info', message: 'access', requestId: 'r1', status: 200, path: '/a\nb' });
    expect(Object.keys(spliced as object)).to.deep.equal(Object.keys(plain as object));
    expect(empty).to.have.all.keys('timestamp', 'level', 'message');
  });

  it('writes JSON-text fields readably with --log-format pretty, and drops them below the chosen level', async function () {
    const pretty = capture();
    const readable = createCliLogger({ format: 'pretty', level: 'info', stream: pretty.stream });
    readable.infoJson('access', '{"status":403,"path":"/x"}\n');
    await readable.close();
    expect(pretty.text()).to.match(/^\d{4}-\d\d-\d\dT[\d:.]+Z info  access status=403 path=\/x\n$/);
    const quiet = capture();
    const warnOnly = createCliLogger({ format: 'json', level: 'warn', stream: quiet.stream });
    warnOnly.infoJson('access', '{"status":200}');
    warnOnly.warn('kept');
    await warnOnly.close();
    expect(quiet.text().trim().split('\n').map((line) => (JSON.parse(line) as { message: string }).message)).to.deep.equal(['kept']);
  });

  it('never lets fields replace the line\'s own timestamp, level and message', async function () {
    const out = capture();
    const logger = createCliLogger({ format: 'json', level: 'info', stream: out.stream });
    logger.info('real', { level: 'error', message: 'forged', timestamp: 'then', other: 1 });
    await logger.close();
    const line = JSON.parse(out.text()) as Record<string, unknown>;
    expect(line).to.include({ level: 'info', message: 'real', other: 1 });
    expect(line.timestamp).to.match(/^\d{4}-/);
  });

  it('writes the lines of a turn after a quiet spell in that turn, after its I/O, and a burst after it as one write soon after', async function () {
    const writes: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        writes.push(chunk.toString('utf8'));
        callback();
      },
    });
    const logger = createCliLogger({ format: 'json', level: 'info', stream });
    for (let i = 0; i < 50; i++) logger.info('request', { i });
    // Not synchronously: the agent logs as a response completes, and the response's HTTP/2
    // frame (sent from Node's own immediate queue) must not wait for the stdout write.
    expect(writes, 'nothing written inside the logging call').to.have.length(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes, 'the quiet spell\'s lines, as one write in the same turn').to.have.length(1);
    for (let i = 50; i < 100; i++) logger.info('request', { i });
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes, 'the burst right after waits for company').to.have.length(1);
    await waitFor(() => writes.length === 2, 2_000, 'the batched lines');
    const all = writes.join('').trim().split('\n').map((line) => (JSON.parse(line) as { i: number }).i);
    expect(all).to.deep.equal([...Array(100).keys()]);
    expect(writes[0]?.trim().split('\n')).to.have.length(50);
    await logger.close();
  });

  it('drops lines logged after close() instead of throwing "write after end"', async function () {
    const out = capture();
    const logger = createCliLogger({ format: 'json', level: 'info', stream: out.stream });
    await logger.close();
    expect(() => logger.error('late line from a socket winding down')).to.not.throw();
    await logger.close();
    expect(out.text()).to.equal('');
  });
});
