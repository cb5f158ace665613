import { expect } from 'chai';
import { createDebugPrinter, isDebugSecretHeader, redactBodyText } from '../../lib/agent/debug-printer.js';
import { InvalidOptionError } from '../../lib/errors.js';
import { startHarness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';

function printer(maxBodyBytes?: number): { lines: string[]; print: ReturnType<typeof createDebugPrinter> } {
  const lines: string[] = [];
  return { lines, print: createDebugPrinter({ write: (line) => lines.push(line), ...(maxBodyBytes === undefined ? {} : { maxBodyBytes }) }) };
}

describe('createDebugPrinter (--debug-print-all)', function () {
  it('prints the request line, headers and body, then the response, prefixed with the exchange id', function () {
    const { lines, print } = printer();
    print({ type: 'request', id: 'r1', method: 'POST', path: '/api/v4/projects/1/statuses/abc', headers: ['content-type', 'application/json', 'x-request-id', 'abc-1'] });
    print({ type: 'upstream-request', id: 'r1', method: 'POST', url: 'https://gitlab.internal/api/v4/projects/1/statuses/abc', headers: ['host', 'gitlab.internal'] });
    print({ type: 'request-body', id: 'r1', chunk: Buffer.from('{"state":"success",') });
    print({ type: 'request-body', id: 'r1', chunk: Buffer.from('"name":"ci"}') });
    print({ type: 'response', id: 'r1', status: 201, headers: ['content-type', 'application/json'] });
    print({ type: 'response-body', id: 'r1', chunk: Buffer.from('{"id":7}') });
    print({ type: 'end', id: 'r1', status: 201 });
    expect(lines).to.deep.equal([
      '[r1] > POST /api/v4/projects/1/statuses/abc',
      '[r1] > content-type: application/json',
      '[r1] > x-request-id: abc-1',
      '[r1] >> POST https://gitlab.internal/api/v4/projects/1/statuses/abc',
      '[r1] >> host: gitlab.internal',
      '[r1] > request body (31 bytes): {"state":"success","name":"ci"}',
      '[r1] < 201',
      '[r1] < content-type: application/json',
      '[r1] < response body (8 bytes): {"id":7}',
      '[r1] end status=201',
    ]);
  });

  it('redacts credential headers, token query parameters and secrets in bodies', function () {
    const { lines, print } = printer();
    const secrets = ['glpat-AAA', 'Bearer-BBB', 'job-CCC', 'sess-DDD', 'proxy-EEE', 'xtok-FFF', 'apikey-GGG', 'qtoken-HHH', 'setcookie-III', 'pw-JJJ', 'body-KKK', 'form-LLL', 'user:pass-MMM'];
    print({
      type: 'request',
      id: 'r2',
      method: 'GET',
      path: '/api/v4/projects?private_token=qtoken-HHH&access_token=glpat-AAA&page=2',
      headers: [
        'Authorization', 'Bearer Bearer-BBB',
        'Private-Token', 'glpat-AAA',
        'Job-Token', 'job-CCC',
        'Cookie', 'session=sess-DDD',
        'Proxy-Authorization', 'Basic proxy-EEE',
        'X-Gitlab-Token', 'xtok-FFF',
        'X-Api-Key', 'apikey-GGG',
        'X-Client-Password', 'pw-JJJ',
        'Accept', 'application/json',
      ],
    });
    print({ type: 'upstream-request', id: 'r2', method: 'GET', url: 'https://user:pass-MMM@gitlab.internal/api?token=qtoken-HHH', headers: [] });
    print({ type: 'request-body', id: 'r2', chunk: Buffer.from('{"token":"body-KKK","name":"ok"} grant=x&client_secret=form-LLL') });
    print({ type: 'response', id: 'r2', status: 200, headers: ['Set-Cookie', 'sid=setcookie-III; HttpOnly', 'Location', '/next?sig=qtoken-HHH'] });
    print({ type: 'end', id: 'r2', status: 200 });
    const text = lines.join('\n');
    for (const secret of secrets) expect(text, secret).to.not.include(secret);
    expect(lines).to.include('[r2] > GET /api/v4/projects?private_token=[REDACTED]&access_token=[REDACTED]&page=2');
    expect(lines).to.include('[r2] > Authorization: [REDACTED]');
    expect(lines).to.include('[r2] > Accept: application/json');
    expect(lines).to.include('[r2] < Set-Cookie: [REDACTED]');
    expect(lines).to.include('[r2] < Location: /next?sig=[REDACTED]');
    expect(text).to.include('"name":"ok"');
  });

  it('keeps at most maxBodyBytes of each body and says how much there was', function () {
    const { lines, print } = printer(10);
    print({ type: 'request', id: 'r3', method: 'GET', path: '/archive', headers: [] });
    print({ type: 'response', id: 'r3', status: 200, headers: [] });
    for (let i = 0; i < 100; i++) print({ type: 'response-body', id: 'r3', chunk: Buffer.alloc(1000, 'a') });
    print({ type: 'end', id: 'r3', status: 200 });
    expect(lines).to.include('[r3] < response body (first 10 of 100000 bytes): aaaaaaaaaa');
  });

  it('escapes control characters so output cannot forge lines, and reports errors', function () {
    const { lines, print } = printer();
    print({ type: 'request', id: 'r4\nforged', method: 'GET', path: '/a\r\nX-Forged: 1', headers: ['x-note', 'line1\nline2'] });
    print({ type: 'request-body', id: 'r4\nforged', chunk: Buffer.from('a\u001b[31mred') });
    print({ type: 'end', id: 'r4\nforged', status: 502, error: 'upstream\nreset' });
    for (const line of lines) expect(line).to.not.match(/[\r\n\u001b]/);
    expect(lines.at(-1)).to.equal('[r4\\nforged] end status=502 error=upstream\\nreset');
    expect(lines).to.include('[r4\\nforged] > request body (9 bytes): a\\x1b[31mred');
  });

  it('classifies header names and body fragments', function () {
    for (const name of ['authorization', 'Private-Token', 'job-token', 'cookie', 'set-cookie', 'proxy-authorization', 'x-auth-user', 'x-api-key', 'x-secret', 'x-password']) {
      expect(isDebugSecretHeader(name), name).to.equal(true);
    }
    for (const name of ['accept', 'content-type', 'user-agent', 'x-request-id', 'keep-alive']) expect(isDebugSecretHeader(name), name).to.equal(false);
    // A complete JSON body is printed re-serialised (compact).
    expect(redactBodyText('{"access_token": "abc", "n": 1}')).to.equal('{"access_token":"[REDACTED]","n":1}');
    expect(redactBodyText('{"access_token": "abc", "n": 1')).to.equal('{"access_token": "[REDACTED]", "n": 1');
    expect(redactBodyText('a=1&password=hunter2&b=2')).to.equal('a=1&password=[REDACTED]&b=2');
  });

  it('rejects bad options', function () {
    expect(() => createDebugPrinter({ write: undefined as unknown as (line: string) => void })).to.throw(InvalidOptionError);
    expect(() => createDebugPrinter({ write: () => {}, maxBodyBytes: -1 })).to.throw(InvalidOptionError, /maxBodyBytes/);
  });

  it('is fed by a real TunnelClient (onDebug) and never prints the credentials of a request', async function () {
    const lines: string[] = [];
    const harness = await startHarness({ policy: testPolicy, client: { onDebug: createDebugPrinter({ write: (line) => lines.push(line) }) } });
    try {
      const response = await harness.request('/allowed/items?private_token=glpat-secret-query', {
        method: 'POST',
        headers: { 'private-token': 'glpat-secret-header', 'content-type': 'application/json' },
        body: JSON.stringify({ password: 'pw-secret-body', title: 'hello' }),
      });
      expect(response.status).to.equal(200);
      const text = lines.join('\n');
      expect(text).to.match(/\] > POST \/allowed\/items\?private_token=\[REDACTED\]/);
      expect(text).to.match(/\] > private-token: \[REDACTED\]/);
      expect(text).to.match(/\] > request body \(\d+ bytes\): \{"password":"\[REDACTED\]","title":"hello"\}/);
      expect(text).to.match(/\] < 200/);
      expect(text).to.match(/\] end status=200/);
      for (const secret of ['glpat-secret-query', 'glpat-secret-header', 'pw-secret-body']) expect(text).to.not.include(secret);
    } finally {
      await harness.close();
    }
  });
});

