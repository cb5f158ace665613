import { expect } from 'chai';
import { checkRequestFraming } from '../../lib/agent/request-framing.js';

describe('request framing forwarded to the VCS', () => {
  const cases: Array<[string, string, boolean, string[], number | undefined]> = [
    ['a GET without body', 'GET', false, [], undefined],
    ['a GET without body, Content-Length 0', 'GET', false, ['content-length', '0'], undefined],
    ['a POST with a length', 'POST', true, ['Content-Length', '12'], undefined],
    ['a chunked POST (Node chunks it)', 'POST', true, [], undefined],
    ['a GET with an unframed body', 'GET', true, [], 411],
    ['a DELETE with an unframed body', 'DELETE', true, [], 411],
    ['two Content-Lengths', 'POST', true, ['content-length', '1', 'content-length', '1'], 400],
    ['a non-decimal length', 'POST', true, ['content-length', '0x10'], 400],
    ['a length without a body', 'GET', false, ['content-length', '40'], 400],
    ['a Transfer-Encoding header', 'POST', true, ['transfer-encoding', 'chunked'], 400],
    // Issue 13: one check read the first Content-Type, another the last, and both were forwarded.
    ['two Content-Types', 'POST', true, ['Content-Type', 'application/json', 'content-type', 'application/x-www-form-urlencoded'], 400],
    ['two Hosts', 'GET', false, ['host', 'a', 'Host', 'b'], 400],
    ['two Authorizations', 'GET', false, ['authorization', 'Bearer a', 'authorization', 'Bearer b'], 400],
    ['two Private-Tokens', 'GET', false, ['private-token', 'a', 'private-token', 'b'], 400],
    ['two Accepts (a list header)', 'GET', false, ['accept', 'a/b', 'accept', 'c/d'], undefined],
  ];
  for (const [name, method, hasBody, headers, status] of cases) {
    it(`${status === undefined ? 'accepts' : `answers ${status} to`} ${name}`, () => {
      expect(checkRequestFraming(method, hasBody, headers)?.status).to.equal(status);
    });
  }
});
