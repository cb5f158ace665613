import { expect } from 'chai';
import { escapeLogValue, MAX_LOGGED_PATH, redactPathForLog } from '../../lib/policy/log-sanitize.js';

describe('escapeLogValue', function () {
  it('returns plain text unchanged', function () {
    expect(escapeLogValue('GET /api/v4/projects/g%2Fr café')).to.equal('GET /api/v4/projects/g%2Fr café');
  });

  it('escapes line breaks, controls, C1, separators and bidi controls', function () {
    expect(escapeLogValue('a\nb\r\tc')).to.equal('a\\nb\\r\\tc');
    expect(escapeLogValue('\u0000\u001b[31m\u007f\u0085')).to.equal('\\x00\\x1b[31m\\x7f\\x85');
    expect(escapeLogValue('x\u2028y\u202ez')).to.equal('x\\u2028y\\u202ez');
  });

  it('doubles backslashes so an escape cannot be forged', function () {
    expect(escapeLogValue('\\n')).to.equal('\\\\n');
    expect(escapeLogValue('\\n')).to.not.equal(escapeLogValue('\n'));
  });

  it('never leaves a control character in its output', function () {
    let all = '';
    for (let c = 0; c < 0x3000; c++) all += String.fromCharCode(c);
    expect(escapeLogValue(all)).to.not.match(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
  });
});

describe('redactPathForLog', function () {
  it('redacts secret query parameters and keeps the rest', function () {
    expect(redactPathForLog('/api/v4/user?private_token=glpat-abc&per_page=5')).to.equal('/api/v4/user?private_token=[REDACTED]&per_page=5');
    expect(redactPathForLog('/x?access_token=a&token=b&sig=c&signature=d&X-Amz-Signature=e')).to.equal(
      '/x?access_token=[REDACTED]&token=[REDACTED]&sig=[REDACTED]&signature=[REDACTED]&X-Amz-Signature=[REDACTED]',
    );
  });

  it('redacts encoded names, look-alike names and parameters after ; or #', function () {
    const out = redactPathForLog('/x;jsessionid=s1?private%5Ftoken=t1&my_api_key=t2&client_secret=t3#access_token=t4');
    for (const secret of ['s1', 't1', 't2', 't3', 't4']) expect(out).to.not.include(secret);
    expect(out).to.include('/x;jsessionid=[REDACTED]');
  });

  it('leaves paths without a query alone and cuts over-long ones', function () {
    expect(redactPathForLog('/api/v4/projects/g%2Fr')).to.equal('/api/v4/projects/g%2Fr');
    const long = redactPathForLog(`/x?token=${'s'.repeat(5000)}`);
    expect(long.length).to.be.lessThan(MAX_LOGGED_PATH + 40);
    expect(long).to.not.include('sss');
  });
});

describe('log redaction of credentials inside values', () => {
  it('masks URL user-info in query values, plain and percent-encoded', async () => {
    const { redactPathForLog } = await import('../../lib/policy/log-sanitize.js');
    expect(redactPathForLog('/x?url=https://user:PASS14@host/')).to.not.include('PASS14');
    expect(redactPathForLog('/x?url=https%3A%2F%2Fuser%3APASS15%40host%2F')).to.not.include('PASS15');
    expect(redactPathForLog('/x?url=https://host/plain')).to.equal('/x?url=https://host/plain');
  });
});