describe('debug printer: secrets in truncated, numeric and free-form values', () => {
  function printed(events: Array<Parameters<ReturnType<typeof createDebugPrinter>>[0]>, maxBodyBytes = 4096): string {
    const lines: string[] = [];
    const print = createDebugPrinter({ write: (line) => lines.push(line), maxBodyBytes });
    for (const event of events) print(event);
    return lines.join('\n');
  }

  it('masks a secret member cut off by the excerpt limit, numbers, URL user-info and bearer values', () => {
    const body = Buffer.from(
      JSON.stringify({ url: 'https://u:PASSWORD_IN_URL@h/hook', httpHeaders: 'Authorization: Bearer HEADER_SECRET_123', private_token: 123456789, token: 'TOKENSECRET_TOKENSECRET' }),
    );
    const text = printed(
      [
        { type: 'request', id: 'a', method: 'POST', path: '/x', headers: [] },
        { type: 'request-body', id: 'a', chunk: body },
        { type: 'end', id: 'a', status: 200 },
      ],
      4096,
    );
    for (const secret of ['PASSWORD_IN_URL', 'HEADER_SECRET_123', '123456789', 'TOKENSECRET']) expect(text).to.not.include(secret);
    const cut = printed(
      [
        { type: 'request', id: 'b', method: 'POST', path: '/x', headers: [] },
        { type: 'request-body', id: 'b', chunk: Buffer.from('{"url":"https://h/","token":"TOKENSECRET_TOKENSECRET_TOKENSECRET"}') },
        { type: 'end', id: 'b', status: 200 },
      ],
      40,
    );
    expect(cut).to.not.include('TOKENSECRET');
  });

  it('masks secret query values in any header that carries a URL (Link)', () => {
    const text = printed([
      { type: 'request', id: 'c', method: 'GET', path: '/x', headers: [] },
      { type: 'response', id: 'c', status: 200, headers: ['link', '<https://gl.internal/api/v4/projects?page=2&private_token=SECRET_Q>; rel="next"'] },
      { type: 'end', id: 'c', status: 200 },
    ]);
    expect(text).to.not.include('SECRET_Q');
    expect(text).to.include('page=2');
  });
});

