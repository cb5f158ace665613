import { expect } from 'chai';
import { InvalidTokenError } from '../../lib/errors.js';
import { decodePoolToken, encodePoolToken } from '../../lib/protocol/token.js';

const valid = { host: 'https://gateway.example.com', key: 'k3y', pool_ulid: '01J0000000000000000000000A' };
const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64');

describe('pool configuration token', () => {
  it('round-trips', () => {
    expect(decodePoolToken(encodePoolToken(valid))).to.deep.equal(valid);
  });

  it('is base64 of exactly {host, key, pool_ulid}', () => {
    expect(JSON.parse(Buffer.from(encodePoolToken(valid), 'base64').toString())).to.deep.equal(valid);
  });

  const cases: Array<[string, string, string, RegExp]> = [
    ['empty', '', 'token', /empty/],
    ['not base64', 'not base64!', 'token', /not base64/],
    ['not JSON', b64('hello'), 'token', /not base64 of JSON/],
    ['an array', b64([1]), 'token', /not a JSON object/],
    ['no host', b64({ ...valid, host: undefined }), 'host', /no "host"/],
    ['no key', b64({ ...valid, key: '' }), 'key', /no "key"/],
    ['no pool_ulid', b64({ ...valid, pool_ulid: undefined }), 'pool_ulid', /no "pool_ulid"/],
    ['a host that is not a URL', b64({ ...valid, host: 'gateway' }), 'host', /not a URL/],
    ['a ftp host', b64({ ...valid, host: 'ftp://gateway' }), 'host', /scheme ftp:/],
    ['a host with credentials', b64({ ...valid, host: 'https://u:p@gateway' }), 'host', /credentials/],
    ['a pool_ulid that is not a ULID', b64({ ...valid, pool_ulid: 'pool-1' }), 'pool_ulid', /not a ULID/],
  ];
  for (const [name, token, field, message] of cases) {
    it(`rejects ${name}, naming the field "${field}"`, () => {
      try {
        decodePoolToken(token);
        expect.fail('should have thrown');
      } catch (error) {
        expect(error).to.be.instanceOf(InvalidTokenError);
        expect((error as InvalidTokenError).field).to.equal(field);
        expect((error as Error).message).to.match(message);
        expect((error as Error).message).to.not.include('k3y');
      }
    });
  }
});
