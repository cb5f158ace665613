import { expect } from 'chai';
import { InvalidRequestUrlError } from '../../lib/errors.js';
import { parsePrivateUrl } from '../../lib/gateway/private-url.js';

describe('private:// URLs', () => {
  it('splits pool and path without decoding or normalising anything', () => {
    expect(parsePrivateUrl('private://pool/api/v4/projects/a%2Fb?x=1')).to.deep.equal({ pool: 'pool', path: '/api/v4/projects/a%2Fb?x=1' });
    expect(parsePrivateUrl('private://pool/a/../b//c/%2e%2e')).to.deep.equal({ pool: 'pool', path: '/a/../b//c/%2e%2e' });
    expect(parsePrivateUrl('private://pool')).to.deep.equal({ pool: 'pool', path: '/' });
    expect(parsePrivateUrl('private://pool?x')).to.deep.equal({ pool: 'pool', path: '/?x' });
  });

  it('rejects anything else', () => {
    for (const bad of ['https://pool/x', 'private:///x', 'private://Pool/x', 'private://po_ol/x', 'private://user@pool/x']) {
      expect(() => parsePrivateUrl(bad), bad).to.throw(InvalidRequestUrlError);
    }
  });
});