// Issue 13: these reached --debug-print-all output unmasked.
describe('debug printer: secrets under escaped, encoded or innocent names', () => {
  const tokens = {
    gitlab: 'glpat-AbCdEfGhIjKlMnOpQrSt',
    gitlabDeploy: 'gldt-AbCdEfGhIjKlMnOpQrSt12',
    github: 'ghp_0123456789abcdefghijABCDEFGHIJ012345',
    githubOauth: 'gho_0123456789abcdefghijABCDEFGHIJ012345',
    githubFine: 'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ',
    bitbucket: 'BBDC-NjM1NDQ0ODk4NTQ0OnV4dGtq1234567890abcdEF',
    bitbucketLegacy: 'NjM1NDQ0ODk4NTQ0OnV4dGtqZmZ4YWJjZGVmZ2hpams=',
    azure: 'abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst',
    jwt: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjaSJ9.c2lnbmF0dXJl',
  };

  it('masks JSON keys written with escapes, complete or cut', () => {
    for (const text of ['{"\\u0074oken":"s3cr3t-value"}', '{"\\u0074oken":"s3cr3t-value", "x": "y'] as const) {
      const out = redactBodyText(text);
      expect(out, text).to.not.include('s3cr3t-value');
    }
  });

  it('masks percent-encoded form names', () => {
    for (const text of ['a=1&%74oken=s3cr3t-value', 'pass%77ord=s3cr3t-value&b=2', 'x=1&private%5Ftoken=s3cr3t-value']) {
      expect(redactBodyText(text), text).to.not.include('s3cr3t-value');
    }
    expect(redactBodyText('a=1&b=2')).to.equal('a=1&b=2');
  });

  it('masks array and object values under a secret key, complete or cut', () => {
    for (const text of ['{"tokens":["s3cr3t-one","s3cr3t-two"]}', '{"tokens": ["s3cr3t-one", "s3cr3t-two"], "n": [1', '{"auth":{"user":"u","pass":"s3cr3t-one"}}']) {
      const out = redactBodyText(text);
      expect(out, text).to.not.include('s3cr3t');
    }
  });

  it('masks token-shaped values under innocent names, in bodies and headers', () => {
    for (const [kind, token] of Object.entries(tokens)) {
      for (const text of [JSON.stringify({ note: token }), `{"note":"${token}`, `comment=${token}&x=1`, `free text ${token} here`, `Bearer ${token}`]) {
        expect(redactBodyText(text), `${kind}: ${text}`).to.not.include(token);
      }
    }
    const lines: string[] = [];
    const print = createDebugPrinter({ write: (line) => lines.push(line) });
    print({ type: 'request', id: 'h', method: 'GET', path: '/x', headers: ['x-note', tokens.gitlab, 'x-other', `Bearer ${tokens.jwt}`] });
    print({ type: 'end', id: 'h', status: 200 });
    for (const token of [tokens.gitlab, tokens.jwt]) expect(lines.join('\n')).to.not.include(token);
    // Ordinary values stay readable: commit SHAs, words, numbers.
    const plain = '{"sha":"0123456789abcdef0123456789abcdef01234567","title":"fix the pipeline","n":12}';
    expect(redactBodyText(plain)).to.equal(plain);
  });
});
