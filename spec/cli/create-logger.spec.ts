import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { createCliLogger } from '../../cli/create-logger.js';

function capture(): { stream: PassThrough; text(): string } {
  const stream = new PassThrough();
  let text = '';
  stream.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk;
  });
  return { stream, text: () => text };
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

  it('drops lines logged after close() instead of throwing "write after end"', async function () {
    const out = capture();
    const logger = createCliLogger({ format: 'json', level: 'info', stream: out.stream });
    await logger.close();
    expect(() => logger.error('late line from a socket winding down')).to.not.throw();
    await logger.close();
    expect(out.text()).to.equal('');
  });
});
